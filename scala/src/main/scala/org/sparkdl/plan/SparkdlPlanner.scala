package org.sparkdl.plan

import org.apache.spark.sql.{Column, DataFrame, SparkSession}
import org.apache.spark.sql.catalyst.expressions.{Alias, Attribute, AttributeReference, AttributeSet, Expression}
import org.apache.spark.sql.catalyst.plans.logical.{LogicalPlan, Project}
import org.apache.spark.sql.execution.{SparkPlan, SparkStrategy}
import org.apache.spark.sql.sparkdl.SparkdlBridge

/** Plans [[NativeEval]] as [[NativeEvalExec]]. */
object NativeEvalStrategy extends SparkStrategy {
  override def apply(plan: LogicalPlan): Seq[SparkPlan] = plan match {
    case e: NativeEval => NativeEvalExec(e.op, e.inputs, e.results, e.dropped, planLater(e.child)) :: Nil
    case _ => Nil
  }
}

/**
 * Puts native operations into DataFrame plans. The planner strategy and the two optimizer rules
 * come with the session extension (`spark.sql.extensions`); sessions without it get them through
 * `spark.experimental` the first time a sparkdl stage builds a plan there.
 */
object SparkdlPlanner {

  val optimizerRules = Seq(PruneNativeEval, PushFilterBelowNativeEval)

  /** Makes sure `spark` can plan and optimize [[NativeEval]] nodes. */
  def install(spark: SparkSession): Unit = {
    org.sparkdl.SparkVersion.check()
    if (!hasExtension(spark)) SparkdlBridge.addExperimental(spark, NativeEvalStrategy, optimizerRules)
  }

  /**
   * [[install]], and the rule that turns calls of sparkdl's SQL functions into native nodes: for
   * a function registered ([[org.sparkdl.sql.ModelFunctions.register]]) in a session without the
   * extension, whose calls would otherwise reach code generation, which cannot run them.
   */
  def installSql(spark: SparkSession): Unit = {
    org.sparkdl.SparkVersion.check()
    if (!hasExtension(spark)) {
      SparkdlBridge.addExperimental(spark, NativeEvalStrategy,
        new org.sparkdl.sql.ExtractModelCalls(spark) +: optimizerRules)
    }
  }

  private def hasExtension(spark: SparkSession): Boolean =
    spark.conf.getOption("spark.sql.extensions").getOrElse("").split(",").map(_.trim)
      .contains(org.sparkdl.sql.SparkdlExtensions.className)

  /**
   * `df` with `op` applied to `inputs` (expressions over `df`'s columns, see [[input]]): `df`'s
   * columns, less `drop` (op inputs only), followed by one column per column of
   * `op.resultSchema`. Builds a plan; runs nothing.
   */
  def apply(df: DataFrame, op: NativeOp, inputs: Seq[Expression], drop: Seq[Attribute] = Nil): DataFrame = {
    val spark = df.sparkSession
    install(spark)
    val results = op.resultSchema.fields.toSeq.map(f => AttributeReference(f.name, f.dataType, f.nullable)())
    val node = NativeEval(op, inputs, results, drop, SparkdlBridge.analyzed(df))
    // The results are named again by a projection: the analyzer gives a projection's aliases new
    // ids where a plan meets itself (a self-join), which it cannot do for a node it does not know.
    // The optimizer removes the projection where nothing needs it.
    val produced = AttributeSet(results)
    val named = node.output.map(a => if (produced.contains(a)) Alias(a, a.name)() else a)
    SparkdlBridge.ofRows(spark, Project(named, node))
  }

  /** Column `name` of `df` as an input. */
  def input(df: DataFrame, name: String): Attribute = {
    val output = SparkdlBridge.analyzed(df).output
    output.find(_.name == name).getOrElse(throw new IllegalArgumentException(
        s"no column '$name' (columns: ${output.map(_.name).mkString(", ")})"))
  }

  /** A column expression over `df` (e.g. a file read from a path column) as an input. */
  def input(df: DataFrame, column: Column): NativeInput = SparkdlBridge.expression(df, column)
}
