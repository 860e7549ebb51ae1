package org.sparkdl.tf

import org.apache.spark.{SparkConf, SparkEnv, TaskContext}

/**
 * TensorFlow session settings for this executor. One session per model is shared by every task
 * of the JVM, so its intra-op pool gets the executor's cores and each `Run` uses one inter-op
 * thread: concurrent tasks then share the cores instead of each spawning a pool of all cores.
 * On a GPU build, the GPUs Spark gave the task (`spark.task.resource.gpu.amount`) are the only
 * visible devices; without any, the CPU is used.
 */
object SessionSettings {

  def executorCores(conf: Option[SparkConf]): Int = {
    val available = Runtime.getRuntime.availableProcessors()
    val LocalN = """local(?:-cluster)?\[(\d+|\*)(?:,.*)?\]""".r
    conf.flatMap { c =>
      c.getOption("spark.executor.cores").map(_.toInt).orElse {
        c.getOption("spark.master").collect {
          case LocalN("*") => available
          case LocalN(n) => n.toInt
        }
      }
    }.map(n => math.max(1, math.min(n, available))).getOrElse(available)
  }

  def gpuAddresses(): Seq[String] =
    Option(TaskContext.get()).flatMap(_.resources().get("gpu")).map(_.addresses.toSeq).getOrElse(Seq.empty)

  def json(): String = {
    val cores = executorCores(Option(SparkEnv.get).map(_.conf))
    val gpus = gpuAddresses()
    val gpuField = if (gpus.isEmpty) "" else s""","gpuVisibleDevices":"${gpus.mkString(",")}""""
    s"""{"intraOpThreads":$cores,"interOpThreads":1,"allowGrowth":true$gpuField}"""
  }
}
