package org.sparkdl.similarity

import org.apache.spark.ml.linalg.{SQLDataTypes, Vector => MLVector}
import org.apache.spark.sql.{Column, Row}
import org.apache.spark.sql.functions.col
import org.apache.spark.sql.types.{ArrayType, DataType, DoubleType, FloatType, StructType}

import org.sparkdl.jni.{NativeLib, NativeLoader}

/**
 * The pieces of an exact nearest-neighbour search that run in tasks: vectors read from rows into
 * dense blocks, one native call per (query block, index block) pair, and the merge of the
 * per-block lists of a query (`rust/src/similarity`).
 */
private[sparkdl] object Blocks {

  /** What a features column may hold: MLlib vectors, or arrays of float or double. */
  def checkFeaturesType(schema: StructType, column: String, param: String): Unit = {
    val field = schema.fields.find(_.name == column).getOrElse(
      throw new IllegalArgumentException(
        s"$param: there is no column '$column' (columns: ${schema.fieldNames.mkString(", ")}); " +
          s"set $param to the column of feature vectors"))
    if (!isFeaturesType(field.dataType)) {
      throw new IllegalArgumentException(
        s"$param: column '$column' is ${field.dataType.simpleString}; it must hold MLlib vectors, " +
          "array<float> or array<double> (DeepImageFeaturizer's output, say)")
    }
  }

  def isFeaturesType(t: DataType): Boolean = t match {
    case t if t == SQLDataTypes.VectorType => true
    case ArrayType(FloatType | DoubleType, _) => true
    case _ => false
  }

  /** Column `name` (of a features type `t`) as array<float>, under the same name. */
  def asFloatArray(t: DataType, name: String): Column = t match {
    case ArrayType(FloatType, _) => col(name)
    case ArrayType(DoubleType, _) => col(name).cast(ArrayType(FloatType)).as(name)
    case _ => org.apache.spark.ml.functions.vector_to_array(col(name), "float32").as(name)
  }

  /**
   * The vector in `row(i)` as floats, or null for a null value. A null element or a length
   * other than `dim` (when `dim` > 0) fails, naming `what` (the row) and the column.
   */
  def floats(row: Row, i: Int, dim: Int, column: String, what: => String): Array[Float] = {
    if (row.isNullAt(i)) return null
    val values: Array[Float] = row.get(i) match {
      case v: MLVector => v.toArray.map(_.toFloat)
      case s: scala.collection.Seq[_] =>
        val out = new Array[Float](s.length)
        var j = 0
        s.foreach { x =>
          x match {
            case f: Float => out(j) = f
            case d: Double => out(j) = d.toFloat
            case null => throw nullElement(column, what, j)
            case other => throw new IllegalArgumentException(s"column '$column', $what: element $j is $other")
          }
          j += 1
        }
        out
      case other => throw new IllegalArgumentException(s"column '$column', $what: $other is not a vector")
    }
    if (dim > 0 && values.length != dim) {
      throw new IllegalArgumentException(
        s"column '$column', $what: a vector of ${values.length} values where the index's vectors have $dim; " +
          "queries and index must come from the same featurizer (same model and layer)")
    }
    var j = 0
    while (j < values.length) {
      checkFinite(values(j), column, what, j)
      j += 1
    }
    values
  }

  /** The error for a null element `j` of the vector in `column` of the row `what` names. */
  def nullElement(column: String, what: String, j: Int): IllegalArgumentException =
    new IllegalArgumentException(
      s"column '$column', $what: element $j of the vector is null; fill or drop such rows first")

  /** Fails on a NaN or infinite element `j` of the vector in `column` of the row `what` names. */
  @inline def checkFinite(v: Float, column: String, what: => String, j: Int): Unit =
    if (v.isNaN || v.isInfinite) {
      throw new IllegalArgumentException(s"column '$column', $what: element $j is $v; vectors must be finite")
    }

  /**
   * A block of the index: rows `offset` until `offset + ids.length` of the index sorted by id,
   * their ids and their vectors, row-major.
   */
  final case class IndexBlock(offset: Long, ids: Array[Any], vectors: Array[Float])

  /** Query rows' vectors, row-major, of the rows whose vector is not null (`rows` of the block). */
  final case class QueryVectors(key: (Int, Int), rows: Array[Int], vectors: Array[Float])

  /**
   * One query's best neighbours so far, best first: positions in the index sorted by id, scores,
   * ids. Ties go to the smaller position, so to the smaller id.
   */
  final case class Found(positions: Array[Long], scores: Array[Float], ids: Array[Any]) {
    def size: Int = positions.length

    /** The best `k` of both lists, in order (the lists hold distinct positions). */
    def merge(other: Found, k: Int): Found = {
      val n = math.min(k, size + other.size)
      val (p, s, d) = (new Array[Long](n), new Array[Float](n), new Array[Any](n))
      var (a, b, j) = (0, 0, 0)
      while (j < n) {
        val takeA = b >= other.size || (a < size &&
          (scores(a) > other.scores(b) || (scores(a) == other.scores(b) && positions(a) < other.positions(b))))
        if (takeA) { p(j) = positions(a); s(j) = scores(a); d(j) = ids(a); a += 1 }
        else { p(j) = other.positions(b); s(j) = other.scores(b); d(j) = other.ids(b); b += 1 }
        j += 1
      }
      Found(p, s, d)
    }
  }

  /**
   * The best `k` rows of `index` for each of the `nq` rows of `queries` (both row-major, `dim`
   * long), by one native call: query `q`'s rows (numbered from `offset`), best first, are
   * `positions(q * k until q * k + counts(q))`, with their scores alike.
   */
  final case class Nearest(positions: Array[Long], scores: Array[Float], counts: Array[Int], k: Int) {
    def positionsOf(q: Int): Array[Long] = java.util.Arrays.copyOfRange(positions, q * k, q * k + counts(q))
    def scoresOf(q: Int): Array[Float] = java.util.Arrays.copyOfRange(scores, q * k, q * k + counts(q))
  }

  def nearest(queries: Array[Float], nq: Int, index: Array[Float], dim: Int, offset: Long, k: Int,
      metric: String): Nearest = {
    NativeLoader.ensureLoaded()
    val out = Nearest(new Array[Long](nq * k), new Array[Float](nq * k), new Array[Int](nq), k)
    NativeLib.searchNeighbors(queries, index, dim, offset, k, metric, out.positions, out.scores, out.counts)
    out
  }

  /**
   * Every (query row, index row) pair of cosine similarity >= `threshold`, by one native call:
   * the query rows, the index rows (numbered from `offset`) and the scores.
   */
  def above(queries: Array[Float], index: Array[Float], dim: Int, offset: Long,
      threshold: Float): (Array[Int], Array[Long], Array[Float]) = {
    NativeLoader.ensureLoaded()
    val found = NativeLib.searchAbove(queries, index, dim, offset, threshold)
    (found(0).asInstanceOf[Array[Int]], found(1).asInstanceOf[Array[Long]], found(2).asInstanceOf[Array[Float]])
  }

  /** Each query's best `k` rows of `index`, in the order of `queries`' rows. */
  def search(queries: QueryVectors, index: IndexBlock, dim: Int, k: Int, metric: String): Array[Found] = {
    val nq = queries.rows.length
    if (nq == 0 || index.ids.isEmpty) return Array.fill(nq)(Found(Array.empty, Array.empty, Array.empty))
    val found = nearest(queries.vectors, nq, index.vectors, dim, index.offset, k, metric)
    Array.tabulate(nq) { q =>
      val p = found.positionsOf(q)
      Found(p, found.scoresOf(q), p.map(pos => index.ids((pos - index.offset).toInt)))
    }
  }
}
