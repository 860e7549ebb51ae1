package org.sparkdl.sql

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpressionInfo}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.sparkdl.SparkdlBridge
import org.apache.spark.sql.types.{IntegerType, StringType}

import org.sparkdl.similarity.NearestNeighbors
import org.sparkdl.sql.ImageTableFunctions.{info, values, Arg}

/**
 * Each query's k nearest index rows, as a table-valued function (Spark has no top-k join a
 * library can extend; `NEAREST k BY` is not in any release):
 * {{{
 *   SELECT qid, n.id, n.score
 *   FROM sparkdl_nearest_neighbors('photos_index', 'queries', 5)
 *   LATERAL VIEW explode(neighbors) AS n
 * }}}
 * Arguments: index table, queries table, k (10), metric ('cosine' or 'l2'), featuresCol
 * ('features', in both tables) and idCol ('id', the index's). The result is the queries' rows
 * with `neighbors`: array<struct<id, score>>, as [[NearestNeighbors]] gives. The index's blocks
 * are built when the query is analysed (one Spark job), once per query.
 */
object NeighborsTableFunction {

  val name = "sparkdl_nearest_neighbors"

  private val spec = Seq(Arg("index", StringType, null), Arg("queries", StringType, null), Arg("k", IntegerType, 10),
    Arg("metric", StringType, "cosine"), Arg("featuresCol", StringType, "features"), Arg("idCol", StringType, "id"))

  private def build(args: Seq[Expression]): LogicalPlan = {
    val Seq(index, queries, k, metric, features, id) = values(name, spec, args)
    val spark = SparkSession.active
    def table(what: String, t: Any) =
      try spark.table(t.toString)
      catch {
        case e: Exception =>
          throw new IllegalArgumentException(s"$name: the $what table '$t' cannot be read (${e.getMessage}); " +
              "name a table or a temporary view", e)
      }
    val model = new NearestNeighbors().setK(k.asInstanceOf[Int]).setMetric(metric.toString)
      .setFeaturesCol(features.toString).setIdCol(id.toString).fit(table("index", index))
    SparkdlBridge.analyzed(model.transform(table("queries", queries)))
  }

  val function: (FunctionIdentifier, ExpressionInfo, Seq[Expression] => LogicalPlan) =
    (FunctionIdentifier(name),
      info(name,
        "_FUNC_(index, queries[, k[, metric[, featuresCol[, idCol]]]]) - the queries table's rows with their k " +
          "nearest index rows (neighbors: array<struct<id, score>>, best first)."),
      build _)
}
