package org.sparkdl.transformers

import java.nio.{ByteBuffer, ByteOrder}

import org.apache.spark.ml.functions.array_to_vector
import org.apache.spark.ml.param.{DoubleArrayParam, DoubleParam, IntArrayParam, Param, ParamValidators}
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{Column, DataFrame, Dataset}
import org.apache.spark.sql.functions.{col, lit, struct, udf, when}
import org.apache.spark.sql.types._

import org.sparkdl.image.{ImageReader, ImageSchema}
import org.sparkdl.param.{HasInputCol, HasOutputCol}
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
    "vector (an MLlib DenseVector), array (array<double>) or image (an image struct, float32 pixels)",
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
    TFTransformer.sparkType(out, "outputTensor")
    val outType = $(outputMode) match {
      case "vector" => org.apache.spark.ml.linalg.SQLDataTypes.VectorType
      case "array" => ArrayType(DoubleType, containsNull = false)
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
    val df = dataset.toDF()
    val original = df.columns.toSeq
    val in = modelInfo.tensor($(inputTensor), "inputTensor")
    val size = targetSize(in)
    val kind = df.schema($(inputCol)).dataType match {
      case BinaryType | StringType => "encoded"
      case _ => "struct"
    }
    val source: Column = df.schema($(inputCol)).dataType match {
      case StringType => ImageReader.readBytesColumn(col($(inputCol)))
      case _ => col($(inputCol))
    }
    val rawOut = s"__sparkdl_out"
    val prepared = df.select(original.map(col) :+ source.as("__sparkdl_in_0"): _*)
    val image = Map(
      "kind" -> kind,
      "height" -> size.map(_._1), "width" -> size.map(_._2),
      "channelOrder" -> $(channelOrder), "resize" -> $(resizeMethod), "scale" -> $(scale),
      "mean" -> $(mean).toSeq, "std" -> $(std).toSeq, "layout" -> $(layout))
    val spec = org.json4s.jackson.Serialization.write(Map(
      "inputs" -> Seq(Map("column" -> "__sparkdl_in_0", "tensor" -> in.name, "image" -> image)),
      "outputs" -> Seq(Map("tensor" -> modelInfo.tensor($(outputTensor), "outputTensor").name, "column" -> rawOut))
    ))(org.json4s.DefaultFormats)
    val errorName = schema.fields.last.name
    val raw = runNative(prepared, original, Seq("__sparkdl_in_0"),
      Seq(StructField(rawOut, ArrayType(DoubleType, containsNull = false), nullable = true)), errorName, spec)
    val output: Column = $(outputMode) match {
      case "vector" => when(col(rawOut).isNull, lit(null)).otherwise(array_to_vector(col(rawOut)))
      case "array" => col(rawOut)
      case "image" =>
        val (h, w, c) = outputImageShape(modelInfo.tensor($(outputTensor), "outputTensor"))
        val origin = df.schema($(inputCol)).dataType match {
          case _: StructType => col(s"${$(inputCol)}.origin")
          case StringType => col($(inputCol))
          case _ => lit("")
        }
        TFImageTransformer.toImageColumn(col(rawOut), origin, h, w, c, $(channelOrder) == "RGB")
    }
    raw.select(original.map(col) :+ output.as($(outputCol)) :+ col(errorName): _*)
  }
}

object TFImageTransformer extends MLReadable[TFImageTransformer] {
  override def read: MLReader[TFImageTransformer] =
    new TFStage.Reader[TFImageTransformer](new TFImageTransformer(_), classOf[TFImageTransformer].getName)

  /**
   * Output values (row-major h x w x c) to Spark's image struct with float32 pixels (CV_32FC*),
   * channels put back in Spark's BGR order when the graph worked in RGB.
   */
  private[sparkdl] def toImageColumn(values: Column, origin: Column, h: Int, w: Int, c: Int, fromRgb: Boolean): Column = {
    val toBytes = udf { (values: Seq[Double]) =>
      val buf = ByteBuffer.allocate(h * w * c * 4).order(ByteOrder.LITTLE_ENDIAN)
      if (values != null) {
        // One pass into an array: Spark may hand the UDF a Seq without O(1) indexing.
        val v = values.toArray
        var p = 0
        while (p < h * w) {
          var k = 0
          while (k < c) {
            val src = if (fromRgb && c >= 3 && k < 3) 2 - k else k
            buf.putFloat(v(p * c + src).toFloat)
            k += 1
          }
          p += 1
        }
      }
      buf.array()
    }.asNonNullable()
    val mode = c match {
      case 1 => ImageSchema.OcvTypes.CV_32FC1
      case 3 => ImageSchema.OcvTypes.CV_32FC3
      case _ => ImageSchema.OcvTypes.CV_32FC4
    }
    when(values.isNull, lit(null)).otherwise(struct(origin.cast(StringType).as("origin"),
      lit(h).as("height"), lit(w).as("width"), lit(c).as("nChannels"), lit(mode).as("mode"),
      toBytes(values).as("data")))
  }
}
