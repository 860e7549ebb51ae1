package org.sparkdl.sql

import java.util.concurrent.atomic.AtomicLong

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.analysis.TypeCheckResult
import org.apache.spark.sql.catalyst.expressions.{Alias, Attribute, AttributeReference, Expression, Unevaluable}
import org.apache.spark.sql.catalyst.plans.logical.{Filter, LocalRelation, LogicalPlan, Project}
import org.apache.spark.sql.catalyst.rules.Rule
import org.apache.spark.sql.sparkdl.SparkdlBridge
import org.apache.spark.sql.types.DataType

/**
 * A call of a sparkdl SQL function in a query: `model` (its constant arguments bound) applied to
 * `children`. It is never evaluated row by row: [[ExtractModelCalls]] replaces it, in the
 * optimizer, by a column of a native node it puts under the query (as Spark does for Python
 * UDFs), so the model runs in batches.
 */
case class ModelCall(model: SqlModel, children: Seq[Expression]) extends Expression with Unevaluable {

  override def nullable: Boolean = true

  // A model call is a function of its inputs, but it is declared non-deterministic so that the
  // optimizer neither copies it (into a pushed-down filter) nor merges its projection into an
  // aggregate before ExtractModelCalls has turned it into a native node's column; after that,
  // nothing non-deterministic is left and filters and pruning work around the node as usual.
  override lazy val deterministic: Boolean = false

  override def dataType: DataType = model.resultType(children.map(_.dataType)).fold(
    reason => throw new IllegalStateException(reason), identity)

  override def checkInputDataTypes(): TypeCheckResult =
    model.resultType(children.map(_.dataType)) match {
      case Right(_) => TypeCheckResult.TypeCheckSuccess
      case Left(reason) => TypeCheckResult.TypeCheckFailure(reason)
    }

  override def prettyName: String = model.function

  override def sql: String = s"${model.function}(${(children.map(_.sql) ++ model.constants).mkString(", ")})"

  override def toString: String = sql

  override protected def withNewChildrenInternal(newChildren: IndexedSeq[Expression]): ModelCall =
    copy(children = newChildren)
}

/**
 * Pulls sparkdl function calls out of projections and filters: each call becomes the output
 * column of the plan its model builds over the child (a native node and whatever the stage
 * adds around it), and the projection or filter reads that column.
 *
 * The stage is applied to a stand-in relation with the child's columns plus the call's inputs
 * (same attribute ids), so its plan is built and analyzed on its own; the stand-in is then
 * replaced by the real child with the inputs computed. The optimizer goes on with the result.
 */
class ExtractModelCalls(spark: SparkSession) extends Rule[LogicalPlan] {

  private def hasCall(e: Expression): Boolean = e.exists(_.isInstanceOf[ModelCall])

  override def apply(plan: LogicalPlan): LogicalPlan = plan transformUp {
    case p @ Project(list, child) if list.exists(hasCall) && list.forall(_.resolved) =>
      var newChild = child
      val rewritten = list.map(_.transformUp {
        case c: ModelCall if c.childrenResolved =>
          val (planned, out) = ExtractModelCalls.plan(spark, newChild, c)
          newChild = planned
          out
      }.asInstanceOf[org.apache.spark.sql.catalyst.expressions.NamedExpression])
      p.copy(projectList = rewritten, child = newChild)
    case f @ Filter(condition, child) if hasCall(condition) && condition.resolved =>
      var newChild = child
      val rewritten = condition.transformUp {
        case c: ModelCall if c.childrenResolved =>
          val (planned, out) = ExtractModelCalls.plan(spark, newChild, c)
          newChild = planned
          out
      }
      Project(child.output, Filter(rewritten, newChild))
  }
}

object ExtractModelCalls {
  private val ids = new AtomicLong()

  /** `child` with the call's result as a new column, and that column. */
  private[sql] def plan(spark: SparkSession, child: LogicalPlan, call: ModelCall): (LogicalPlan, Attribute) = {
    val id = ids.incrementAndGet()
    val inputs = call.children.zipWithIndex.map { case (e, i) =>
      AttributeReference(s"__sparkdl_in_${id}_$i", e.dataType, e.nullable)()
    }
    val standIn = LocalRelation(child.output ++ inputs)
    val outName = s"__sparkdl_out_$id"
    val built = SparkdlBridge.analyzed(call.model(SparkdlBridge.ofRows(spark, standIn), inputs.map(_.name), outName))
    val out = built.output.find(_.name == outName).getOrElse(throw new IllegalStateException(
        s"${call.model.function}: its plan has no column $outName (it has ${built.output.map(_.name).mkString(", ")})"))
    val ids0 = standIn.output.map(_.exprId)
    val computed = Project(child.output ++ call.children.zip(inputs).map { case (e, a) =>
        Alias(e, a.name)(exprId = a.exprId)
      }, child)
    val spliced = built.transformUp {
      case l: LocalRelation if l.data.isEmpty && l.output.map(_.exprId) == ids0 => computed
    }
    (spliced, out)
  }
}
