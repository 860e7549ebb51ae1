package org.sparkdl.engine

import org.apache.spark.{SparkConf, SparkEnv, TaskContext}

import org.sparkdl.SparkdlConf
import org.sparkdl.engine.Contract.{EngineConfig, GpuPlacement, OnnxOptions, TensorFlowOptions}

/**
 * The settings a model session is loaded with in this executor ([[Contract.EngineConfig]]), the
 * same for both backends where they mean the same. One session per model is shared by every
 * task of the JVM, so its intra-op pool gets the executor's cores (concurrent tasks share the
 * cores instead of each spawning a pool of all cores), and the inter-op pool one thread per
 * concurrent task (measured with TensorFlow: about 5% more images/s on 2 cores than one).
 *
 * ONNX Runtime runs one batch at a time per session (`ort` takes a session exclusively), so a
 * model gets a session per concurrent task (`spark.sparkdl.onnx.sessions`), sharing the same
 * intra-op threads between them.
 *
 * GPUs: TensorFlow fixes the visible GPUs once per process and refuses a session with another
 * list, so every session of the executor gets the same list: `spark.sparkdl.engine.visibleDevices`
 * (CUDA device ordinals, e.g. "0,1") or, unset, every GPU the process sees. A task's work goes to
 * the first GPU Spark gave it (`spark.task.resource.gpu.amount`): its address is its CUDA ordinal
 * (what ONNX Runtime's CUDA provider takes), and its place in that list TensorFlow's
 * `/device:GPU:<index>`; the session cache keeps one session per model and GPU. Tasks without a
 * GPU use the CPU only. A SavedModel is placed by TensorFlow (the C API loads it without import
 * options): on an executor with several GPUs, give it one GPU per executor or use a frozen graph.
 */
object EngineSettings {

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

  val Precisions: Seq[String] = Seq("float32", "bf16")
  val DefaultPrecision = "float32"

  /** The GPU placement of a task given `gpus` (its first one is used). */
  def gpuPlacement(conf: Option[SparkConf], gpus: Seq[String]): Option[GpuPlacement] =
    gpus.headOption.map { first =>
      val visible = conf.flatMap(c => SparkdlConf.VisibleDevices.get(c)).getOrElse("")
      val list = visible.split(",").map(_.trim).filter(_.nonEmpty).toSeq
      val ordinal = first.trim.toIntOption.filter(_ >= 0).getOrElse(throw new IllegalArgumentException(
          s"the task's GPU address '$first' is not a CUDA device ordinal; set ${SparkdlConf.VisibleDevices} to the " +
            "executor's GPUs in the order its GPU discovery script lists them"))
      val index =
        if (list.isEmpty) ordinal
        else list.indexOf(first.trim) match {
          case -1 => throw new IllegalArgumentException(
              s"this task's GPU '$first' is not in ${SparkdlConf.VisibleDevices}='$visible'; list every GPU of " +
                "the executor there")
          case i => i
        }
      GpuPlacement(list.mkString(","), index, ordinal)
    }

  /** A precision setting checked, or float32 when absent. */
  def precisionFrom(value: Option[String]): String =
    value.map(v => SparkdlConf.Precision.parseValue(v)).getOrElse(DefaultPrecision)

  /** This executor's settings for the task on this thread, in `precision`. */
  def config(precision: String = DefaultPrecision): EngineConfig =
    config(Option(SparkEnv.get).map(_.conf), gpuAddresses(), precision)

  def config(conf: Option[SparkConf], gpus: Seq[String], precision: String): EngineConfig = {
    val cores = executorCores(conf)
    def read[T](e: org.sparkdl.ConfEntry[T]): Option[T] = conf.flatMap(c => e.read(c))
    EngineConfig(
      intraOpThreads = read(SparkdlConf.IntraOpThreads).getOrElse(cores),
      interOpThreads = read(SparkdlConf.InterOpThreads).getOrElse(cores),
      threadSpinning = read(SparkdlConf.ThreadSpinning).getOrElse(true),
      precision = precisionFrom(Some(precision)),
      gpu = gpuPlacement(conf, gpus),
      tensorflow = TensorFlowOptions(xlaJit = read(SparkdlConf.XlaJit).getOrElse(false)),
      onnx = OnnxOptions(
        read(SparkdlConf.OnnxOptimizationLevel).getOrElse("all"),
        read(SparkdlConf.OnnxSessions).getOrElse(defaultOnnxSessions(conf, cores))))
  }

  /**
   * ONNX Runtime's sessions per model by default: one per concurrent task of the executor (its
   * cores over `spark.task.cpus`), at most [[MaxDefaultOnnxSessions]], since each holds a copy of
   * the weights. `ort` runs a session exclusively; measured on 2 cores (docs/PERFORMANCE.md) one
   * session left the second task waiting on the first's run.
   */
  def defaultOnnxSessions(conf: Option[SparkConf], cores: Int): Int = {
    val taskCpus = conf.flatMap(_.getOption("spark.task.cpus")).flatMap(_.toIntOption).filter(_ > 0).getOrElse(1)
    math.max(1, math.min(MaxDefaultOnnxSessions, cores / taskCpus))
  }

  val MaxDefaultOnnxSessions = 4
}
