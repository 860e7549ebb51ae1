package org.sparkdl

package object plan {

  /**
   * One input of a native operation: an expression over a DataFrame's columns, made by
   * [[SparkdlPlanner.input]]. Code outside the Spark-internals layer (stages, readers) passes it
   * on to [[SparkdlPlanner]] without looking inside, so it never touches Catalyst itself.
   */
  type NativeInput = org.apache.spark.sql.catalyst.expressions.Expression
}
