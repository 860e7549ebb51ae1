package org.sparkdl.plan

import scala.collection.mutable.ArrayBuffer

import org.apache.spark.TaskContext
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.catalyst.InternalRow
import org.apache.spark.sql.catalyst.expressions.{Attribute, AttributeReference, AttributeSet, BindReferences, BoundReference, Expression, JoinedRow, MutableProjection, UnsafeProjection}
import org.apache.spark.sql.catalyst.plans.physical.{Partitioning, UnknownPartitioning}
import org.apache.spark.sql.catalyst.expressions.SortOrder
import org.apache.spark.sql.execution.{SparkPlan, UnaryExecNode}
import org.apache.spark.sql.execution.metric.{SQLMetric, SQLMetrics}

import org.sparkdl.arrow.NativeBatches

/**
 * Physical operator of [[NativeEval]]. Per partition: up to `batchSize` rows at a time, only the
 * input columns are written to a reused Arrow batch, straight from the child's rows; the batch
 * goes to native code through the Arrow C Data Interface; the result batch comes back without a
 * copy, and each output row is projected once from (the child's other columns, the input batch,
 * the result batch), in order.
 *
 * While a batch is out, only the child's columns that are not inputs and that the output keeps
 * are held (copied) per row; columns that are inputs and are kept are read back from the Arrow
 * input batch, so an image is not held twice.
 */
case class NativeEvalExec(
    op: NativeOp,
    inputs: Seq[Expression],
    results: Seq[Attribute],
    dropped: Seq[Attribute],
    child: SparkPlan)
    extends UnaryExecNode {

  override def output: Seq[Attribute] = NativeEval.passThrough(child.output, dropped) ++ results

  override def producedAttributes: AttributeSet = AttributeSet(results)

  // Rows stay in their partitions and order; with columns dropped, partitioning and ordering may
  // name columns that are gone, so they are only claimed when every column is kept.
  override def outputPartitioning: Partitioning =
    if (dropped.isEmpty) child.outputPartitioning else UnknownPartitioning(child.outputPartitioning.numPartitions)
  override def outputOrdering: Seq[SortOrder] = if (dropped.isEmpty) child.outputOrdering else Nil

  override lazy val metrics: Map[String, SQLMetric] = Map(
    "numOutputRows" -> SQLMetrics.createMetric(sparkContext, "number of output rows"),
    "numBatches" -> SQLMetrics.createMetric(sparkContext, "number of native batches"),
    "nativeTime" -> SQLMetrics.createNanoTimingMetric(sparkContext, "time in native code"))

  override def simpleString(maxFields: Int): String =
    s"NativeEval ${op.describe} [${inputs.map(_.sql).mkString(", ")}] -> [${results.mkString(", ")}]"

  override protected def doExecute(): RDD[InternalRow] = {
    val childOutput = child.output
    val bound = inputs.map(BindReferences.bindReference(_, childOutput))
    // Inputs that are columns are read by ordinal; the others are evaluated per row.
    val computed = bound.zipWithIndex.collect { case (e, i) if !e.isInstanceOf[BoundReference] => (e, i) }
    val inputAttrs: Seq[Attribute] = inputs.zipWithIndex.map {
      case (a: Attribute, _) => a
      case (e, i) => AttributeReference(s"_in$i", e.dataType, e.nullable)()
    }
    val inputSet = AttributeSet(inputs.collect { case a: Attribute => a })
    val kept = NativeEval.passThrough(childOutput, dropped)
    val held = kept.filterNot(inputSet.contains)
    val outputs = output
    val numOutputRows = longMetric("numOutputRows")
    val numBatches = longMetric("numBatches")
    val nativeTime = longMetric("nativeTime")
    val theOp = op
    val types = inputs.map(_.dataType)
    def setting[T](e: org.sparkdl.ConfEntry[T]): T = e.read(k => Option(conf.getConfString(k, null))).get
    val inFlight = setting(org.sparkdl.SparkdlConf.BatchesInFlight)
    val maxBytes = setting(org.sparkdl.SparkdlConf.BatchMaxBytes)

    child.execute().mapPartitionsWithIndex { (_, rows) =>
      val compute: Option[MutableProjection] =
        if (computed.isEmpty) None else Some(MutableProjection.create(computed.map(_._1)))
      val holdProj = if (held.isEmpty) None else Some(UnsafeProjection.create(held, childOutput))
      val outProj = UnsafeProjection.create(outputs, held ++ inputAttrs ++ results)
      val slots = (1 to inFlight).map(_ => new NativeBatches(theOp, types, TaskContext.get()))
      val ordinals: Array[Int] = bound.map {
        case b: BoundReference => b.ordinal
        case _ => -1
      }.toArray
      val computedAt: Array[Int] = {
        val a = Array.fill(bound.length)(-1)
        computed.zipWithIndex.foreach { case ((_, i), j) => a(i) = j }
        a
      }
      new NativeEvalIterator(rows, slots, theOp.batchSize, maxBytes, ordinals, computedAt, compute, holdProj,
        outProj, numOutputRows, numBatches, nativeTime)
    }
  }

  override protected def withNewChildInternal(newChild: SparkPlan): NativeEvalExec = copy(child = newChild)
}

/**
 * The rows of one partition through native batches, in order. With one batch in flight each
 * batch runs on the task's thread. With more, written batches run on the executor's batch pool
 * (`NativeBatches.pool`) while the task writes the next ones from the child's rows (the child is
 * only ever read on the task's thread), and their rows come out in the order they went in; a
 * slot (its Arrow input, results and held columns) is written again only once its rows are out.
 */
private final class NativeEvalIterator(
    rows: Iterator[InternalRow],
    slots: Seq[NativeBatches],
    batchSize: Int,
    maxBytes: Long,
    ordinals: Array[Int],
    computedAt: Array[Int],
    compute: Option[MutableProjection],
    holdProj: Option[UnsafeProjection],
    outProj: UnsafeProjection,
    numOutputRows: SQLMetric,
    numBatches: SQLMetric,
    nativeTime: SQLMetric)
    extends Iterator[InternalRow] {

  private final class Slot(val batches: NativeBatches) {
    val held = new ArrayBuffer[InternalRow](if (holdProj.isDefined) batchSize else 0)
    var count = 0
  }

  private val async = slots.length > 1
  private val free = scala.collection.mutable.Queue(slots.map(new Slot(_)): _*)
  private val running = scala.collection.mutable.Queue.empty[Slot]
  private var current: Slot = _
  private val empty = InternalRow.empty
  private val inner = new JoinedRow
  private val outer = new JoinedRow
  private var n = 0
  private var i = 0

  override def hasNext: Boolean = {
    if (i < n) true
    else if (advance()) true
    else { slots.foreach(_.close()); false }
  }

  override def next(): InternalRow = {
    if (!hasNext) throw new NoSuchElementException("no more rows")
    val s = current
    val h = if (holdProj.isDefined) s.held(i) else empty
    val row = outProj(outer(inner(h, s.batches.inputRow(i)), s.batches.resultRow(i)))
    i += 1
    numOutputRows += 1
    row
  }

  /** The next batch with rows, ready to read; false at the end of the partition. */
  private def advance(): Boolean = {
    if (current != null) { free.enqueue(current); current = null }
    n = 0
    i = 0
    while (n == 0 && (running.nonEmpty || rows.hasNext)) {
      // Write (and start) batches while a slot is free; then take the oldest.
      while (free.nonEmpty && rows.hasNext) {
        val s = free.dequeue()
        write(s)
        s.batches.prepare() // a no-op once the slot's call is ready
        if (async) s.batches.runAsync()
        running.enqueue(s)
      }
      val s = running.dequeue()
      if (async) nativeTime += s.batches.awaitRun()
      else {
        val t0 = System.nanoTime()
        s.batches.run()
        nativeTime += System.nanoTime() - t0
      }
      numBatches += 1
      current = s
      n = s.count
    }
    n > 0
  }

  private def write(s: Slot): Unit = {
    val batches = s.batches
    batches.startBatch()
    s.held.clear()
    var count = 0
    // A batch ends at batchSize rows, or earlier once its images reach maxBytes (at least a row).
    while (count < batchSize && rows.hasNext && (count == 0 || batches.input.bytesWritten < maxBytes)) {
      val row = rows.next()
      val values = compute.map(_.apply(row))
      var k = 0
      while (k < ordinals.length) {
        if (ordinals(k) >= 0) batches.input.write(k, row, ordinals(k))
        else batches.input.write(k, values.get, computedAt(k))
        k += 1
      }
      batches.input.endRow()
      holdProj.foreach(p => s.held += p(row).copy())
      count += 1
    }
    s.count = count
  }
}
