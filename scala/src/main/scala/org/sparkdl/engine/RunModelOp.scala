package org.sparkdl.engine

import org.apache.spark.broadcast.Broadcast
import org.apache.spark.sql.types.StructType

import org.sparkdl.jni.NativeLib
import org.sparkdl.plan.{NativeCall, NativeOp}

/**
 * A model run as a native operation: `runSpec` (inputs, outputs and their layouts) over batches
 * of `batchSize` rows, in `precision` (float32 or bf16, resolved on the driver). The model handle
 * is taken on a task's first batch and given back when its partition is done; the session behind
 * it is shared by the executor's tasks (one per model and settings), whatever the backend.
 */
private[sparkdl] case class RunModelOp(
    model: Broadcast[NativeModel],
    runSpec: Contract.RunSpec,
    inputNames: Seq[String],
    resultSchema: StructType,
    batchSize: Int,
    describe: String,
    precision: String = EngineSettings.DefaultPrecision)
    extends NativeOp {

  private val runSpecJson = Contract.json(runSpec)

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
