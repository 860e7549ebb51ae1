package org.sparkdl.engine

import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.engine.Contract._
import org.sparkdl.jni.{NativeLib, NativeLoader}

/**
 * Each structure that crosses JNI, built on the JVM, read by the native side and written back
 * (`NativeLib.echoConfig`): equal to what was sent, field for field. A field renamed on one side
 * only fails here (the native side refuses unknown fields).
 */
class ContractSuite extends AnyFunSuite {

  private def roundTrip[T <: AnyRef: Manifest](kind: String, value: T): Unit = {
    NativeLoader.ensureLoaded()
    val echoed = NativeLib.echoConfig(kind, json(value))
    assert(parse[T](echoed) == value, s"$kind: sent ${json(value)}, read back $echoed")
  }

  test("init") {
    roundTrip("init", InitConfig(Some("info"), Some(2.5), 3))
    roundTrip("init", InitConfig(None, None, 0))
  }

  test("engine settings") {
    roundTrip("engine", EngineConfig())
    roundTrip("engine",
      EngineConfig(4, 2, threadSpinning = false, precision = "bf16",
        gpu = Some(GpuPlacement("0,3", 1, 3)), tensorflow = TensorFlowOptions(xlaJit = true, allowGrowth = false),
        onnx = OnnxOptions("basic", sessions = 3)))
  }

  test("load specs") {
    roundTrip("load", LoadSpec("graphdef", "abc"))
    roundTrip("load",
      LoadSpec("savedmodel", "k", dir = Some("/tmp/x"), tags = Seq("serve", "gpu"),
        config = EngineConfig(intraOpThreads = 2)))
    roundTrip("load", LoadSpec("onnx", "k", dir = Some("/tmp/m"), file = Some("model.onnx")))
  }

  test("run specs, every output format") {
    val image = ImageSpec("encoded", Some(224), Some(200), "BGR", "lanczos3", 0.5, Seq(0.25, 0.5, 1.0),
      Seq(2.0, 4.0, 0.5), "NCHW")
    roundTrip("run",
      RunSpec(
        Seq(InputSpec("image", "input", Some(image)), InputSpec("in1", "x:0")),
        Seq(OutputSpec("a", "a", OutputFormat.List), OutputSpec("b", "b", OutputFormat.Vector),
          OutputSpec("c", "c", OutputFormat.ImageData(3, swapRgb = true)),
          OutputSpec("d", "d", OutputFormat.TopK(5, Some(Seq("n01" -> "tench", "n02" -> "goldfish")))),
          OutputSpec("e", "e", OutputFormat.TopK(2, None))),
        batchSize = Some(16)))
    roundTrip("run", RunSpec(Seq(InputSpec("in0", "x")), Seq(OutputSpec("y", "y")), None))
  }

  test("decode options") {
    roundTrip("decode", DecodeConfig(1234L, applyOrientation = false))
  }

  test("a structure the native side does not know is refused") {
    NativeLoader.ensureLoaded()
    val err = intercept[IllegalArgumentException] {
      NativeLib.echoConfig("engine", """{"intraOpThreads":1,"intraThreads":2}""")
    }.getMessage
    assert(err.contains("intraThreads"), err)
  }
}
