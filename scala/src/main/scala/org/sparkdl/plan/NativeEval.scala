package org.sparkdl.plan

import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeSet, Expression, PredicateHelper}
import org.apache.spark.sql.catalyst.plans.logical.{Filter, LogicalPlan, Project, UnaryNode}
import org.apache.spark.sql.catalyst.rules.Rule

/**
 * The logical plan node of every sparkdl model call and image decode: `op` evaluated in native
 * batches over `inputs` (expressions over the child's columns, usually plain columns). Its output
 * is the child's columns, less `dropped`, followed by `results` (one attribute per column of
 * `op.resultSchema`), one output row per input row, in order. Planned as [[NativeEvalExec]].
 *
 * It plays the part Spark's `ArrowEvalPython` plays for Python UDFs, so that model stages build
 * plans instead of running jobs: pruning and filters work around it, streams go through it, and
 * `explain()` shows it.
 *
 * `dropped` lists input columns that nothing above needs ([[PruneNativeEval]]): they reach
 * native code but are not carried on.
 */
case class NativeEval(
    op: NativeOp,
    inputs: Seq[Expression],
    results: Seq[Attribute],
    dropped: Seq[Attribute],
    child: LogicalPlan)
    extends UnaryNode {

  require(inputs.length == op.inputNames.length, "one input expression per native input column")
  require(results.length == op.resultSchema.length, "one result attribute per native result column")

  override def output: Seq[Attribute] = NativeEval.passThrough(child.output, dropped) ++ results

  override def producedAttributes: AttributeSet = AttributeSet(results)

  override def maxRows: Option[Long] = child.maxRows

  override def simpleString(maxFields: Int): String =
    s"NativeEval ${op.describe} [${inputs.map(_.sql).mkString(", ")}] -> [${results.mkString(", ")}]"

  override protected def withNewChildInternal(newChild: LogicalPlan): NativeEval = copy(child = newChild)
}

object NativeEval {

  /** The child's columns a node carries on. */
  def passThrough(childOutput: Seq[Attribute], dropped: Seq[Attribute]): Seq[Attribute] = {
    if (dropped.isEmpty) childOutput
    else {
      val gone = AttributeSet(dropped)
      childOutput.filterNot(gone.contains)
    }
  }
}

/**
 * Stops carrying input columns that the projection above does not use (Spark's column pruning
 * already narrows the child to what the node and its parent read; this narrows the node's own
 * output, so an image column that only feeds the model is not copied into every output row).
 */
object PruneNativeEval extends Rule[LogicalPlan] {
  override def apply(plan: LogicalPlan): LogicalPlan = plan transform {
    case p @ Project(_, e: NativeEval) =>
      val used = p.references
      val inputAttrs = AttributeSet(e.inputs.flatMap(_.references))
      val unused =
        NativeEval.passThrough(e.child.output, e.dropped).filter(a => inputAttrs.contains(a) && !used.contains(a))
      if (unused.isEmpty) p else p.copy(child = e.copy(dropped = e.dropped ++ unused))
  }
}

/**
 * Moves filters on the child's columns below the node, so rows a query filters out never reach
 * the model (Spark pushes filters through its own operators, not through ours).
 */
object PushFilterBelowNativeEval extends Rule[LogicalPlan] with PredicateHelper {
  override def apply(plan: LogicalPlan): LogicalPlan = plan transform {
    case f @ Filter(condition, e: NativeEval) =>
      val childCols = e.child.outputSet
      val (below, above) = splitConjunctivePredicates(condition).partition { c =>
        c.deterministic && c.references.subsetOf(childCols)
      }
      if (below.isEmpty) f
      else {
        val pushed = e.copy(child = Filter(below.reduce(org.apache.spark.sql.catalyst.expressions.And), e.child))
        if (above.isEmpty) pushed else Filter(above.reduce(org.apache.spark.sql.catalyst.expressions.And), pushed)
      }
  }
}
