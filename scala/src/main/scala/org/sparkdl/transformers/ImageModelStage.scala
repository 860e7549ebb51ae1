package org.sparkdl.transformers

import org.apache.spark.sql.{Column, DataFrame, Dataset}
import org.apache.spark.sql.functions.{col, lit, struct, when}
import org.apache.spark.sql.types._

import org.sparkdl.engine.{DTypes, TensorInfo}
import org.sparkdl.engine.Contract.{ImageSpec, InputSpec, OutputFormat, OutputSpec, RunSpec}
import org.sparkdl.image.{ImageReader, ImageSchema}
import org.sparkdl.param.{HasImagePreprocessing, HasInputCol, HasOutputCol, HasOutputMode}
import org.sparkdl.plan.SparkdlPlanner

/**
 * A model that takes images, on any engine: TFImageTransformer and ONNXImageTransformer. The
 * input column holds Spark's image structs (`readImages`), encoded image bytes (`readImageFiles`'s
 * `content`) or file paths/URIs (read on the executors); preprocessing ([[HasImagePreprocessing]])
 * runs in Rust in the same pass as inference.
 */
private[sparkdl] abstract class ImageModelStage
    extends ModelStage with HasInputCol with HasOutputCol with HasOutputMode with HasImagePreprocessing {

  override protected def outputModes: Seq[String] = Seq("vector", "array", "image")

  /** The model's image input, resolved (named by the stage's own Param, or its default). */
  protected def modelInput: TensorInfo

  /** The model's output the stage reads, resolved likewise. */
  protected def modelOutput: TensorInfo

  /** The Param names of those two, for messages. */
  protected def inputParam: String
  protected def outputParam: String

  private def channels: Int = if ($(channelOrder) == "L") 1 else 3

  /**
   * The resize target: the input's height and width when fixed, else `imageSize` when set, else
   * None (each image's own size).
   */
  private def targetSize(t: TensorInfo): Option[(Long, Long)] = {
    val dims = t.shape.getOrElse(Seq.empty)
    if (dims.length != 4) {
      throw new IllegalArgumentException(
        s"$inputParam: '${t.name}' has shape ${t.shapeText}; an image input must be 4-D " +
          s"(batch, height, width, channels) for NHWC or (batch, channels, height, width) for NCHW")
    }
    val (h, w, c) = if ($(layout) == "NHWC") (dims(1), dims(2), dims(3)) else (dims(2), dims(3), dims(1))
    if (c > 0 && c != channels) {
      val other = if ($(layout) == "NHWC") "NCHW" else "NHWC"
      throw new IllegalArgumentException(
        s"channelOrder/layout: '${t.name}' ${t.shapeText} takes $c channels in layout ${$(layout)} but channelOrder " +
          s"${$(channelOrder)} gives $channels; check the layout (this model may be $other) and channelOrder")
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
        s"outputMode: 'image' needs an output of fixed shape (batch, height, width[, channels]); " +
          s"'${t.name}' has ${t.shapeText}. Use outputMode 'array' instead.")
  }

  override def transformSchema(schema: StructType): StructType = {
    Seq(inputCol, outputCol).foreach { p =>
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
    val in = modelInput
    if (!Seq("float32", "float16").contains(in.dtype.toLowerCase)) {
      throw new IllegalArgumentException(
        s"$inputParam: '${in.name}' is ${in.dtype}; image inputs are fed as float32 (or float16)")
    }
    targetSize(in)
    val out = modelOutput
    val elem = DTypes.sparkType(out, outputParam)
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
    $(outputMode) match {
      case "vector" => runImages(dataset.toDF(), schema($(outputCol)), OutputFormat.Vector)
      case "array" => runImages(dataset.toDF(), schema($(outputCol)), OutputFormat.List)
      case "image" =>
        // Native code writes the float32 pixels (back in Spark's BGR order); the struct around
        // them is a plain Catalyst expression.
        val (h, w, c) = outputImageShape(modelOutput)
        val data = "__sparkdl_image_data"
        val df = dataset.toDF()
        val raw = runImages(df, StructField(data, BinaryType, nullable = true),
          OutputFormat.ImageData(c, swapRgb = $(channelOrder) == "RGB"))
        val origin = df.schema($(inputCol)).dataType match {
          case _: StructType => col(s"${$(inputCol)}.origin")
          case StringType => col($(inputCol))
          case _ => lit("")
        }
        val errorName = schema.fields.last.name
        raw.select(df.columns.map(col).toSeq :+
            ImageModelStage.imageColumn(col(data), origin, h, w, c).as($(outputCol)) :+ col(errorName): _*)
    }
  }

  /** `df` with the model's output as column `output`, laid out natively as `format`, and the error column. */
  private[sparkdl] def runImages(df: DataFrame, output: StructField, format: OutputFormat): DataFrame = {
    val in = modelInput
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
    val image = ImageSpec(kind, size.map(_._1.toInt), size.map(_._2.toInt), $(channelOrder), $(resizeMethod),
      $(scale), $(mean).toSeq, $(std).toSeq, $(layout))
    val out = modelOutput.name
    val spec = RunSpec(Seq(InputSpec("image", in.name, Some(image))), Seq(OutputSpec(out, output.name, format)))
    runNative(df, Seq(input), Seq("image"), Seq(output), errorColumnName($(outputCol)), spec, s"${in.name} -> $out")
  }
}

private[sparkdl] object ImageModelStage {

  /** Spark's image struct around float32 pixel bytes `data` (null stays null): mode CV_32FC1/3/4. */
  def imageColumn(data: Column, origin: Column, h: Int, w: Int, c: Int): Column = {
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
