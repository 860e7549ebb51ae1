package org.apache.spark.sql.sparkdl

import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.connector.catalog.CatalogManager

/**
 * The key of a session's temporary function in its `FunctionRegistry`. From Spark 4.2 the
 * registry takes only fully qualified names (it asserts `catalog.database.name`), and keeps
 * temporary functions in `system.session`, as `createOrReplaceTempFunction` (spark.udf.register)
 * does; unqualified calls find them there.
 */
private[sparkdl] object TempFunctions {
  def identifier(name: String): FunctionIdentifier =
    FunctionIdentifier(name, Some(CatalogManager.SESSION_NAMESPACE), Some(CatalogManager.SYSTEM_CATALOG_NAME))
}
