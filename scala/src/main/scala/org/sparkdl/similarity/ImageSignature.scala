package org.sparkdl.similarity

import org.apache.spark.ml.Transformer
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.ml.util.{DefaultParamsReadable, DefaultParamsWritable, Identifiable}
import org.apache.spark.sql.{DataFrame, Dataset, Row}
import org.apache.spark.sql.types.{ArrayType, FloatType, StructField, StructType}

import org.sparkdl.image.ImageSchema
import org.sparkdl.jni.{NativeLib, NativeLoader}
import org.sparkdl.param.{HasInputCol, HasOutputCol}

/**
 * A copy-detection signature of each image: 576 floats (`array<float>`, unit norm), close by
 * cosine for copies of one picture (resized, centre-cropped, re-encoded, brighter or darker)
 * and apart for different pictures, also in a collection of images that all look alike, where a
 * CNN's features are not. For [[Duplicates.find]] (at [[ImageSignature.DefaultThreshold]]) and
 * [[NearestNeighbors]], like any features:
 * {{{
 *   val sigs = new ImageSignature().setInputCol("image").setOutputCol("features").transform(images)
 *   Duplicates.find(sigs.selectExpr("image.origin AS id", "features"), ImageSignature.DefaultThreshold)
 * }}}
 * Computed natively (no model): luma, its horizontal gradient and chroma, each resized to 96 x 96
 * and pooled to 12 x 12 over a stack of centred crops; docs/SIMILARITY-SIGNATURE.md has the
 * method and its precision and recall. A null image gives a null signature, a flat one zeros.
 * Takes Spark's image struct of 8-bit pixels (1, 3 or 4 channels; alpha is ignored).
 */
class ImageSignature(override val uid: String)
    extends Transformer with HasInputCol with HasOutputCol with DefaultParamsWritable {

  def this() = this(Identifiable.randomUID("ImageSignature"))

  setDefault(inputCol -> "image", outputCol -> "signature")

  override def transformSchema(schema: StructType): StructType = {
    val field = schema.fields.find(_.name == $(inputCol)).getOrElse(throw new IllegalArgumentException(
        s"inputCol: no column '${$(inputCol)}' (columns: ${schema.fieldNames.mkString(", ")})"))
    if (field.dataType != ImageSchema.columnSchema) {
      throw new IllegalArgumentException(
        s"inputCol: column '${field.name}' is ${field.dataType.simpleString}; it must be Spark's image struct " +
          "(readImages, or sparkdl_decode_image of encoded bytes)")
    }
    if (schema.fieldNames.contains($(outputCol))) {
      throw new IllegalArgumentException(s"outputCol: there is already a column '${$(outputCol)}'; set a new name")
    }
    schema.add(StructField($(outputCol), ArrayType(FloatType, containsNull = false), nullable = true))
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    val schema = transformSchema(dataset.schema)
    val df = dataset.toDF()
    val (fi, column) = (df.schema.fieldIndex($(inputCol)), $(inputCol))
    val rows = df.rdd.mapPartitions { it =>
      NativeLoader.ensureLoaded()
      it.map { row =>
        val image = row.getStruct(fi)
        Row.fromSeq(row.toSeq :+ (if (image == null) null else ImageSignature.of(image, column).toSeq))
      }
    }
    df.sparkSession.createDataFrame(rows, schema)
  }

  override def copy(extra: ParamMap): ImageSignature = defaultCopy(extra)
}

object ImageSignature extends DefaultParamsReadable[ImageSignature] {

  /**
   * The cosine at and above which two signatures are taken as copies: the highest threshold at
   * which every test set of diverse photos kept precision 1.0 and recall >= 0.95
   * (docs/SIMILARITY-SIGNATURE.md; for collections of near-identical images, 0.975 trades recall
   * for precision).
   */
  val DefaultThreshold: Double = 0.96

  private val eightBit = Set(ImageSchema.OcvTypes.CV_8UC1, ImageSchema.OcvTypes.CV_8UC3, ImageSchema.OcvTypes.CV_8UC4)

  /** The signature of one image struct of column `column`; a reason naming the image if it has none. */
  private[similarity] def of(image: Row, column: String): Array[Float] = {
    val (origin, height, width, channels, mode) =
      (image.getString(0), image.getInt(1), image.getInt(2), image.getInt(3), image.getInt(4))
    if (!eightBit.contains(mode)) {
      throw new IllegalArgumentException(
        s"column '$column', image '$origin': mode $mode is not 8-bit (CV_8UC1/3/4); signatures take images as " +
          "readImages decodes them")
    }
    try NativeLib.imageSignature(image.getAs[Array[Byte]](5), height, width, channels)
    catch {
      case e: IllegalArgumentException =>
        throw new IllegalArgumentException(s"column '$column', image '$origin': ${e.getMessage}", e)
    }
  }

  override def load(path: String): ImageSignature = super.load(path)
}
