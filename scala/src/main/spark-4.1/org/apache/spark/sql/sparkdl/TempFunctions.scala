package org.apache.spark.sql.sparkdl

import org.apache.spark.sql.catalyst.FunctionIdentifier

/**
 * The key of a session's temporary function in its `FunctionRegistry`. Up to Spark 4.1 the
 * registry keys temporary and built-in functions alike by their bare name.
 */
private[sparkdl] object TempFunctions {
  def identifier(name: String): FunctionIdentifier = FunctionIdentifier(name)
}
