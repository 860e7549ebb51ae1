package org.sparkdl

import org.sparkdl.engine.{Backend, Engines}

/** Library-level facts, from Scala. */
object Sparkdl {

  /** The version of libtensorflow that sparkdl's native engine runs (loading it if needed). */
  def tensorflowVersion(): String = Engines.ensure(Backend.TensorFlow)

  /** The version of ONNX Runtime that sparkdl's native engine runs (loading it if needed). */
  def onnxRuntimeVersion(): String = Engines.ensure(Backend.Onnx)
}
