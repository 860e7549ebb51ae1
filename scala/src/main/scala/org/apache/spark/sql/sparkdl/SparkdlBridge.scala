package org.apache.spark.sql.sparkdl

import org.apache.arrow.vector.types.pojo.Schema

import org.apache.spark.broadcast.Broadcast
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{classic, DataFrame, Row, SparkSession}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.StructType
import org.apache.spark.sql.util.ArrowUtils
import org.apache.spark.util.SerializableConfiguration

/**
 * The few Spark internals sparkdl needs, in one place (they are `private[sql]`, so this
 * object lives under `org.apache.spark.sql`). Keep it small: each member is a
 * compatibility point to re-check on a Spark upgrade.
 */
object SparkdlBridge {

  /** Spark schema to Arrow schema, the way Spark's own Arrow paths convert it. */
  def toArrowSchema(schema: StructType, timeZoneId: String): Schema =
    ArrowUtils.toArrowSchema(schema, timeZoneId, true, false)

  /** The rows of `df` as Spark's internal rows, without converting them to `Row`s. */
  def internalRows(df: DataFrame): RDD[InternalRow] = classicDataset(df).queryExecution.toRdd

  /** A DataFrame over internal rows that already match `schema`. */
  def createDataFrame(spark: SparkSession, rows: RDD[InternalRow], schema: StructType): DataFrame =
    classicSession(spark).internalCreateDataFrame(rows, schema, false)

  /** The session's Hadoop configuration, serializable so tasks can open files with it. */
  def serializableHadoopConf(spark: SparkSession): Broadcast[SerializableConfiguration] =
    spark.sparkContext.broadcast(new SerializableConfiguration(classicSession(spark).sessionState.newHadoopConf()))

  def sessionTimeZone(spark: SparkSession): String =
    classicSession(spark).sessionState.conf.sessionLocalTimeZone

  private def classicDataset(df: DataFrame): classic.Dataset[Row] = df match {
    case d: classic.Dataset[Row @unchecked] => d
    case other =>
      throw new UnsupportedOperationException(
        s"sparkdl needs a classic Spark session (got a ${other.getClass.getName}); Spark Connect " +
          "clients are not supported yet: run the job in the Spark driver (spark-submit, a notebook " +
          "attached to the cluster, or local mode).")
  }

  private def classicSession(spark: SparkSession): classic.SparkSession = spark match {
    case s: classic.SparkSession => s
    case other =>
      throw new UnsupportedOperationException(
        s"sparkdl needs a classic Spark session (got a ${other.getClass.getName}); Spark Connect " +
          "clients are not supported yet.")
  }
}
