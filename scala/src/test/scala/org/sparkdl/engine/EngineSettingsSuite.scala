package org.sparkdl.tf

import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

class SessionSettingsSuite extends AnyFunSuite {

  private def conf(kv: (String, String)*) = Some(new SparkConf(false).setAll(kv))
  private val available = Runtime.getRuntime.availableProcessors()

  test("both TensorFlow pools get the executor's cores; confs override them; GPUs from the task") {
    val n = math.min(2, available)
    assert(SessionSettings.json(conf("spark.master" -> s"local[$n]"), Nil) ==
      s"""{"intraOpThreads":$n,"interOpThreads":$n,"allowGrowth":true}""")
    // A task with GPUs 3 and 0: every GPU visible (one list for the whole process), its work on GPU 3.
    assert(SessionSettings.json(conf("spark.executor.cores" -> "1"), Seq("3", "0")) ==
      """{"intraOpThreads":1,"interOpThreads":1,"allowGrowth":true,"gpuVisibleDevices":"","device":"/device:GPU:3"}""")
    val tuned =
      conf("spark.master" -> "local[1]", SessionSettings.IntraOpConf -> "3", SessionSettings.InterOpConf -> "5")
    assert(SessionSettings.json(tuned, Nil) == """{"intraOpThreads":3,"interOpThreads":5,"allowGrowth":true}""")
    val err = intercept[IllegalArgumentException] {
      SessionSettings.json(conf(SessionSettings.InterOpConf -> "many"), Nil)
    }.getMessage
    assert(err.contains(SessionSettings.InterOpConf) && err.contains("'many'"), err)
  }

  test("precision bf16 and XLA JIT reach the session settings; bad values say how to fix them") {
    val local1 = conf("spark.master" -> "local[1]")
    assert(SessionSettings.json(local1, Nil, "bf16") ==
      """{"intraOpThreads":1,"interOpThreads":1,"allowGrowth":true,"precision":"bf16"}""")
    assert(SessionSettings.json(local1, Nil, "float32") == SessionSettings.json(local1, Nil))
    val xla = conf("spark.master" -> "local[1]", SessionSettings.XlaJitConf -> "true")
    assert(SessionSettings.json(xla, Nil).endsWith(""","xlaJit":true}"""))
    assert(SessionSettings.precisionFrom(None) == "float32")
    assert(SessionSettings.precisionFrom(Some(" BF16 ")) == "bf16")
    val err = intercept[IllegalArgumentException](SessionSettings.precisionFrom(Some("fp16"))).getMessage
    assert(err.contains(SessionSettings.PrecisionConf) && err.contains("float32 or bf16") && err.contains("'fp16'"),
      err)
    val err2 = intercept[IllegalArgumentException] {
      SessionSettings.json(conf(SessionSettings.XlaJitConf -> "yes"), Nil)
    }.getMessage
    assert(err2.contains(SessionSettings.XlaJitConf), err2)
    val still = conf("spark.master" -> "local[1]", SessionSettings.ThreadSpinningConf -> "false")
    assert(SessionSettings.json(still, Nil).endsWith(""","threadSpinning":false}"""))
    assert(!SessionSettings.json(conf(SessionSettings.ThreadSpinningConf -> "true"), Nil).contains("threadSpinning"))
    val err3 = intercept[IllegalArgumentException] {
      SessionSettings.json(conf(SessionSettings.ThreadSpinningConf -> "off"), Nil)
    }.getMessage
    assert(err3.contains(SessionSettings.ThreadSpinningConf) && err3.contains("'off'"), err3)
  }

  test("tasks on different GPUs of one executor share the visible list and differ only in device") {
    val c = conf("spark.executor.cores" -> "2", SessionSettings.VisibleDevicesConf -> "2,5")
    val a = SessionSettings.json(c, Seq("2"))
    val b = SessionSettings.json(c, Seq("5"))
    assert(a.contains(""""gpuVisibleDevices":"2,5","device":"/device:GPU:0""""), a)
    assert(b.contains(""""gpuVisibleDevices":"2,5","device":"/device:GPU:1""""), b)
    assert(a.replace("GPU:0", "GPU:1") == b)
    val notListed = intercept[IllegalArgumentException](SessionSettings.json(c, Seq("7"))).getMessage
    assert(notListed.contains("'7'") && notListed.contains(SessionSettings.VisibleDevicesConf), notListed)
    val notOrdinal = intercept[IllegalArgumentException](SessionSettings.json(conf(), Seq("GPU-1a2b"))).getMessage
    assert(notOrdinal.contains(SessionSettings.VisibleDevicesConf), notOrdinal)
    // No GPU: CPU only, no device.
    assert(!SessionSettings.json(c, Nil).contains("device"))
  }
}
