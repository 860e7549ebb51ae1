package org.sparkdl.transformers

import org.apache.spark.ml.param.{DoubleArrayParam, DoubleParam, IntArrayParam, Param, ParamValidators}
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{Column, DataFrame, Dataset}
import org.apache.spark.sql.functions.{col, lit, struct, when}
import org.apache.spark.sql.types._

import org.sparkdl.image.{ImageReader, ImageSchema}
import org.sparkdl.param.{HasInputCol, HasOutputCol}
import org.sparkdl.plan.SparkdlPlanner
import org.sparkdl.tf.TensorInfo

/**
 * Applies a TensorFlow graph that takes images to an image column, batched, in the native engine.
 * Preprocessing runs in Rust in the same pass: decode (for encoded bytes or paths), resize to the
 * input tensor's height and width when they are fixed, else to `imageSize` when set
 * (`resizeMethod`, bilinear by default),
 * channel order, `x * scale`, then `(x - mean) / std` per channel, and the tensor layout.
 *
 * Input column: Spark's image struct (`readImages`), encoded image bytes (`readImageFiles`'s
 * `content`), or file paths/URIs (read on the executors).
 *
 * {{{
 *   new TFImageTransformer()
 *     .setInputCol("image").setOutputCol("features")
 *     .setGraph(frozen).setInputTensor("input:0").setOutputTensor("features:0")
 *     .setChannelOrder("RGB").setOutputMode("vector")
 * }}}
 */
class TFImageTransformer(override val uid: String) extends TFStage with HasInputCol with HasOutputCol {

  def this() = this(Identifiable.randomUID("TFImageTransformer"))

  final val inputTensor = new Param[String](this, "inputTensor", "the graph's image input tensor (op:index)")
  final val outputTensor = new Param[String](this, "outputTensor", "the graph's output tensor (op:index)")
  final val channelOrder = new Param[String](this, "channelOrder",
    "channel order the graph expects: RGB, BGR (Spark's image order) or L (grey)",
    ParamValidators.inArray(Array("RGB", "BGR", "L")))
  final val outputMode = new Param[String](this, "outputMode",
    "vector (an MLlib DenseVector, the default), array (the output tensor's own type: array<float> for " +
      "float32) or image (an image struct, float32 pixels)",
    ParamValidators.inArray(Array("vector", "array", "image")))
  final val resizeMethod = new Param[String](this, "resizeMethod",
    "how images are resized to the input tensor's size: bilinear, nearest, bicubic or lanczos3",
    ParamValidators.inArray(Array("bilinear", "nearest", "bicubic", "lanczos3")))
  final val scale = new DoubleParam(this, "scale", "pixel values (0-255) are multiplied by this first")
  final val mean = new DoubleArrayParam(this, "mean", "per-channel mean subtracted after scaling (empty: none)")
  final val std = new DoubleArrayParam(this, "std", "per-channel std divided by after the mean (empty: none)")
  final val layout = new Param[String](this, "layout", "tensor layout: NHWC (TensorFlow's) or NCHW",
    ParamValidators.inArray(Array("NHWC", "NCHW")))
  final val imageSize = new IntArrayParam(this, "imageSize",
    "[height, width] images are resized to when the input tensor's height and width are not fixed " +
      "(empty: each image's own size, one image per run when sizes differ); when they are fixed, " +
      "empty or equal to them",
    (v: Array[Int]) => v.isEmpty || (v.length == 2 && v.forall(_ > 0)))

  setDefault(channelOrder -> "RGB", outputMode -> "vector", resizeMethod -> "bilinear", scale -> 1.0,
    mean -> Array.emptyDoubleArray, std -> Array.emptyDoubleArray, layout -> "NHWC",
    imageSize -> Array.emptyIntArray)

  def setInputTensor(value: String): this.type = set(inputTensor, value)
  def getInputTensor: String = $(inputTensor)
  def setOutputTensor(value: String): this.type = set(outputTensor, value)
  def getOutputTensor: String = $(outputTensor)
  def setChannelOrder(value: String): this.type = set(channelOrder, value)
  def getChannelOrder: String = $(channelOrder)
  def setOutputMode(value: String): this.type = set(outputMode, value)
  def getOutputMode: String = $(outputMode)
  def setResizeMethod(value: String): this.type = set(resizeMethod, value)
  def setScale(value: Double): this.type = set(scale, value)
  def setMean(value: Array[Double]): this.type = set(mean, value)
  def setStd(value: Array[Double]): this.type = set(std, value)
  def setLayout(value: String): this.type = set(layout, value)
  def setImageSize(value: Array[Int]): this.type = set(imageSize, value)
  def getImageSize: Array[Int] = $(imageSize)

  private def channels: Int = if ($(channelOrder) == "L") 1 else 3

  /**
   * The resize target: the input tensor's height and width when fixed, else `imageSize` when
   * set, else None (each image's own size).
   */
  private def targetSize(t: TensorInfo): Option[(Long, Long)] = {
    val dims = t.shape.getOrElse(Seq.empty)
    if (dims.length != 4) {
      throw new IllegalArgumentException(
        s"inputTensor: '${t.name}' has shape ${t.shapeText}; an image input must be 4-D " +
          s"(batch, height, width, channels) for NHWC or (batch, channels, height, width) for NCHW")
    }
    val (h, w, c) = if ($(layout) == "NHWC") (dims(1), dims(2), dims(3)) else (dims(2), dims(3), dims(1))
    if (c > 0 && c != channels) {
      throw new IllegalArgumentException(
        s"channelOrder: '${t.name}' takes $c channels but channelOrder ${$(channelOrder)} gives $channels")
    }
    val requested = $(imageSize).map(_.toLong)
    if (h > 0 && w > 0) {
      if (requested.nonEmpty && requested.toSeq != Seq(h, w)) {
        throw new IllegalArgumentException(
          s"imageSize: '${t.name}' takes ${h}x$w images only; leave imageSize unset or set it to [$h, $w]")
      }
      Some((h, w))
    } else if (requested.nonEmpty) Some((requested(0), requested(1)))
    else None
  }

  /** (height, width, channels) of one output image, for outputMode "image". */
  private def outputImageShape(t: TensorInfo): (Int, Int, Int) = t.shape.map(_.drop(1)) match {
    case Some(Seq(h, w, c)) if h > 0 && w > 0 && c > 0 => (h.toInt, w.toInt, c.toInt)
    case Some(Seq(h, w)) if h > 0 && w > 0 => (h.toInt, w.toInt, 1)
    case _ => throw new IllegalArgumentException(
        s"outputMode: 'image' needs an output tensor of fixed shape (batch, height, width[, channels]); " +
          s"'${t.name}' has ${t.shapeText}. Use outputMode 'array' instead.")
  }

  override def transformSchema(schema: StructType): StructType = {
    Seq(inputCol, outputCol, inputTensor, outputTensor).foreach { p =>
      if (!isDefined(p)) throw new IllegalArgumentException(s"${p.name} is not set")
    }
    val field = schema.fields.find(_.name == $(inputCol)).getOrElse(throw new IllegalArgumentException(
        s"inputCol: no column '${$(inputCol)}' (columns: ${schema.fieldNames.mkString(", ")})"))
    field.dataType match {
      case t: StructType if t == ImageSchema.columnSchema =>
      case BinaryType | StringType =>
      case other => throw new IllegalArgumentException(
          s"inputCol: column '${field.name}' is ${other.simpleString}; it must be Spark's image struct " +
            "(readImages), encoded image bytes (binary, e.g. readImageFiles' content) or file paths (string)")
    }
    Seq(mean, std).foreach { p =>
      if ($(p).nonEmpty && $(p).length != channels) {
        throw new IllegalArgumentException(
          s"${p.name}: give one value per channel ($channels for ${$(channelOrder)}), got ${$(p).length}")
      }
    }
    val info = modelInfo
    val in = info.tensor($(inputTensor), "inputTensor")
    if (TFTransformer.sparkType(in, "inputTensor") != FloatType) {
      throw new IllegalArgumentException(s"inputTensor: '${in.name}' is ${in.dtype}; image inputs are fed as float32")
    }
    targetSize(in)
    val out = info.tensor($(outputTensor), "outputTensor")
    val elem = TFTransformer.sparkType(out, "outputTensor")
    val outType = $(outputMode) match {
      case "vector" => org.apache.spark.ml.linalg.SQLDataTypes.VectorType
      case "array" => ArrayType(elem, containsNull = false)
      case "image" => outputImageShape(out); ImageSchema.columnSchema
    }
    requireNewColumn(schema, $(outputCol), "outputCol")
    val errorName = errorColumnName($(outputCol))
    requireNewColumn(schema, errorName, "errorCol")
    StructType(schema.fields :+ StructField($(outputCol), outType, nullable = true) :+
      StructField(errorName, StringType, nullable = true))
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    val schema = transformSchema(dataset.schema)
    val out = modelInfo.tensor($(outputTensor), "outputTensor")
    $(outputMode) match {
      case "vector" =>
        runImages(dataset.toDF(), schema($(outputCol)), Map("kind" -> "vector"))
      case "array" =>
        runImages(dataset.toDF(), schema($(outputCol)), Map("kind" -> "list"))
      case "image" =>
        // Native code writes the float32 pixels (back in Spark's BGR order); the struct around
        // them is a plain Catalyst expression.
        val (h, w, c) = outputImageShape(out)
        val data = "__sparkdl_image_data"
        val df = dataset.toDF()
        val raw = runImages(df, StructField(data, BinaryType, nullable = true),
          Map("kind" -> "imageData", "channels" -> c, "swapRgb" -> ($(channelOrder) == "RGB")))
        val origin = df.schema($(inputCol)).dataType match {
          case _: StructType => col(s"${$(inputCol)}.origin")
          case StringType => col($(inputCol))
          case _ => lit("")
        }
        val errorName = schema.fields.last.name
        raw.select(df.columns.map(col).toSeq :+
            TFImageTransformer.imageColumn(col(data), origin, h, w, c).as($(outputCol)) :+ col(errorName): _*)
    }
  }

  /**
   * `df` with the model's output tensor as column `output` (laid out natively as `format`, see
   * `OutputFormat` in `rust/src/ops/run_model/outputs.rs`) and the error column.
   */
  private[sparkdl] def runImages(df: DataFrame, output: StructField, format: Map[String, Any]): DataFrame = {
    val in = modelInfo.tensor($(inputTensor), "inputTensor")
    val size = targetSize(in)
    val inputType = df.schema($(inputCol)).dataType
    val kind = inputType match {
      case BinaryType | StringType => "encoded"
      case _ => "struct"
    }
    // Paths are read on the executors (any Hadoop filesystem), row by row, as the batch is written.
    val input = inputType match {
      case StringType => SparkdlPlanner.input(df, ImageReader.readBytesColumn(col($(inputCol)), df.sparkSession))
      case _ => SparkdlPlanner.input(df, $(inputCol))
    }
    val image = Map(
      "kind" -> kind,
      "height" -> size.map(_._1), "width" -> size.map(_._2),
      "channelOrder" -> $(channelOrder), "resize" -> $(resizeMethod), "scale" -> $(scale),
      "mean" -> $(mean).toSeq, "std" -> $(std).toSeq, "layout" -> $(layout))
    val outTensor = modelInfo.tensor($(outputTensor), "outputTensor").name
    val spec = org.json4s.jackson.Serialization.write(Map(
        "inputs" -> Seq(Map("column" -> "image", "tensor" -> in.name, "image" -> image)),
        "outputs" -> Seq(Map("tensor" -> outTensor, "column" -> output.name, "format" -> format))
      ))(org.json4s.DefaultFormats)
    val errorName = errorColumnName($(outputCol))
    runNative(df, Seq(input), Seq("image"), Seq(output), errorName, spec, s"${in.name} -> $outTensor")
  }
}

object TFImageTransformer extends MLReadable[TFImageTransformer] {
  override def read: MLReader[TFImageTransformer] =
    new TFStage.Reader[TFImageTransformer](new TFImageTransformer(_), classOf[TFImageTransformer].getName)

  // A static `load(String)` on the class: Spark Connect's ML loads stages through it.
  override def load(path: String): TFImageTransformer = super.load(path)

  /**
   * Spark's image struct around float32 pixel bytes `data` (null stays null): mode CV_32FC1/3/4.
   */
  private[sparkdl] def imageColumn(data: Column, origin: Column, h: Int, w: Int, c: Int): Column = {
    val mode = c match {
      case 1 => ImageSchema.OcvTypes.CV_32FC1
      case 3 => ImageSchema.OcvTypes.CV_32FC3
      case _ => ImageSchema.OcvTypes.CV_32FC4
    }
    when(data.isNull, lit(null)).otherwise(struct(origin.cast(StringType).as("origin"),
        lit(h).as("height"), lit(w).as("width"), lit(c).as("nChannels"), lit(mode).as("mode"),
        data.as("data")))
  }
}
