package org.sparkdl.param

import org.apache.spark.ml.param.{DoubleArrayParam, DoubleParam, IntArrayParam, IntParam, Param, ParamValidators, Params}

import org.sparkdl.SparkdlConf
import org.sparkdl.engine.EngineSettings

// Every Param sparkdl's stages share, each declared once with one validator. Spark's own
// shared-param traits are private[ml]; these have the same names and meaning.

trait HasInputCol extends Params {
  final val inputCol: Param[String] = new Param[String](this, "inputCol", "input column name")
  final def getInputCol: String = $(inputCol)
  def setInputCol(value: String): this.type = set(inputCol, value)
}

trait HasOutputCol extends Params {
  final val outputCol: Param[String] = new Param[String](this, "outputCol", "output column name")
  final def getOutputCol: String = $(outputCol)
  def setOutputCol(value: String): this.type = set(outputCol, value)
}

/** The error column: unset, `<first output column>_error` ([[errorColumnName]]). */
trait HasErrorCol extends Params {
  final val errorCol: Param[String] = new Param[String](this, "errorCol",
    "column that receives, for each row whose output is null, the reason (default: <output column>_error)")
  final def getErrorCol: String = $(errorCol)
  def setErrorCol(value: String): this.type = set(errorCol, value)

  /** `errorCol` when set, else `<firstOutput>_error`. */
  def errorColumnName(firstOutput: String): String = get(errorCol).getOrElse(s"${firstOutput}_error")
}

/**
 * The arithmetic the model's heavy ops run in: "float32" (the model as it is) or "bf16"
 * (TensorFlow: oneDNN's bfloat16 auto-mixed-precision rewrite, faster on CPUs with native bf16;
 * docs/PERFORMANCE.md). Unset: the session's `spark.sparkdl.engine.precision`, else float32.
 */
trait HasPrecision extends Params {
  final val precision: Param[String] = new Param[String](this, "precision",
    "float32 or bf16 (TensorFlow models: bfloat16 mixed precision through oneDNN, for CPUs with AVX512_BF16 or " +
      s"AMX); unset: the conf ${SparkdlConf.Precision}, else float32",
    ParamValidators.inArray(EngineSettings.Precisions.toArray))
  def setPrecision(value: String): this.type = set(precision, value)
  final def getPrecision: String = get(precision).getOrElse(EngineSettings.DefaultPrecision)

  /** The Param, else the session's conf (checked, with how to fix it), else float32. */
  protected def resolvedPrecision(spark: org.apache.spark.sql.SparkSession): String =
    get(precision).getOrElse(SparkdlConf.Precision.read(spark).getOrElse(EngineSettings.DefaultPrecision))
}

trait HasBatchSize extends Params {
  final val batchSize: IntParam = new IntParam(this, "batchSize",
    "rows per native batch fed to the model (larger: faster, more memory)", ParamValidators.gt(0))
  setDefault(batchSize -> 64)
  final def getBatchSize: Int = $(batchSize)
  def setBatchSize(value: Int): this.type = set(batchSize, value)
}

/**
 * How a model's output becomes a column. Stages offer a subset ([[outputModes]], the first the
 * default): `vector` (MLlib dense vectors of doubles), `array` (the tensor's own type:
 * array<float> for float32), `image` (an image struct of float32 pixels).
 */
trait HasOutputMode extends Params {

  /** The modes this stage offers, its default first. A `def`: it is read while the trait initialises. */
  protected def outputModes: Seq[String]

  final val outputMode: Param[String] = new Param[String](this, "outputMode",
    outputModes.map(m => s"$m (${HasOutputMode.described(m)})").mkString(", ") + s"; default ${outputModes.head}",
    ParamValidators.inArray(outputModes.toArray))
  setDefault(outputMode -> outputModes.head)
  final def getOutputMode: String = $(outputMode)
  def setOutputMode(value: String): this.type = set(outputMode, value)
}

object HasOutputMode {
  val described: Map[String, String] = Map(
    "vector" -> "MLlib dense vectors, what Spark ML estimators take",
    "array" -> "the output tensor's own type, e.g. array<float> for float32",
    "image" -> "an image struct of float32 pixels")
}

/**
 * How images become a model's input, natively, in one pass: decode (encoded bytes or paths),
 * resize to the input's height and width when fixed (else to `imageSize` when set), channel
 * order, `x * scale`, then `(x - mean) / std` per channel, and the tensor layout. The layout's
 * default is the stage's ([[defaultLayout]]: NHWC for TensorFlow, NCHW for ONNX).
 */
trait HasImagePreprocessing extends HasImageSize {

  /** NHWC or NCHW. A `def`: it is read while the trait initialises. */
  protected def defaultLayout: String

  final val channelOrder = new Param[String](this, "channelOrder",
    "channel order the model expects: RGB, BGR (Spark's image order) or L (grey)",
    ParamValidators.inArray(Array("RGB", "BGR", "L")))
  final val resizeMethod = new Param[String](this, "resizeMethod",
    "how images are resized to the model's input size: bilinear, nearest, bicubic or lanczos3 (antialiased when " +
      "shrinking, like PIL)",
    ParamValidators.inArray(Array("bilinear", "nearest", "bicubic", "lanczos3")))
  final val scale = new DoubleParam(this, "scale", "pixel values (0-255) are multiplied by this first")
  final val mean = new DoubleArrayParam(this, "mean", "per-channel mean subtracted after scaling (empty: none)")
  final val std = new DoubleArrayParam(this, "std", "per-channel std divided by after the mean (empty: none)")
  final val layout = new Param[String](this, "layout", "tensor layout: NHWC (TensorFlow's) or NCHW (PyTorch's)",
    ParamValidators.inArray(Array("NHWC", "NCHW")))

  setDefault(channelOrder -> "RGB", resizeMethod -> "bilinear", scale -> 1.0, mean -> Array.emptyDoubleArray,
    std -> Array.emptyDoubleArray, layout -> defaultLayout)

  def setChannelOrder(value: String): this.type = set(channelOrder, value)
  def getChannelOrder: String = $(channelOrder)
  def setResizeMethod(value: String): this.type = set(resizeMethod, value)
  def setScale(value: Double): this.type = set(scale, value)
  def setMean(value: Array[Double]): this.type = set(mean, value)
  def setStd(value: Array[Double]): this.type = set(std, value)
  def setLayout(value: String): this.type = set(layout, value)
  def getLayout: String = $(layout)
}

/** The size images are resized to when the model does not fix it. */
trait HasImageSize extends Params {
  final val imageSize = new IntArrayParam(this, "imageSize",
    "[height, width] images are resized to when the model's input does not fix them (empty: each image's own " +
      "size, one image per run when sizes differ, or a named model's own size); when the input fixes them, empty " +
      "or equal to them",
    (v: Array[Int]) => v.isEmpty || (v.length == 2 && v.forall(_ > 0)))
  setDefault(imageSize -> Array.emptyIntArray)
  def setImageSize(value: Array[Int]): this.type = set(imageSize, value)
  def getImageSize: Array[Int] = $(imageSize)
}

/** Numeric columns to a model's inputs and its outputs to new columns (several of each). */
trait HasModelMapping extends Params {
  final val inputMapping = new StringMapParam(this, "inputMapping",
    "input column name -> model input name (TensorFlow: op or op:index)")
  final val outputMapping = new StringMapParam(this, "outputMapping",
    "model output name (TensorFlow: op or op:index) -> output column name")

  def getInputMapping: Map[String, String] = $(inputMapping)
  def setInputMapping(value: Map[String, String]): this.type = set(inputMapping, value)
  def getOutputMapping: Map[String, String] = $(outputMapping)
  def setOutputMapping(value: Map[String, String]): this.type = set(outputMapping, value)

  // For py4j callers, which hold java.util.Maps.
  import scala.jdk.CollectionConverters._
  def setInputMappingJava(value: java.util.Map[String, String]): this.type = setInputMapping(value.asScala.toMap)
  def setOutputMappingJava(value: java.util.Map[String, String]): this.type = setOutputMapping(value.asScala.toMap)
  def getInputMappingJava: java.util.Map[String, String] = getInputMapping.asJava
  def getOutputMappingJava: java.util.Map[String, String] = getOutputMapping.asJava
}
