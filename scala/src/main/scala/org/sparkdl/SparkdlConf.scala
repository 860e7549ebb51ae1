package org.sparkdl

import java.util.Locale

import org.apache.spark.{SparkConf, SparkEnv}
import org.apache.spark.sql.SparkSession

/**
 * A Spark conf key sparkdl reads: its doc, default and check in one place, read one way
 * ([[read]]). `alternatives` are older names still accepted (read when the key itself is unset);
 * `env` an environment variable read last. The README's configuration table is checked against
 * these entries (`SparkdlConfSuite`).
 */
final class ConfEntry[T] private[sparkdl] (
    val key: String,
    val doc: String,
    val default: Option[T],
    /** How the README writes the default ("the executor's cores", "1g", ...). */
    val defaultText: String,
    parse: String => Either[String, T],
    val alternatives: Seq[String] = Nil,
    val env: Option[String] = None) {

  /** `value` checked, or an error naming the key, the value and what is accepted. */
  def parseValue(value: String, from: String = key): T = parse(value.trim) match {
    case Right(v) => v
    case Left(expected) => throw new IllegalArgumentException(s"$from must be $expected, got '$value'")
  }

  /** The value set under the key (or an older name, or the environment variable), checked. */
  def get(lookup: String => Option[String]): Option[T] =
    (key +: alternatives).iterator.map(k => lookup(k).map(k -> _)).collectFirst { case Some(kv) => kv }
      .orElse(env.flatMap(e => sys.env.get(e).filter(_.nonEmpty).map(e -> _)))
      .map { case (k, v) => parseValue(v, k) }

  /** The value, or the default (`None` when the entry has none). */
  def read(lookup: String => Option[String]): Option[T] = get(lookup).orElse(default)

  def get(conf: SparkConf): Option[T] = get(conf.getOption _)
  def read(conf: SparkConf): Option[T] = read(conf.getOption _)
  def get(spark: SparkSession): Option[T] = get(spark.conf.getOption _)
  def read(spark: SparkSession): Option[T] = read(spark.conf.getOption _)

  /** In this JVM's SparkEnv (executors, and the driver once Spark runs), else the default. */
  def readHere: Option[T] = Option(SparkEnv.get).map(e => read(e.conf)).getOrElse(get(_ => None).orElse(default))

  override def toString: String = key
}

/** Every Spark conf key sparkdl reads, as typed entries. Set them like any Spark conf (`--conf k=v`). */
object SparkdlConf {
  private val registered = scala.collection.mutable.ArrayBuffer.empty[ConfEntry[_]]

  private def entry[T](key: String, doc: String, default: Option[T], defaultText: String,
      parse: String => Either[String, T], alternatives: Seq[String] = Nil, env: Option[String] = None): ConfEntry[T] = {
    val e = new ConfEntry[T](key, doc, default, defaultText, parse, alternatives, env)
    registered += e
    e
  }

  private def int(min: Int)(v: String): Either[String, Int] =
    v.toIntOption.filter(_ >= min).toRight(s"a whole number of at least $min")
  private def long(min: Long)(v: String): Either[String, Long] =
    v.toLongOption.filter(_ >= min).toRight(s"a whole number of at least $min")
  private def bool(v: String): Either[String, Boolean] = v.toBooleanOption.toRight("true or false")
  private def oneOf(values: String*)(v: String): Either[String, String] = {
    val l = v.toLowerCase(Locale.ROOT)
    if (values.contains(l)) Right(l) else Left(values.mkString(" or "))
  }
  private def text(v: String): Either[String, String] = if (v.nonEmpty) Right(v) else Left("a non-empty value")
  private def bytes(v: String): Either[String, Long] =
    try Right(org.apache.spark.sql.sparkdl.SparkdlBridge.byteSize(v)).filterOrElse(_ > 0, "a positive size")
    catch { case _: IllegalArgumentException => Left("a size such as 512m or 1g") }
  private def seconds(v: String): Either[String, Double] =
    v.toDoubleOption.filter(d => d >= 0 && !d.isInfinite).toRight("a number of seconds >= 0")
  private def ordinals(v: String): Either[String, String] = {
    val list = v.split(",").map(_.trim).filter(_.nonEmpty)
    if (list.nonEmpty && list.forall(_.forall(_.isDigit))) Right(list.mkString(","))
    else Left("CUDA device ordinals separated by commas, like \"0,1\"")
  }

  // The runtimes' libraries.
  val TensorFlowLibDir: ConfEntry[String] = entry("spark.sparkdl.tensorflow.libDir",
    "folder with `libtensorflow_cc.so.2` and `libtensorflow_framework.so.2`, loaded when a TensorFlow model " +
      "is first used", None, "the `tensorflow-cpu`/`tensorflow` package of the Python Spark uses", text,
    env = Some("SPARKDL_TENSORFLOW_LIB_DIR"))
  val OnnxLibPath: ConfEntry[String] = entry("spark.sparkdl.onnx.libPath",
    "the ONNX Runtime library file (`libonnxruntime.so.1.*`, 1.22 or later), loaded when an ONNX model is " +
      "first used", None, "the `onnxruntime` (or `onnxruntime-gpu`) package of the Python Spark uses", text,
    env = Some("SPARKDL_ONNXRUNTIME_LIB"))

  // Images.
  val MaxPixels: ConfEntry[Long] = entry("spark.sparkdl.image.maxPixels",
    "images with more pixels are refused before any pixel memory is allocated (decompression bombs)",
    Some(178956970L), "178956970", long(1))
  val DecodeBatchSize: ConfEntry[Int] = entry("spark.sparkdl.image.decodeBatchSize",
    "rows per native decode batch of readImages", Some(32), "32", int(1))

  // Batches.
  val BatchMaxBytes: ConfEntry[Long] = entry("spark.sparkdl.batch.maxBytes",
    "a model batch ends early once its input reaches this size, so no Arrow buffer nears 2 GiB",
    Some(1L << 30), "1g", bytes)
  val BatchesInFlight: ConfEntry[Int] = entry("spark.sparkdl.batch.inFlight",
    "model batches one task keeps in flight: the next batch is written, decoded and started while one runs " +
      "in the model, on an executor-wide pool; 1 runs one batch at a time on the task's thread",
    Some(2), "2", int(1))

  // The engine, for both backends.
  val IntraOpThreads: ConfEntry[Int] = entry("spark.sparkdl.engine.intraOpThreads",
    "threads of one op's kernel, per executor JVM (all tasks of an executor share one TensorFlow session per " +
      "model; ONNX Runtime's sessions of a model split them)",
    None, "the executor's cores", int(1), Seq("spark.sparkdl.tensorflow.intraOpThreads"))
  val InterOpThreads: ConfEntry[Int] = entry("spark.sparkdl.engine.interOpThreads",
    "ops a session runs at once, per executor JVM", None, "the executor's cores", int(1),
    Seq("spark.sparkdl.tensorflow.interOpThreads"))
  val Precision: ConfEntry[String] = entry("spark.sparkdl.engine.precision",
    "`float32`, or `bf16`: TensorFlow's oneDNN bfloat16 auto-mixed-precision rewrite (CPUs with AVX512_BF16 " +
      "or AMX; ONNX models run in the types they were exported with); a stage's `precision` Param wins",
    Some("float32"), "float32", oneOf("float32", "bf16"), Seq("spark.sparkdl.tensorflow.precision"))
  val ThreadSpinning: ConfEntry[Boolean] = entry("spark.sparkdl.engine.threadSpinning",
    "`false`: idle pool threads sleep at once instead of spinning first (both runtimes spin by default)",
    Some(true), "true", bool, Seq("spark.sparkdl.tensorflow.threadSpinning"))
  val SessionIdleSeconds: ConfEntry[Double] = entry("spark.sparkdl.engine.sessionIdleSeconds",
    "an unused model session is closed after this many seconds, by a background reaper",
    Some(60.0), "60", seconds, Seq("spark.sparkdl.tensorflow.sessionIdleSeconds"))
  val VisibleDevices: ConfEntry[String] = entry("spark.sparkdl.engine.visibleDevices",
    "GPU executors: the CUDA ordinals every session of the executor sees; each task runs on the GPU Spark " +
      "assigned it", None, "every GPU", ordinals, Seq("spark.sparkdl.tensorflow.visibleDevices"))

  // One backend only.
  val XlaJit: ConfEntry[Boolean] = entry("spark.sparkdl.tensorflow.xlaJit",
    "TensorFlow: compile the graph's clusters with XLA (`global_jit_level` ON_1); on CPUs only with " +
      "`TF_XLA_FLAGS=--tf_xla_cpu_global_jit` in the executors' environment, and slower there: meant for GPUs",
    Some(false), "false", bool)
  val OnnxOptimizationLevel: ConfEntry[String] = entry("spark.sparkdl.onnx.optimizationLevel",
    "ONNX Runtime's graph optimizations: all, extended, basic or disabled", Some("all"), "all",
    oneOf("all", "extended", "basic", "disabled"))
  val OnnxSessions: ConfEntry[Int] = entry("spark.sparkdl.onnx.sessions",
    "ONNX Runtime: sessions of one model per executor JVM, so concurrent tasks run their batches at once (a " +
      "session runs one batch at a time); they split the intra-op threads and each holds a copy of the " +
      "model's weights; a GPU gets one", None,
    "the executor's concurrent tasks (cores / `spark.task.cpus`), " +
      "at most 4", int(1))

  // Models and SQL.
  val ModelsCacheDir: ConfEntry[String] = entry("spark.sparkdl.models.cacheDir",
    "model cache: built graphs and downloaded weights", None, "`~/.cache/sparkdl/models`", text,
    env = Some("SPARKDL_CACHE_DIR"))
  val SqlModels: ConfEntry[String] = entry("spark.sparkdl.sql.models",
    "users' saved models as SQL functions: `name=path,...` (read when a session starts)", None, "none", text)
  val NativeLogLevel: ConfEntry[String] = entry("spark.sparkdl.native.logLevel",
    "native log level on stderr: off, error, warn, info, debug or trace", Some("warn"), "warn",
    oneOf("off", "error", "warn", "info", "debug", "trace"))

  // Read by the Python side (sparkdl.estimators), declared here with the rest.
  val TuningMaxBroadcastBytes: ConfEntry[Long] = entry("spark.sparkdl.tuning.maxBroadcastBytes",
    "KerasImageFileEstimator: training data up to this size reaches the trials as a broadcast, more as Parquet",
    Some(256L << 20), "256m", bytes)
  val TuningDataDir: ConfEntry[String] = entry("spark.sparkdl.tuning.dataDir",
    "KerasImageFileEstimator: where larger training data is written once (on a cluster, a folder every worker " +
      "reads)", None, "a temporary folder of the driver", text)

  /** Every entry, in declaration order. */
  lazy val entries: Seq[ConfEntry[_]] = registered.toList

  /**
   * The README's configuration table, written from the entries (`SparkdlConfSuite` checks the
   * README holds exactly this; `build/sbt "runMain org.sparkdl.SparkdlConf"` prints it).
   */
  def markdownTable: String = {
    val rows = entries.map { e =>
      val names = (Seq(s"`${e.key}`") ++ e.env.map(v => s"env `$v`")).mkString(" (or ") +
        (if (e.env.isDefined) ")" else "")
      val older =
        if (e.alternatives.isEmpty) ""
        else s" The older name ${e.alternatives.map(a => s"`$a`").mkString(", ")} still works."
      s"| $names | ${e.doc}. Default: ${e.defaultText}.$older |"
    }
    ("| setting | meaning |" +: "|---|---|" +: rows).mkString("\n")
  }

  def main(args: Array[String]): Unit = println(markdownTable)

  /** The entry for `key` (or one of its older names). */
  def find(key: String): Option[ConfEntry[_]] = entries.find(e => e.key == key || e.alternatives.contains(key))
}
