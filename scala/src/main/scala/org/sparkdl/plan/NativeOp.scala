package org.sparkdl.plan

import org.apache.spark.sql.types.StructType

/**
 * A native batch operation that a [[NativeEval]] node applies to its input columns: image
 * decoding, or a model run. It is a plain, serializable description (options, a broadcast model)
 * shipped to executors, where [[open]] makes the per-task caller.
 *
 * Contract of the native side: it takes an Arrow struct batch whose columns are named
 * `inputNames` and returns one of exactly the same row count, in order, whose columns match
 * `resultSchema` by position (Arrow types that Spark's `ArrowColumnVector` reads as those types).
 */
trait NativeOp extends Serializable {

  /** The names of the Arrow input columns, one per input expression of the node. */
  def inputNames: Seq[String]

  /** The columns the native call returns, in order. */
  def resultSchema: StructType

  /** Rows per native call. */
  def batchSize: Int

  /** One line for `explain()`: what runs (the model, its tensors or the decoder's options). */
  def describe: String

  /** The per-task caller, on an executor. Closed when the task's partition is done. */
  def open(): NativeCall
}

/** One task's use of a [[NativeOp]]. */
trait NativeCall extends AutoCloseable {

  /**
   * Called on the task's own thread before the first batch: whatever needs the task (its
   * `TaskContext`, e.g. the GPUs Spark gave it) is set up here, since batches may run on another
   * thread (see `NativeBatches.runAsync`).
   */
  def prepare(): Unit = ()

  /**
   * Runs the operation on the batch exported at (`inArray`, `inSchema`), writing the result into
   * the empty structs at (`outArray`, `outSchema`). Returns the result's row count.
   */
  def apply(inArray: Long, inSchema: Long, outArray: Long, outSchema: Long): Long
}
