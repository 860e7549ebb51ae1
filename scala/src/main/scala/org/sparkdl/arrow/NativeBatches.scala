package org.sparkdl.arrow

import scala.jdk.CollectionConverters._

import org.apache.arrow.c.{ArrowArray, ArrowSchema, Data}
import org.apache.arrow.memory.{BufferAllocator, RootAllocator}
import org.apache.arrow.vector.VectorSchemaRoot

import org.apache.spark.TaskContext
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.types.DataType
import org.apache.spark.sql.vectorized.{ArrowColumnVector, ColumnVector, ColumnarBatch}

import org.sparkdl.jni.{NativeException, NativeLoader}
import org.sparkdl.plan.{NativeCall, NativeOp}

/**
 * One task's Arrow state for a native operation, reused from batch to batch: a child allocator,
 * the input batch ([[ArrowInput]]) and the C Data Interface structs it is exported into, and the
 * root the results are imported into. `startBatch` / `input.write` / `run`, then `inputRow(i)` and `resultRow(i)`
 * until the next `startBatch`. Everything is released on `close`, which the task's completion
 * also calls (a `limit` or a failure stops reading early).
 *
 * Ownership: the result batch's buffers belong to native code until its root is cleared; the
 * input buffers are shared with native code while it holds the exported batch (a result may
 * reference them). Both are let go before the input is reset for the next batch.
 *
 * `runAsync` runs the batch on [[NativeBatches.pool]] instead of the caller's thread, and
 * `awaitRun` waits for it; until then the task must not touch this object. `close` waits for a
 * batch still running there before it frees anything (a task killed or stopped early).
 */
private[sparkdl] final class NativeBatches(op: NativeOp, inputTypes: Seq[DataType], ctx: TaskContext)
    extends AutoCloseable {

  NativeLoader.ensureLoaded()

  private val allocator: BufferAllocator = NativeBatches.rootAllocator.newChildAllocator(
    s"sparkdl-task-${if (ctx != null) ctx.taskAttemptId() else -1}", 0, Long.MaxValue)
  private var closed = false
  private var call: NativeCall = _
  private var in: ArrowInput = _
  private var inArray: ArrowArray = _
  private var inSchema: ArrowSchema = _
  private var results: VectorSchemaRoot = _
  private var inputBatch: ColumnarBatch = _
  private var resultBatch: ColumnarBatch = _

  try {
    in = new ArrowInput(op.inputNames, inputTypes, allocator)
    inArray = ArrowArray.allocateNew(allocator)
    inSchema = ArrowSchema.allocateNew(allocator)
    call = op.open()
  } catch {
    case e: Throwable =>
      close()
      throw e
  }
  if (ctx != null) ctx.addTaskCompletionListener[Unit](_ => close())

  def input: ArrowInput = in

  /** Readies the native call on the task's own thread (see `NativeCall.prepare`). */
  def prepare(): Unit = call.prepare()

  @volatile private var running: java.util.concurrent.Future[Long] = _

  /** Starts `run()` on the pool; `awaitRun` gives its time in nanoseconds or its failure. */
  def runAsync(): Unit = {
    require(running == null, "a batch is already running")
    running = NativeBatches.pool.submit { () =>
      val t0 = System.nanoTime()
      run()
      System.nanoTime() - t0
    }
  }

  /** Waits for the batch started by `runAsync`; rethrows its failure as it was thrown. */
  def awaitRun(): Long = {
    val f = running
    require(f != null, "no batch is running")
    try f.get()
    catch { case e: java.util.concurrent.ExecutionException => throw e.getCause }
    finally running = null
  }

  /** Waits, not to be interrupted, for a batch still running on the pool; its outcome is dropped. */
  private def settle(): Unit = {
    val f = running
    if (f != null) {
      var interrupted = false
      var done = false
      while (!done) {
        try { f.get(); done = true }
        catch {
          case _: InterruptedException => interrupted = true
          case _: Throwable => done = true
        }
      }
      running = null
      if (interrupted) Thread.currentThread().interrupt()
    }
  }

  /** Lets go of the previous batch and empties the input for the next. */
  def startBatch(): Unit = {
    releaseResults()
    if (in.exported) {
      // Native code kept a reference to the last input (it should not): write a fresh batch
      // rather than over memory it may read.
      in.close()
      in = new ArrowInput(op.inputNames, inputTypes, allocator)
    } else in.reset()
    inputBatch = null
  }

  /** Runs the native operation on the written rows. */
  def run(): Unit = {
    in.finish()
    val n = in.rowCount
    // Importing closes the output structs, so each batch has its own pair.
    val outArray = ArrowArray.allocateNew(allocator)
    val outSchema = ArrowSchema.allocateNew(allocator)
    try {
      Data.exportVectorSchemaRoot(allocator, in.root, null, inArray, inSchema)
      val got =
        call(inArray.memoryAddress(), inSchema.memoryAddress(), outArray.memoryAddress(), outSchema.memoryAddress())
      importResults(outArray, outSchema)
      if (got != n || results.getRowCount != n || results.getFieldVectors.size != op.resultSchema.length) {
        throw new NativeException(
          s"native batch returned $got rows and ${results.getFieldVectors.size} columns " +
            s"(${results.getFieldVectors.asScala.map(_.getName).mkString(", ")}); expected $n rows and columns " +
            s"${op.resultSchema.fieldNames.mkString(", ")}. This is a bug in sparkdl.")
      }
    } finally {
      // When native code failed before taking the input, it is released here (a no-op after a
      // successful import, which moved the structs' contents).
      inArray.release()
      inSchema.release()
      // After an import these are closed already; after a failure they may hold a result native
      // code wrote, released here.
      NativeBatches.releaseAndClose(outArray)
      NativeBatches.releaseAndClose(outSchema)
    }
    NativeBatches.rows.add(n)
    inputBatch = in.columnar()
    resultBatch =
      new ColumnarBatch(results.getFieldVectors.asScala.map(v => new ArrowColumnVector(v): ColumnVector).toArray, n)
  }

  /** Input columns of row `i` of the current batch. */
  def inputRow(i: Int): InternalRow = inputBatch.getRow(i)

  /** Result columns of row `i` of the current batch. */
  def resultRow(i: Int): InternalRow = resultBatch.getRow(i)

  private def importResults(outArray: ArrowArray, outSchema: ArrowSchema): Unit = {
    if (results == null) results = Data.importVectorSchemaRoot(allocator, outArray, outSchema, null)
    else {
      // The schema is the same every batch: import the data into the same root.
      outSchema.release()
      Data.importIntoVectorSchemaRoot(allocator, outArray, results, null)
    }
  }

  private def releaseResults(): Unit = {
    resultBatch = null
    if (results != null) results.clear()
  }

  override def close(): Unit = if (!closed) {
    settle() // native code may still be reading the input and writing the result
    closed = true
    resultBatch = null
    inputBatch = null
    Seq[AutoCloseable](
      () => if (call != null) call.close(), () => if (results != null) results.close(),
      () => if (in != null) in.close(), () => Seq(inArray, inSchema).filter(_ != null).foreach(_.close()),
      () => allocator.close())
      .foldLeft(Option.empty[Throwable]) { (first, c) =>
        try { c.close(); first }
        catch { case e: Throwable => first.orElse(Some(e)) }
      }
      .foreach(e => throw e)
  }
}

private[sparkdl] object NativeBatches {
  private lazy val rootAllocator: BufferAllocator = new RootAllocator(Long.MaxValue)

  /**
   * The executor's pool for batches run with `runAsync`: two daemon threads per executor core,
   * one decoding while another waits on TensorFlow (whose own pools do the inference). Each task
   * has at most `spark.sparkdl.batch.inFlight` batches there, so the queue is bounded by the tasks.
   */
  lazy val pool: java.util.concurrent.ExecutorService = {
    val threads = 2 * org.sparkdl.engine.EngineSettings.executorCores(Option(org.apache.spark.SparkEnv.get).map(_.conf))
    val count = new java.util.concurrent.atomic.AtomicInteger
    java.util.concurrent.Executors.newFixedThreadPool(threads,
      { (r: Runnable) =>
        val t = new Thread(r, s"sparkdl-batch-${count.incrementAndGet()}")
        t.setDaemon(true)
        t
      })
  }

  private val rows = new java.util.concurrent.atomic.LongAdder

  /**
   * Rows this JVM has sent through native operations (models and decoding) since it started:
   * benchmarks count featurization passes with it.
   */
  def rowsProcessed: Long = rows.sum()

  /** Bytes currently held by sparkdl's Arrow allocators in this JVM (for leak tests). */
  def allocatedBytes: Long = rootAllocator.getAllocatedMemory

  /** Releases (if still live) and frees a C Data Interface struct; import may have closed it. */
  private def releaseAndClose(s: { def release(): Unit; def close(): Unit }): Unit = {
    import scala.language.reflectiveCalls
    try s.release()
    catch { case _: NullPointerException => () } // closed: arrow-java has no isClosed()
    s.close()
  }
}
