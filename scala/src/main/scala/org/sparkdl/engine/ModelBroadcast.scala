package org.sparkdl.engine

import org.apache.spark.SparkContext
import org.apache.spark.broadcast.Broadcast

/**
 * The broadcast of a stage's model, made once and reused by every `transform()` of the stage
 * (and of its copies) while the model and the SparkContext stay the same.
 */
private[sparkdl] final class ModelBroadcast {
  @transient private var current: (NativeModel, SparkContext, Broadcast[NativeModel]) = _

  def apply(sc: SparkContext, model: NativeModel): Broadcast[NativeModel] = synchronized {
    val c = current
    if (c != null && (c._1 eq model) && (c._2 eq sc) && !sc.isStopped) c._3
    else {
      val b = sc.broadcast(model)
      current = (model, sc, b)
      b
    }
  }
}
