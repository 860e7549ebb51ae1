package org.sparkdl.sql

import org.apache.spark.sql.SparkSessionExtensions

import org.sparkdl.plan.{NativeEvalStrategy, PruneNativeEval, PushFilterBelowNativeEval}

/**
 * sparkdl in every session of a Spark application: its SQL functions, the optimizer rules that
 * pull their calls into native nodes, and the planner strategy for those nodes.
 *
 * {{{
 *   spark-submit --conf spark.sql.extensions=org.sparkdl.sql.SparkdlExtensions ...
 * }}}
 *
 * Every session sees the functions, so do clients of the Thrift JDBC server and of Spark
 * Connect. `spark.sparkdl.sql.models=name=path,...` adds users' saved models by name.
 */
class SparkdlExtensions extends (SparkSessionExtensions => Unit) {
  override def apply(ext: SparkSessionExtensions): Unit = {
    // On another Spark minor than this jar's, the session fails to start, saying which jar to use.
    org.sparkdl.SparkVersion.check()
    (ModelFunctions.builtins ++ ModelFunctions.configured).foreach(ext.injectFunction)
    (ImageTableFunctions.all :+ NeighborsTableFunction.function).foreach(ext.injectTableFunction)
    ext.injectOptimizerRule(spark => new ExtractModelCalls(spark))
    ext.injectOptimizerRule(_ => PruneNativeEval)
    ext.injectOptimizerRule(_ => PushFilterBelowNativeEval)
    ext.injectPlannerStrategy(_ => NativeEvalStrategy)
  }
}

object SparkdlExtensions {

  /** The value of `spark.sql.extensions` that enables sparkdl. */
  val className: String = classOf[SparkdlExtensions].getName
}
