package org.sparkdl.image

import org.apache.spark.sql.types.StructType

import org.sparkdl.jni.NativeLib
import org.sparkdl.plan.{NativeCall, NativeOp}

/** Native image decoding: (origin, content) rows to (image struct, error) rows. */
private[sparkdl] case class DecodeImagesOp(
    options: org.sparkdl.engine.Contract.DecodeConfig,
    batchSize: Int,
    imageCol: String = "image",
    errorCol: String = "error")
    extends NativeOp {
  override def inputNames: Seq[String] = Seq("origin", "content")
  override def resultSchema: StructType = StructType(Seq(
      ImageSchema.readImagesSchema("image").copy(name = imageCol),
      ImageSchema.readImagesSchema("error").copy(name = errorCol)))
  private val optionsJson = org.sparkdl.engine.Contract.json(options)
  override def describe: String = s"decodeImages $optionsJson"
  override def open(): NativeCall = new NativeCall {
    override def apply(inArray: Long, inSchema: Long, outArray: Long, outSchema: Long): Long =
      NativeLib.decodeImages(inArray, inSchema, outArray, outSchema, optionsJson)
    override def close(): Unit = ()
  }
}
