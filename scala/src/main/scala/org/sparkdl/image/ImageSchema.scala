package org.sparkdl.image

import org.apache.spark.sql.types._

/**
 * Spark's image layout (`spark.read.format("image")`, `org.apache.spark.ml.image.ImageSchema`):
 * a struct of origin, height, width, nChannels, OpenCV mode and the pixel bytes in row-major,
 * BGR(A) order. sparkdl reads, writes and feeds models with exactly this struct.
 */
object ImageSchema {

  /** The image struct type, equal to Spark's `ImageSchema.columnSchema`. */
  val columnSchema: StructType = org.apache.spark.ml.image.ImageSchema.columnSchema

  /** The schema of [[ImageReader.readImages]]: the image and why it is null when it is. */
  val readImagesSchema: StructType = StructType(Seq(
      StructField("image", columnSchema, nullable = true),
      StructField("error", StringType, nullable = true)))

  /** The schema of [[ImageReader.readImageFiles]]: a file's path and its encoded bytes. */
  val imageFilesSchema: StructType = StructType(Seq(
      StructField("origin", StringType, nullable = false),
      StructField("content", BinaryType, nullable = true)))

  /** OpenCV type codes used in the `mode` field. */
  object OcvTypes {
    val CV_8UC1 = 0
    val CV_8UC3 = 16
    val CV_8UC4 = 24
    val CV_32FC1 = 5
    val CV_32FC3 = 21
    val CV_32FC4 = 29
  }
}
