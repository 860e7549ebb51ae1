package org.sparkdl.arrow

import scala.collection.mutable.ArrayBuffer
import scala.jdk.CollectionConverters._

import org.apache.arrow.c.{ArrowArray, ArrowSchema, Data}
import org.apache.arrow.memory.{BufferAllocator, RootAllocator}
import org.apache.arrow.vector.VectorSchemaRoot
import org.apache.arrow.vector.types.pojo.Schema

import org.apache.spark.TaskContext
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{JoinedRow, UnsafeProjection}
import org.apache.spark.sql.catalyst.types.DataTypeUtils
import org.apache.spark.sql.execution.arrow.ArrowWriter
import org.apache.spark.sql.sparkdl.SparkdlBridge
import org.apache.spark.sql.types.StructType
import org.apache.spark.sql.vectorized.{ArrowColumnVector, ColumnVector, ColumnarBatch}

import org.sparkdl.jni.{NativeException, NativeLoader}

/**
 * One native call on one Arrow batch: the addresses of the input and output
 * `ArrowArray`/`ArrowSchema` structs in, the number of output rows out.
 * Implementations are shipped to executors, so they hold only plain values.
 */
trait NativeBatchFn extends Serializable {
  def apply(inArray: Long, inSchema: Long, outArray: Long, outSchema: Long): Long
}

/**
 * Runs a native batch operation over a DataFrame, partition by partition, on the executors:
 * rows are gathered into Arrow batches (Spark's own `ArrowWriter`), exported through the Arrow
 * C Data Interface to Rust, and the batch Rust returns (one row per input row, in order) is read
 * back through `ArrowColumnVector` without an intermediate copy. Memory: one child allocator per
 * partition, at most one batch in and one batch out alive at a time, everything closed when the
 * partition ends or the task completes.
 */
object NativeBatchRunner {

  private lazy val rootAllocator: BufferAllocator = new RootAllocator(Long.MaxValue)

  /** Bytes currently held by sparkdl's Arrow allocators in this JVM (for leak tests). */
  def allocatedBytes: Long = rootAllocator.getAllocatedMemory

  /**
   * @param inputCols  columns of `df` exported to native code, in this order
   * @param keepCols   columns of `df` carried to the result unchanged (they never leave the JVM)
   * @param outputSchema the columns the native call returns
   * @return `keepCols` followed by the output columns
   */
  def run(
      df: DataFrame,
      inputCols: Seq[String],
      keepCols: Seq[String],
      outputSchema: StructType,
      batchSize: Int,
      fn: NativeBatchFn): DataFrame = {
    require(batchSize > 0, s"batchSize must be positive, got $batchSize")
    val spark: SparkSession = df.sparkSession
    val inSchema = df.schema
    val inputSchema = StructType(inputCols.map(c => inSchema(c)))
    val keepSchema = StructType(keepCols.map(c => inSchema(c)))
    val resultSchema = StructType(keepSchema.fields ++ outputSchema.fields)
    val timeZone = SparkdlBridge.sessionTimeZone(spark)
    val inputAttrs = DataTypeUtils.toAttributes(inSchema)
    val inputExprs = inputCols.map(c => inputAttrs(inSchema.fieldIndex(c)))
    val keepExprs = keepCols.map(c => inputAttrs(inSchema.fieldIndex(c)))

    val rows = SparkdlBridge.internalRows(df).mapPartitions { iter =>
      NativeLoader.ensureLoaded()
      val arrowSchema = SparkdlBridge.toArrowSchema(inputSchema, timeZone)
      val inProj = UnsafeProjection.create(inputExprs, inputAttrs)
      val keepProj = UnsafeProjection.create(keepExprs, inputAttrs)
      val outProj = UnsafeProjection.create(resultSchema)
      val ctx = TaskContext.get()
      val name = s"sparkdl-partition-${if (ctx != null) ctx.taskAttemptId() else -1}"
      val allocator = rootAllocator.newChildAllocator(name, 0, Long.MaxValue)
      val batches = new BatchIterator(iter, inProj, keepProj, outProj, arrowSchema, outputSchema,
        batchSize, fn, allocator)
      if (ctx != null) ctx.addTaskCompletionListener[Unit](_ => batches.close())
      batches
    }
    SparkdlBridge.createDataFrame(spark, rows, resultSchema)
  }

  private class BatchIterator(
      input: Iterator[InternalRow],
      inProj: UnsafeProjection,
      keepProj: UnsafeProjection,
      outProj: UnsafeProjection,
      arrowSchema: Schema,
      outputSchema: StructType,
      batchSize: Int,
      fn: NativeBatchFn,
      allocator: BufferAllocator) extends Iterator[InternalRow] with AutoCloseable {

    private var current: ColumnarBatch = _
    private var out: Iterator[InternalRow] = Iterator.empty
    private var closed = false
    private val joined = new JoinedRow

    override def hasNext: Boolean = {
      while (!out.hasNext && !closed && input.hasNext) nextBatch()
      val more = out.hasNext
      if (!more) close()
      more
    }

    override def next(): InternalRow = {
      if (!hasNext) throw new NoSuchElementException("no more rows")
      out.next()
    }

    private def nextBatch(): Unit = {
      releaseCurrent()
      val kept = new ArrayBuffer[InternalRow](batchSize)
      val root = VectorSchemaRoot.create(arrowSchema, allocator)
      try {
        val writer = ArrowWriter.create(root)
        while (kept.length < batchSize && input.hasNext) {
          val row = input.next()
          writer.write(inProj(row))
          kept += keepProj(row).copy()
        }
        writer.finish()
        current = callNative(root, kept.length)
      } finally root.close()
      val batch = current
      out = kept.iterator.zip(batch.rowIterator().asScala).map { case (k, o) =>
        outProj(joined(k, o))
      }
    }

    private def callNative(root: VectorSchemaRoot, n: Int): ColumnarBatch = {
      val inArray = ArrowArray.allocateNew(allocator)
      val inSchema = ArrowSchema.allocateNew(allocator)
      val outArray = ArrowArray.allocateNew(allocator)
      val outSchema = ArrowSchema.allocateNew(allocator)
      try {
        Data.exportVectorSchemaRoot(allocator, root, null, inArray, inSchema)
        val got = fn(inArray.memoryAddress(), inSchema.memoryAddress(),
          outArray.memoryAddress(), outSchema.memoryAddress())
        val result = Data.importVectorSchemaRoot(allocator, outArray, outSchema, null)
        val vectors = result.getFieldVectors.asScala.toSeq
        val batch = new ColumnarBatch(vectors.map(v => new ArrowColumnVector(v): ColumnVector).toArray, n)
        // Columns are matched by position: the caller names them (outputSchema).
        if (got != n || result.getRowCount != n || vectors.length != outputSchema.length) {
          batch.close()
          throw new NativeException(
            s"native batch returned $got rows and ${vectors.length} columns " +
              s"(${vectors.map(_.getName).mkString(", ")}); expected $n rows and columns " +
              s"${outputSchema.fieldNames.mkString(", ")}. This is a bug in sparkdl.")
        }
        batch
      } finally {
        // If native code failed before taking the input, release it here; after a
        // successful import these are no-ops (the structs were moved out).
        inArray.release()
        inSchema.release()
        Seq(inArray, inSchema, outArray, outSchema).foreach(_.close())
      }
    }

    private def releaseCurrent(): Unit = {
      if (current != null) {
        current.close()
        current = null
      }
    }

    override def close(): Unit = if (!closed) {
      closed = true
      out = Iterator.empty
      releaseCurrent()
      allocator.close()
    }
  }
}
