package org.sparkdl.arrow

import scala.jdk.CollectionConverters._

import org.apache.arrow.memory.BufferAllocator
import org.apache.arrow.vector._
import org.apache.arrow.vector.complex.{ListVector, StructVector}
import org.apache.arrow.vector.types.FloatingPointPrecision
import org.apache.arrow.vector.types.pojo.{ArrowType, Field, FieldType, Schema}

import org.apache.spark.sql.catalyst.expressions.{SpecializedGetters, UnsafeRow}
import org.apache.spark.sql.types._
import org.apache.spark.sql.vectorized.{ArrowColumnVector, ColumnVector, ColumnarBatch}

/**
 * The input side of a native batch: one Arrow column per model input, written straight from
 * Spark rows (the child operator's rows, by ordinal: no projection of the whole row first), in
 * one `VectorSchemaRoot` that is reused batch after batch (its buffers keep their capacity).
 *
 * Binary values of an `UnsafeRow` (encoded files, image pixels) are copied once, from the row's
 * memory into the Arrow buffer, without the intermediate `byte[]` that `getBinary` makes.
 * Binary columns are Arrow `LargeBinary` (64-bit offsets), so a batch of large images may pass
 * 2 GiB; the operator also ends a batch early once it holds `spark.sparkdl.batch.maxBytes`. The types are the ones sparkdl feeds: strings, binary, numbers, booleans, arrays and
 * structs of them, and user-defined types (ML vectors) through their SQL type.
 */
private[sparkdl] final class ArrowInput(names: Seq[String], types: Seq[DataType], allocator: BufferAllocator)
    extends AutoCloseable {
  require(names.length == types.length, "one name per input type")

  val root: VectorSchemaRoot =
    VectorSchemaRoot.create(new Schema(names.zip(types).map { case (n, t) => ArrowInput.field(n, t) }.asJava),
      allocator)
  private val writers: Array[ArrowInput.Writer] =
    root.getFieldVectors.asScala.zip(types).map { case (v, t) => ArrowInput.writer(v, t) }.toArray
  private var count = 0

  root.getFieldVectors.asScala.foreach(_.allocateNew())

  /** Bytes of variable-width values (strings, binary) written to the current batch. */
  def bytesWritten: Long = writers.map(_.bytes).sum

  /** Input `i` of the next row: `row`'s value at `ordinal`. */
  def write(i: Int, row: SpecializedGetters, ordinal: Int): Unit = writers(i).write(row, ordinal, count)

  /** Ends the current row. */
  def endRow(): Unit = count += 1

  def rowCount: Int = count

  /** Seals the batch for export. */
  def finish(): Unit = {
    writers.foreach(_.finish(count))
    root.setRowCount(count)
  }

  /** Empties the batch, keeping the buffers. Only when native code has let go of them. */
  def reset(): Unit = {
    root.getFieldVectors.asScala.foreach(_.reset())
    writers.foreach(_.reset())
    root.setRowCount(0)
    count = 0
  }

  /**
   * Whether native code still holds a reference to any input buffer (an exported batch not yet
   * released): then the buffers must not be reset and written over.
   */
  def exported: Boolean = {
    def held(v: FieldVector): Boolean =
      v.getFieldBuffers.asScala.exists(_.getReferenceManager.getRefCount > 1) ||
        v.getChildrenFromFields.asScala.exists(held)
    root.getFieldVectors.asScala.exists(held)
  }

  /** The written rows as Spark column vectors (read back for columns the output passes through). */
  def columnar(): ColumnarBatch = {
    val cols = root.getFieldVectors.asScala.map(v => new ArrowColumnVector(v): ColumnVector).toArray
    new ColumnarBatch(cols, count)
  }

  override def close(): Unit = root.close()
}

private[sparkdl] object ArrowInput {

  /** Whether a column of type `t` can be fed to native code. */
  def supports(t: DataType): Boolean = t match {
    case StringType | BinaryType | BooleanType | ByteType | ShortType | IntegerType | LongType | FloatType |
        DoubleType => true
    case ArrayType(e, _) => supports(e)
    case s: StructType => s.fields.forall(f => supports(f.dataType))
    case u: UserDefinedType[_] => supports(u.sqlType)
    case _ => false
  }

  def field(name: String, t: DataType): Field = {
    def leaf(a: ArrowType) = new Field(name, FieldType.nullable(a), null)
    t match {
      case StringType => leaf(ArrowType.Utf8.INSTANCE)
      case BinaryType => leaf(ArrowType.LargeBinary.INSTANCE)
      case BooleanType => leaf(ArrowType.Bool.INSTANCE)
      case ByteType => leaf(new ArrowType.Int(8, true))
      case ShortType => leaf(new ArrowType.Int(16, true))
      case IntegerType => leaf(new ArrowType.Int(32, true))
      case LongType => leaf(new ArrowType.Int(64, true))
      case FloatType => leaf(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE))
      case DoubleType => leaf(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE))
      case ArrayType(e, _) =>
        new Field(name, FieldType.nullable(ArrowType.List.INSTANCE), java.util.List.of(field("element", e)))
      case s: StructType =>
        new Field(name, FieldType.nullable(ArrowType.Struct.INSTANCE),
          s.fields.map(f => field(f.name, f.dataType)).toSeq.asJava)
      case u: UserDefinedType[_] => field(name, u.sqlType)
      case other =>
        throw new IllegalArgumentException(s"sparkdl cannot feed a column of type ${other.simpleString} to native code")
    }
  }

  /** Writes one value at position `index` of its vector. */
  private[arrow] abstract class Writer {
    def vector: ValueVector
    def write(row: SpecializedGetters, ordinal: Int, index: Int): Unit =
      if (row.isNullAt(ordinal)) setNull(index) else setValue(row, ordinal, index)
    def setNull(index: Int): Unit
    def setValue(row: SpecializedGetters, ordinal: Int, index: Int): Unit
    def finish(count: Int): Unit = vector.setValueCount(count)
    def reset(): Unit = ()

    /** Variable-width bytes written since the last reset. */
    def bytes: Long = 0L
  }

  /** A writer of scalar values; `value` returns the variable-width bytes it wrote (0 for numbers). */
  private final class Leaf(
      val vector: ValueVector,
      nullAt: Int => Unit,
      value: (SpecializedGetters, Int, Int) => Int)
      extends Writer {
    private var written = 0L
    override def setNull(index: Int): Unit = nullAt(index)
    override def setValue(row: SpecializedGetters, ordinal: Int, index: Int): Unit =
      written += value(row, ordinal, index)
    override def reset(): Unit = written = 0L
    override def bytes: Long = written
  }

  def writer(v: ValueVector, t: DataType): Writer = (t, v) match {
    case (u: UserDefinedType[_], _) => writer(v, u.sqlType)
    case (StringType, vec: VarCharVector) => new Leaf(vec, vec.setNull,
        (r, o, i) => {
          val s = r.getUTF8String(o)
          val b = s.getByteBuffer
          vec.setSafe(i, b, b.position(), s.numBytes())
          s.numBytes()
        })
    case (BinaryType, vec: LargeVarBinaryVector) => new Leaf(vec, vec.setNull,
        (r, o, i) =>
          r match {
            case u: UnsafeRow =>
              // The bytes where the row holds them: getUTF8String reads (offset, size) without a copy.
              val s = u.getUTF8String(o)
              val b = s.getByteBuffer
              vec.setSafe(i, b, b.position(), s.numBytes())
              s.numBytes()
            case _ =>
              val bytes = r.getBinary(o)
              vec.setSafe(i, bytes, 0, bytes.length)
              bytes.length
          })
    case (BooleanType, vec: BitVector) =>
      new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, if (r.getBoolean(o)) 1 else 0); 0 })
    case (ByteType, vec: TinyIntVector) => new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, r.getByte(o)); 0 })
    case (ShortType, vec: SmallIntVector) =>
      new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, r.getShort(o)); 0 })
    case (IntegerType, vec: IntVector) => new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, r.getInt(o)); 0 })
    case (LongType, vec: BigIntVector) => new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, r.getLong(o)); 0 })
    case (FloatType, vec: Float4Vector) => new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, r.getFloat(o)); 0 })
    case (DoubleType, vec: Float8Vector) =>
      new Leaf(vec, vec.setNull, (r, o, i) => { vec.setSafe(i, r.getDouble(o)); 0 })
    case (ArrayType(e, _), vec: ListVector) => new ListWriter(vec, writer(vec.getDataVector, e))
    case (s: StructType, vec: StructVector) =>
      new StructWriter(vec, s.fields.indices.map(j => writer(vec.getChildByOrdinal(j), s.fields(j).dataType)).toArray)
    case (other, vec) =>
      throw new IllegalArgumentException(
        s"no Arrow writer for ${other.simpleString} into ${vec.getClass.getSimpleName}")
  }

  private final class ListWriter(val vector: ListVector, element: Writer) extends Writer {
    private var elements = 0
    override def setNull(index: Int): Unit = vector.setNull(index)
    override def setValue(row: SpecializedGetters, ordinal: Int, index: Int): Unit = {
      val a = row.getArray(ordinal)
      val n = a.numElements()
      vector.startNewValue(index)
      var j = 0
      while (j < n) {
        element.write(a, j, elements)
        elements += 1
        j += 1
      }
      vector.endValue(index, n)
    }
    override def finish(count: Int): Unit = {
      element.finish(elements)
      vector.setValueCount(count)
    }
    override def reset(): Unit = {
      elements = 0
      element.reset()
    }
    override def bytes: Long = element.bytes
  }

  private final class StructWriter(val vector: StructVector, children: Array[Writer]) extends Writer {
    override def setNull(index: Int): Unit = {
      children.foreach(_.setNull(index))
      vector.setNull(index)
    }
    override def setValue(row: SpecializedGetters, ordinal: Int, index: Int): Unit = {
      val s = row.getStruct(ordinal, children.length)
      vector.setIndexDefined(index)
      var j = 0
      while (j < children.length) {
        children(j).write(s, j, index)
        j += 1
      }
    }
    override def finish(count: Int): Unit = {
      children.foreach(_.finish(count))
      vector.setValueCount(count)
    }
    override def reset(): Unit = children.foreach(_.reset())
    override def bytes: Long = children.map(_.bytes).sum
  }
}
