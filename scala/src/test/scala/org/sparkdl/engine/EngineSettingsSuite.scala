package org.sparkdl.engine

import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SparkdlConf
import org.sparkdl.engine.Contract.{EngineConfig, GpuPlacement, OnnxOptions, TensorFlowOptions}

class EngineSettingsSuite extends AnyFunSuite {

  private def conf(kv: (String, String)*) = Some(new SparkConf(false).setAll(kv))
  private val available = Runtime.getRuntime.availableProcessors()
  private def config(c: Option[SparkConf], gpus: Seq[String] = Nil, precision: String = "float32") =
    EngineSettings.config(c, gpus, precision)

  test("both pools get the executor's cores; confs override them, old TensorFlow names too; GPUs from the task") {
    val n = math.min(2, available)
    assert(config(conf("spark.master" -> s"local[$n]")) == EngineConfig(n, n, onnx = OnnxOptions(sessions = n)))
    // A task with GPUs 3 and 0: every GPU visible (one list for the whole process), its work on GPU 3.
    assert(config(conf("spark.executor.cores" -> "1"), Seq("3", "0")).gpu.contains(GpuPlacement("", 3, 3)))
    val tuned = conf("spark.master" -> "local[1]", SparkdlConf.IntraOpThreads.key -> "3",
      "spark.sparkdl.tensorflow.interOpThreads" -> "5")
    assert(config(tuned) == EngineConfig(3, 5, onnx = OnnxOptions(sessions = 1)))
    val err = intercept[IllegalArgumentException](config(conf(SparkdlConf.InterOpThreads.key -> "many"))).getMessage
    assert(err.contains(SparkdlConf.InterOpThreads.key) && err.contains("'many'"), err)
    val old = intercept[IllegalArgumentException] {
      config(conf("spark.sparkdl.tensorflow.intraOpThreads" -> "0"))
    }.getMessage
    assert(old.contains("spark.sparkdl.tensorflow.intraOpThreads must be a whole number of at least 1"), old)
  }

  test("precision, XLA, spinning and ONNX optimizations reach the settings; bad values say how to fix them") {
    val local1 = conf("spark.master" -> "local[1]")
    assert(config(local1, precision = "bf16") == EngineConfig(1, 1, precision = "bf16", onnx = OnnxOptions()))
    val xla = conf("spark.master" -> "local[1]", SparkdlConf.XlaJit.key -> "true")
    assert(config(xla).tensorflow == TensorFlowOptions(xlaJit = true))
    assert(EngineSettings.precisionFrom(None) == "float32")
    assert(EngineSettings.precisionFrom(Some(" BF16 ")) == "bf16")
    val err = intercept[IllegalArgumentException](EngineSettings.precisionFrom(Some("fp16"))).getMessage
    assert(err.contains(SparkdlConf.Precision.key) && err.contains("float32 or bf16") && err.contains("'fp16'"), err)
    val err2 = intercept[IllegalArgumentException](config(conf(SparkdlConf.XlaJit.key -> "yes"))).getMessage
    assert(err2.contains(SparkdlConf.XlaJit.key), err2)
    assert(!config(conf("spark.sparkdl.tensorflow.threadSpinning" -> "false")).threadSpinning)
    assert(config(conf(SparkdlConf.ThreadSpinning.key -> "true")).threadSpinning)
    val err3 = intercept[IllegalArgumentException](config(conf(SparkdlConf.ThreadSpinning.key -> "off"))).getMessage
    assert(err3.contains(SparkdlConf.ThreadSpinning.key) && err3.contains("'off'"), err3)
    val basic = conf("spark.master" -> "local[1]", SparkdlConf.OnnxOptimizationLevel.key -> "Basic")
    assert(config(basic).onnx == OnnxOptions("basic"))
  }

  test("ONNX Runtime gets a session per concurrent task, at most four, unless set") {
    def sessions(kv: (String, String)*) = config(conf(kv: _*)).onnx.sessions
    assert(EngineSettings.defaultOnnxSessions(conf("spark.task.cpus" -> "2"), 8) == 4)
    assert(EngineSettings.defaultOnnxSessions(conf("spark.task.cpus" -> "4"), 8) == 2)
    assert(EngineSettings.defaultOnnxSessions(conf(), 16) == 4)
    assert(EngineSettings.defaultOnnxSessions(conf("spark.task.cpus" -> "4"), 2) == 1)
    assert(sessions("spark.master" -> "local[1]") == 1)
    assert(sessions("spark.master" -> "local[1]", SparkdlConf.OnnxSessions.key -> "3") == 3)
    val err = intercept[IllegalArgumentException](sessions(SparkdlConf.OnnxSessions.key -> "0")).getMessage
    assert(err.contains(SparkdlConf.OnnxSessions.key) && err.contains("at least 1"), err)
  }

  test("tasks on different GPUs of one executor share the visible list and differ only in their GPU") {
    val c = conf("spark.executor.cores" -> "2", SparkdlConf.VisibleDevices.key -> "2,5")
    assert(config(c, Seq("2")).gpu.contains(GpuPlacement("2,5", 0, 2)))
    assert(config(c, Seq("5")).gpu.contains(GpuPlacement("2,5", 1, 5)))
    val notListed = intercept[IllegalArgumentException](config(c, Seq("7"))).getMessage
    assert(notListed.contains("'7'") && notListed.contains(SparkdlConf.VisibleDevices.key), notListed)
    val notOrdinal = intercept[IllegalArgumentException](config(conf(), Seq("GPU-1a2b"))).getMessage
    assert(notOrdinal.contains(SparkdlConf.VisibleDevices.key), notOrdinal)
    // The old name still works.
    val old = conf("spark.sparkdl.tensorflow.visibleDevices" -> "2,5")
    assert(config(old, Seq("5")).gpu.contains(GpuPlacement("2,5", 1, 5)))
    // No GPU: the CPU only.
    assert(config(c).gpu.isEmpty)
  }
}
