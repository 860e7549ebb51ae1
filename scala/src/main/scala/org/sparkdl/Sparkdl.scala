package org.sparkdl

import org.sparkdl.jni.{NativeLib, NativeLoader}

/** Library-level facts, from Scala. */
object Sparkdl {

  /** The version of libtensorflow that sparkdl's native engine runs, read through JNI. */
  def tensorflowVersion(): String = {
    NativeLoader.ensureLoaded()
    NativeLib.tensorflowVersion()
  }
}
