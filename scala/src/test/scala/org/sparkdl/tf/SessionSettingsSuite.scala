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
    assert(SessionSettings.json(conf("spark.executor.cores" -> "1"), Seq("0", "3")) ==
      """{"intraOpThreads":1,"interOpThreads":1,"allowGrowth":true,"gpuVisibleDevices":"0,3"}""")
    val tuned = conf("spark.master" -> "local[1]", SessionSettings.IntraOpConf -> "3", SessionSettings.InterOpConf -> "5")
    assert(SessionSettings.json(tuned, Nil) == """{"intraOpThreads":3,"interOpThreads":5,"allowGrowth":true}""")
    val err = intercept[IllegalArgumentException] {
      SessionSettings.json(conf(SessionSettings.InterOpConf -> "many"), Nil)
    }.getMessage
    assert(err.contains(SessionSettings.InterOpConf) && err.contains("'many'"), err)
  }
}
