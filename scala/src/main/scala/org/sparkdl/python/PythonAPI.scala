package org.sparkdl.python

import org.apache.spark.sql.{DataFrame, SparkSession}

import org.sparkdl.image.ImageReader
import org.sparkdl.Sparkdl

/**
 * Entry points for the PySpark wrappers (called through py4j). Plain types only, no Scala
 * defaults: Python passes every argument.
 */
object PythonAPI {
  def readImages(
      spark: SparkSession,
      path: String,
      recursive: Boolean,
      numPartitions: Int,
      dropInvalid: Boolean,
      sampleRatio: Double): DataFrame =
    ImageReader.readImages(spark, path, recursive, numPartitions, dropInvalid, sampleRatio)

  def readImageFiles(
      spark: SparkSession,
      path: String,
      recursive: Boolean,
      numPartitions: Int,
      sampleRatio: Double): DataFrame =
    ImageReader.readImageFiles(spark, path, recursive, numPartitions, sampleRatio)

  /** Freezes a GraphDef (variables taken from the graph's own initial values) to `outputs`. */
  def freezeGraph(graphDef: Array[Byte], outputs: java.util.List[String]): Array[Byte] = {
    import scala.jdk.CollectionConverters._
    org.sparkdl.tf.TFModel.fromGraphDef(graphDef).freeze(outputs.asScala.toSeq).bytes
  }

  /** The libtensorflow version, read through JNI (a smoke test of the whole native stack). */
  def tensorflowVersion(): String = Sparkdl.tensorflowVersion()
}
