package org.sparkdl.jni

import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.Sparkdl

class NativeSeamSuite extends AnyFunSuite {

  test("the runtimes' versions come back through JNI, each loaded only when asked for") {
    assert(NativeLoader.ensureLoaded().contains("\"native\":\""))
    assert(Sparkdl.tensorflowVersion().startsWith("2."))
    assert(NativeLib.backendVersion("tensorflow") == Sparkdl.tensorflowVersion())
    assert(Sparkdl.onnxRuntimeVersion().startsWith("1."))
    val unknown = intercept[IllegalArgumentException](NativeLib.backendVersion("torch")).getMessage
    assert(unknown.contains("tensorflow, onnx"), unknown)
  }

  test("a native error becomes a Java exception carrying the reason") {
    NativeLoader.ensureLoaded()
    val e = intercept[IllegalArgumentException](NativeLib.failForTest("error"))
    assert(e.getMessage == "deliberate error requested by failForTest")
    val unknown = intercept[IllegalArgumentException](NativeLib.failForTest("bogus"))
    assert(unknown.getMessage.contains("unknown kind 'bogus'"))
  }

  test("a native panic becomes a NativeException, and the library keeps working") {
    NativeLoader.ensureLoaded()
    val e = intercept[NativeException](NativeLib.failForTest("panic"))
    assert(e.getMessage.contains("deliberate panic requested by failForTest"))
    assert(e.getMessage.contains("jni_api.rs"), "the message says where it panicked")
    assert(Sparkdl.tensorflowVersion().startsWith("2."))
  }

  test("bad Arrow addresses are refused, not dereferenced") {
    NativeLoader.ensureLoaded()
    val e = intercept[IllegalArgumentException](NativeLib.decodeImages(0L, 0L, 0L, 0L, "{}"))
    assert(e.getMessage.contains("null ArrowArray"))
  }

  test("a platform without a native library is named in the error") {
    val e = intercept[NativeException](NativeLoader.extract("plan9-mips"))
    assert(e.getMessage.contains("no native library for the platform 'plan9-mips'"))
    assert(NativeLoader.platform == "linux-x86_64")
  }

  test("asking a Python that hangs where a package is gives up after the timeout") {
    val hang = java.nio.file.Files.createTempFile("sparkdl-hanging-python-", ".sh")
    java.nio.file.Files.writeString(hang, "#!/bin/sh\nsleep 600\n")
    hang.toFile.setExecutable(true)
    val start = System.nanoTime()
    assert(NativeLoader.packageDirOfPython(hang.toString, "numpy", timeoutSeconds = 1).isEmpty)
    val seconds = (System.nanoTime() - start) / 1e9
    assert(seconds < 60, s"the timeout did not fire: $seconds s") // far from 600 s whatever the machine
    // A Python that answers still does.
    val python = sys.env.getOrElse("PYSPARK_PYTHON", "python3")
    assert(NativeLoader.packageDirOfPython(python, "numpy").exists(_.endsWith("numpy")))
  }
}
