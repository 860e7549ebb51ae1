package org.sparkdl.tf

import org.apache.spark.{SparkConf, SparkEnv, TaskContext}

/**
 * TensorFlow session settings for this executor. One session per model is shared by every task
 * of the JVM, so its intra-op pool gets the executor's cores (concurrent tasks share the cores
 * instead of each spawning a pool of all cores), and the inter-op pool one thread per concurrent
 * task, so that the tasks' `Run`s do not queue behind one scheduling thread (measured: about 5%
 * more images/s on 2 cores than one inter-op thread).
 * GPUs (a GPU build of libtensorflow): TensorFlow fixes the visible GPUs once per process and
 * refuses a session with another list, so every session of the executor gets the same list:
 * `spark.sparkdl.tensorflow.visibleDevices` (CUDA device ordinals, e.g. "0,1") or, unset, every GPU
 * the process sees. A task's work goes to the first GPU Spark gave it
 * (`spark.task.resource.gpu.amount`): its address, found in that list (or taken as the ordinal
 * when every GPU is visible), becomes the graph's device `/device:GPU:<index>`, and the session
 * cache keeps one session per model and GPU. Tasks without a GPU use the CPU only.
 * A SavedModel is placed by TensorFlow (the C API loads it without import options): on an
 * executor with several GPUs, give it one GPU per executor or use a frozen graph.
 *
 * `spark.sparkdl.tensorflow.intraOpThreads` and `spark.sparkdl.tensorflow.interOpThreads`
 * override the two counts. TensorFlow sizes its thread pools once per process, from the first
 * session it opens, so they apply per executor JVM.
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

  val IntraOpConf = "spark.sparkdl.tensorflow.intraOpThreads"
  val InterOpConf = "spark.sparkdl.tensorflow.interOpThreads"

  /** float32 (default) or bf16: see `HasPrecision`; a stage's `precision` Param wins. */
  val PrecisionConf = "spark.sparkdl.tensorflow.precision"

  /**
   * true: compile the graph's clusters with XLA (`global_jit_level` ON_1). Default false. On CPUs
   * TensorFlow only clusters with `TF_XLA_FLAGS=--tf_xla_cpu_global_jit` in the environment (and
   * was slower there, docs/PERFORMANCE.md).
   */
  val XlaJitConf = "spark.sparkdl.tensorflow.xlaJit"

  /** false: idle pool threads sleep at once instead of spinning first (TensorFlow's default: true). */
  val ThreadSpinningConf = "spark.sparkdl.tensorflow.threadSpinning"
  val Precisions: Seq[String] = Seq("float32", "bf16")
  val DefaultPrecision = "float32"
  val VisibleDevicesConf = "spark.sparkdl.tensorflow.visibleDevices"

  /**
   * The process-wide visible GPU list and the task's device for the GPUs Spark gave the task:
   * (list for every session, "/device:GPU:<index in that list>").
   */
  def gpuPlacement(conf: Option[SparkConf], gpus: Seq[String]): Option[(String, String)] =
    gpus.headOption.map { first =>
      val visible = conf.flatMap(_.getOption(VisibleDevicesConf)).map(_.trim).getOrElse("")
      val list = visible.split(",").map(_.trim).filter(_.nonEmpty).toSeq
      if (!list.forall(_.forall(_.isDigit))) throw new IllegalArgumentException(
        s"$VisibleDevicesConf must be CUDA device ordinals separated by commas, like \"0,1\", got '$visible'")
      val index =
        if (list.nonEmpty) list.indexOf(first.trim) match {
          case -1 => throw new IllegalArgumentException(
              s"this task's GPU '$first' is not in $VisibleDevicesConf='$visible'; list every GPU of the executor there")
          case i => i
        }
        else first.trim.toIntOption.filter(_ >= 0).getOrElse(throw new IllegalArgumentException(
            s"the task's GPU address '$first' is not a CUDA device ordinal; set $VisibleDevicesConf to the " +
              "executor's GPUs in the order its GPU discovery script lists them"))
      (list.mkString(","), s"/device:GPU:$index")
    }

  /** A precision setting checked, or float32 when absent. */
  def precisionFrom(value: Option[String]): String = value.map(_.trim.toLowerCase) match {
    case None => DefaultPrecision
    case Some(p) if Precisions.contains(p) => p
    case Some(other) => throw new IllegalArgumentException(
        s"$PrecisionConf must be ${Precisions.mkString(" or ")}, got '$other'")
  }

  def json(precision: String = DefaultPrecision): String =
    json(Option(SparkEnv.get).map(_.conf), gpuAddresses(), precision)

  def json(conf: Option[SparkConf], gpus: Seq[String]): String = json(conf, gpus, DefaultPrecision)

  def json(conf: Option[SparkConf], gpus: Seq[String], precision: String): String = {
    val cores = executorCores(conf)
    def threads(key: String, default: Int): Int = conf.flatMap(_.getOption(key)).map { v =>
      v.trim.toIntOption.filter(_ > 0).getOrElse(throw new IllegalArgumentException(
          s"$key must be a positive number of threads, got '$v'"))
    }.getOrElse(default)
    val gpuField = gpuPlacement(conf, gpus).map { case (visible, device) =>
      s""","gpuVisibleDevices":"$visible","device":"$device""""
    }.getOrElse("")
    val checked = precisionFrom(Some(precision))
    val precisionField = if (checked == DefaultPrecision) "" else s""","precision":"$checked""""
    def flag(key: String, default: Boolean): Boolean = conf.flatMap(_.getOption(key)).map { v =>
      v.trim.toBooleanOption.getOrElse(throw new IllegalArgumentException(s"$key must be true or false, got '$v'"))
    }.getOrElse(default)
    val xlaField = if (flag(XlaJitConf, default = false)) ""","xlaJit":true""" else ""
    val spinField = if (flag(ThreadSpinningConf, default = true)) "" else ""","threadSpinning":false"""
    s"""{"intraOpThreads":${threads(IntraOpConf, cores)},"interOpThreads":${threads(InterOpConf, cores)},""" +
      s""""allowGrowth":true$gpuField$precisionField$xlaField$spinField}"""
  }
}
