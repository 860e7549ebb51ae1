package org.apache.spark.sparkdl

import org.apache.spark.SparkContext

/** Test access to Spark's `private[spark]` listener bus: listeners get events asynchronously. */
object ListenerBusAccess {

  /** Blocks until every event posted so far has reached every listener (as Spark's own tests do). */
  def waitUntilEmpty(sc: SparkContext): Unit = sc.listenerBus.waitUntilEmpty()
}
