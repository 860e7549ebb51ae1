package org.sparkdl.tf

import org.apache.spark.broadcast.Broadcast
import org.apache.spark.sql.types.StructType

import org.sparkdl.jni.NativeLib
import org.sparkdl.plan.{NativeCall, NativeOp}

/**
 * A model run as a native operation: `runSpecJson` (inputs, outputs and their layouts, see
 * `rust/src/ops/run_model.rs`) over batches of `batchSize` rows, in `precision` (float32 or
 * bf16, resolved on the driver). The model handle is taken on a task's first batch and given
 * back when its partition is done; the TensorFlow session behind it is shared by the executor's
 * tasks (one per model and settings).
 */
private[sparkdl] case class RunModelOp(
    model: Broadcast[TFModel],
    runSpecJson: String,
    inputNames: Seq[String],
    resultSchema: StructType,
    batchSize: Int,
    describe: String,
    precision: String = SessionSettings.DefaultPrecision)
    extends NativeOp {

  override def open(): NativeCall = new NativeCall {
    private var handle = 0L

    // The session's settings name the task's GPUs: taken on the task's thread.
    override def prepare(): Unit = if (handle == 0L) handle = ModelHandles.acquire(model.value, precision)

    override def apply(inArray: Long, inSchema: Long, outArray: Long, outSchema: Long): Long = {
      prepare()
      NativeLib.runModel(handle, inArray, inSchema, outArray, outSchema, runSpecJson)
    }

    override def close(): Unit = if (handle != 0L) {
      val h = handle
      handle = 0L
      ModelHandles.release(h)
    }
  }
}

/**
 * The broadcast of a stage's model, made once and reused by every `transform()` of the stage
 * (and of its copies) while the model and the SparkContext stay the same.
 */
private[sparkdl] final class ModelBroadcast {
  @transient private var current: (TFModel, org.apache.spark.SparkContext, Broadcast[TFModel]) = _

  def apply(sc: org.apache.spark.SparkContext, model: TFModel): Broadcast[TFModel] = synchronized {
    val c = current
    if (c != null && (c._1 eq model) && (c._2 eq sc) && !sc.isStopped) c._3
    else {
      val b = sc.broadcast(model)
      current = (model, sc, b)
      b
    }
  }
}
