package org.apache.spark.ml.sparkdl

import org.apache.spark.ml.param.Params
import org.apache.spark.ml.util.{DefaultParamsReader, DefaultParamsWriter}
import org.apache.spark.sql.SparkSession

/**
 * Spark ML's own metadata format for saved stages (`private[ml]` helpers), so sparkdl stages
 * save and load exactly like MLlib's: `metadata/` with the params, plus our extra files.
 */
object MLBridge {
  def saveMetadata(instance: Params, path: String, spark: SparkSession): Unit =
    DefaultParamsWriter.saveMetadata(instance, path, spark)

  /** Loads `path`'s metadata, checks the class, and sets the saved params on `instance`. */
  def loadParams[T <: Params](instance: T, path: String, spark: SparkSession, expectedClass: String): T = {
    val metadata = DefaultParamsReader.loadMetadata(path, spark, expectedClass)
    metadata.getAndSetParams(instance)
    instance
  }

  def loadUid(path: String, spark: SparkSession, expectedClass: String): String =
    DefaultParamsReader.loadMetadata(path, spark, expectedClass).uid

  /** Any saved stage (its class read from its metadata), loaded with that class's own reader. */
  def loadStage[T](path: String, spark: SparkSession): T =
    DefaultParamsReader.loadParamsInstance[T](path, spark)
}
