package org.apache.spark.sql.sparkdl

import scala.reflect.ClassTag

import org.apache.spark.broadcast.Broadcast
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{classic, Column, DataFrame, Row, SparkSession}
import org.apache.spark.sql.execution.SparkStrategy
import org.apache.spark.sql.catalyst.{CatalystTypeConverters, FunctionIdentifier, InternalRow}
import org.apache.spark.sql.catalyst.expressions.{Alias, Expression, ExpressionInfo}
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project}
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.catalyst.util.ArrayData
import org.apache.spark.sql.types.StructType
import org.apache.spark.unsafe.types.UTF8String
import org.apache.spark.util.SerializableConfiguration

/**
 * The few Spark internals sparkdl needs, in one place (they are `private[sql]`, so this
 * object lives under `org.apache.spark.sql`). Keep it small: each member is a
 * compatibility point to re-check on a Spark upgrade.
 */
object SparkdlBridge {

  /** `df`'s analyzed logical plan. */
  def analyzed(df: DataFrame): LogicalPlan = classicDataset(df).queryExecution.analyzed

  /** A DataFrame over a logical plan (analyzed, not executed). */
  def ofRows(spark: SparkSession, plan: LogicalPlan): DataFrame = classic.Dataset.ofRows(classicSession(spark), plan)

  /** `column` resolved against `df`, as a Catalyst expression over `df`'s attributes. */
  def expression(df: DataFrame, column: Column): Expression =
    classicDataset(df).select(column).queryExecution.analyzed match {
      case Project(Seq(Alias(e, _)), _) => e
      case Project(Seq(e), _) => e
      case other => throw new IllegalStateException(s"expected a projection of one column, got $other")
    }

  /**
   * Registers (or replaces) a SQL function in this session's function registry: an unqualified
   * `name` as a temporary function (where each Spark minor keeps those: `TempFunctions`).
   */
  def registerFunction(spark: SparkSession, name: FunctionIdentifier, info: ExpressionInfo,
      builder: Seq[Expression] => Expression): Unit = {
    val key = if (name.database.isEmpty) TempFunctions.identifier(name.funcName) else name
    classicSession(spark).sessionState.functionRegistry.registerFunction(key, info, builder)
  }

  /**
   * The builder of SQL function `name` in this session (a Python UDF, a built-in, ...), resolved
   * when it is called, as the analyzer resolves a call (temporary, built-in, then persistent).
   */
  def functionBuilder(spark: SparkSession, name: FunctionIdentifier): Seq[Expression] => Expression = {
    val catalog = classicSession(spark).sessionState.catalog
    args => catalog.lookupFunction(name, args)
  }

  /**
   * Adds a planner strategy and optimizer rules to `spark`'s experimental methods, once (a
   * session with the sparkdl extension has them already and gains nothing by a second copy).
   */
  def addExperimental(spark: SparkSession, strategy: SparkStrategy, rules: Seq[Rule[LogicalPlan]]): Unit = {
    val exp = classicSession(spark).experimental
    exp.synchronized {
      if (!exp.extraStrategies.contains(strategy)) exp.extraStrategies = exp.extraStrategies :+ strategy
      // By class: a rule made per session (ExtractModelCalls) is added once too.
      val missing = rules.filterNot(r => exp.extraOptimizations.exists(_.getClass == r.getClass))
      if (missing.nonEmpty) exp.extraOptimizations = exp.extraOptimizations ++ missing
    }
  }

  /**
   * A DataFrame of (string, binary) rows, e.g. files' origins and bytes, with `schema` (two
   * columns of those types), built as Spark's internal rows without a conversion per row.
   */
  def filesDataFrame(spark: SparkSession, files: RDD[(String, Array[Byte])], schema: StructType): DataFrame = {
    val rows = files.map { case (name, bytes) => InternalRow(UTF8String.fromString(name), bytes) }
    classicSession(spark).internalCreateDataFrame(rows, schema, false)
  }

  /**
   * One row of a (key, array<float>) DataFrame as [[keyedFloatArrays]] hands it over: a view over
   * Spark's internal row, valid until the iterator moves on.
   */
  trait KeyedFloats {
    def key: Any
    def length: Int
    def isNullAt(j: Int): Boolean
    def float(j: Int): Float
  }

  /**
   * `f` over each partition of `df` (column 0 a key of any atomic type, column 1 an array of
   * floats, not null), with the partition's index. Read from Spark's internal rows: the floats
   * are taken from the row without a box or a copy each, only the key is converted to its Scala
   * value (a similarity index copies millions of vectors into blocks this way).
   */
  def keyedFloatArrays[T: ClassTag](df: DataFrame)(f: (Int, Iterator[KeyedFloats]) => Iterator[T]): RDD[T] = {
    val keyType = df.schema.fields(0).dataType
    classicDataset(df).queryExecution.toRdd.mapPartitionsWithIndex { (p, rows) =>
      val toScala = CatalystTypeConverters.createToScalaConverter(keyType)
      val view = new KeyedFloats {
        var row: InternalRow = _
        var values: ArrayData = _
        def key: Any = toScala(row.get(0, keyType))
        def length: Int = values.numElements()
        def isNullAt(j: Int): Boolean = values.isNullAt(j)
        def float(j: Int): Float = values.getFloat(j)
      }
      f(p,
        rows.map { r =>
          view.row = r
          view.values = r.getArray(1)
          view
        })
    }
  }

  /**
   * The session's Hadoop configuration, serializable so tasks can open files with it. One
   * broadcast per SparkContext and configuration, reused while neither changes: a stage that is
   * transformed for every query (a model applied to new files each minute) would otherwise
   * broadcast about a thousand settings each time (9 ms of a 25 ms `transform()`, measured).
   * The few most recent configurations are kept (sessions of one server may differ); one
   * dropped from here is cleaned up by Spark's ContextCleaner once nothing uses it.
   */
  def serializableHadoopConf(spark: SparkSession): Broadcast[SerializableConfiguration] = {
    import scala.jdk.CollectionConverters._
    val sc = spark.sparkContext
    val conf = classicSession(spark).sessionState.newHadoopConf()
    val settings = conf.iterator().asScala.map(e => e.getKey -> e.getValue).toMap
    HadoopConfs.synchronized {
      HadoopConfs.recent.filterInPlace { case ((c, _), _) => !c.isStopped }
      val key = (sc, settings)
      HadoopConfs.recent.remove(key) match {
        case Some(b) =>
          HadoopConfs.recent.put(key, b) // most recent last
          b
        case None =>
          val b = sc.broadcast(new SerializableConfiguration(conf))
          HadoopConfs.recent.put(key, b)
          while (HadoopConfs.recent.size > HadoopConfs.Kept) HadoopConfs.recent.remove(HadoopConfs.recent.head._1)
          b
      }
    }
  }

  private object HadoopConfs {
    val Kept = 4
    val recent = scala.collection.mutable.LinkedHashMap.empty[(org.apache.spark.SparkContext, Map[String, String]),
      Broadcast[SerializableConfiguration]]
  }

  /**
   * A size setting in bytes, read as Spark reads its own ("128m", "1g", a plain number of
   * bytes), with Spark's internal `JavaUtils` so that the two agree.
   */
  def byteSize(setting: String): Long = org.apache.spark.network.util.JavaUtils.byteStringAsBytes(setting)

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
