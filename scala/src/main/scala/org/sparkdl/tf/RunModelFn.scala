package org.sparkdl.tf

import org.apache.spark.TaskContext
import org.apache.spark.broadcast.Broadcast

import org.sparkdl.arrow.NativeBatchFn
import org.sparkdl.jni.NativeLib

/**
 * Runs a model on each Arrow batch of a task. The model handle is taken on the first batch and
 * given back when the task completes; the session behind it is shared by the executor's tasks.
 */
private[sparkdl] class RunModelFn(model: Broadcast[TFModel], runSpecJson: String) extends NativeBatchFn {
  @transient private var handle: Long = 0L

  override def apply(inArray: Long, inSchema: Long, outArray: Long, outSchema: Long): Long = {
    if (handle == 0L) {
      handle = ModelHandles.acquire(model.value)
      val h = handle
      Option(TaskContext.get()).foreach(_.addTaskCompletionListener[Unit](_ => ModelHandles.release(h)))
    }
    NativeLib.runModel(handle, inArray, inSchema, outArray, outSchema, runSpecJson)
  }
}
