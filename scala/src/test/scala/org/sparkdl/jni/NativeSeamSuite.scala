package org.sparkdl.jni

import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.Sparkdl

class NativeSeamSuite extends AnyFunSuite {

  test("the TensorFlow version comes back through JNI") {
    assert(Sparkdl.tensorflowVersion().startsWith("2."))
    assert(NativeLoader.ensureLoaded().contains("\"tensorflow\":\"2."))
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
}
