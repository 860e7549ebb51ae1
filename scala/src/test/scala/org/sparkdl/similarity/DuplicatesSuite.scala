package org.sparkdl.similarity

import scala.util.Random

import org.apache.spark.sql.Row
import org.apache.spark.sql.types.{ArrayType, FloatType, LongType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark

class DuplicatesSuite extends AnyFunSuite with SharedSpark {

  private def cosine(a: Array[Float], b: Array[Float]): Float = {
    def dot(x: Array[Float], y: Array[Float]) = x.indices.map(i => x(i).toDouble * y(i)).sum
    (dot(a, b) / math.sqrt(dot(a, a) * dot(b, b))).toFloat
  }

  test("every pair over the threshold once, across blocks, and the groups they connect") {
    val rng = new Random(21)
    val dim = 32
    val originals = Array.fill(60)(Array.fill(dim)(rng.nextGaussian().toFloat))
    // Groups of copies: each of the first 10 originals gets 1-3 noisy copies.
    val copies = (0 until 10).flatMap { o =>
      Seq.fill(1 + o % 3)(originals(o).map(v => v + 0.05f * rng.nextGaussian().toFloat))
    }
    val all = (originals ++ copies).zipWithIndex.map { case (v, i) => ((i * 13 + 5).toLong, v) }
    val schema = StructType(Seq(StructField("id", LongType), StructField("features", ArrayType(FloatType))))
    val rows = all.map { case (i, v) => Row(i, v.toSeq) } :+ Row(9999L, null)
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows.toSeq, 3), schema)
    val threshold = 0.9
    val got = Duplicates.find(df, threshold, blockRows = 17).collect()
      .map(r => (r.getLong(0), r.getLong(1)) -> r.getFloat(2)).toMap
    val want = (for {
      (ia, va) <- all; (ib, vb) <- all if ia < ib
      s = cosine(va, vb) if s >= threshold
    } yield (ia, ib) -> s).toMap
    assert(want.size >= 10, "the test plants pairs")
    assert(got.keySet == want.keySet)
    want.foreach { case (pair, s) => assert(math.abs(got(pair) - s) <= 1e-5, s"$pair") }

    val groups = Duplicates.groups(df, Duplicates.find(df, threshold, blockRows = 17)).collect()
      .map(r => r.getLong(0) -> r.getLong(1)).toMap
    assert(groups.size == all.length + 1, "every id once, the null-vector row as its own group")
    // Union-find on the wanted pairs gives the same partition, labelled by the smallest id.
    val parent = scala.collection.mutable.Map[Long, Long]() ++ all.map(p => p._1 -> p._1) += (9999L -> 9999L)
    def root(x: Long): Long = if (parent(x) == x) x else root(parent(x))
    want.keys.foreach { case (a, b) =>
      val (ra, rb) = (root(a), root(b))
      parent(math.max(ra, rb)) = math.min(ra, rb)
    }
    groups.foreach { case (id, g) => assert(g == root(id), s"id $id") }
    assert(groups.values.toSet.size == all.length + 1 - copies.length)
  }

  test("a threshold outside [-1, 1] is explained") {
    val df = spark.createDataFrame(Seq((1L, Seq(1f, 0f)))).toDF("id", "features")
    val e = intercept[IllegalArgumentException](Duplicates.find(df, 1.5))
    assert(e.getMessage.contains("threshold: 1.5 is not a cosine similarity"), e.getMessage)
  }

  test("ivf: probing every list finds every pair; one probe finds the copies of clustered rows") {
    val rng = new Random(23)
    val dim = 24
    val centres = Array.fill(10)(Array.fill(dim)(rng.nextGaussian().toFloat))
    val originals = Array.fill(300)(centres(rng.nextInt(10)).map(v => v + 0.5f * rng.nextGaussian().toFloat))
    val copies = (0 until 40).map(o => originals(o).map(v => v + 0.03f * rng.nextGaussian().toFloat))
    val all = (originals ++ copies).zipWithIndex.map { case (v, i) => (i.toLong * 5 + 2, v) }
    val schema = StructType(Seq(StructField("id", LongType), StructField("features", ArrayType(FloatType))))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(all.map { case (i, v) => Row(i, v.toSeq) }.toSeq, 3),
      schema)
    val threshold = 0.97
    val want = (for {
      (ia, va) <- all; (ib, vb) <- all if ia < ib
      s = cosine(va, vb) if s >= threshold
    } yield (ia, ib) -> s).toMap
    assert(want.size >= 40, "the test plants pairs")
    def pairs(nprobe: Int) = Duplicates.find(df, threshold, blockRows = 50, algorithm = "ivf",
      ivf = Ivf.Settings(numLists = 8, nprobe = nprobe)).collect()
      .map(r => (r.getLong(0), r.getLong(1)) -> r.getFloat(2)).toMap
    val every = pairs(8)
    assert(every.keySet == want.keySet, "each pair once")
    want.foreach { case (pair, s) => assert(math.abs(every(pair) - s) <= 1e-5, s"$pair") }
    val one = pairs(1)
    assert(one.keySet.subsetOf(want.keySet))
    val recall = one.size.toDouble / want.size
    info(s"recall with one probe of 8 lists: $recall (${one.size} of ${want.size} pairs)")
    assert(recall >= 0.9, s"recall with one probe of 8 lists: $recall")

    assert(Duplicates.find(df.limit(0), threshold, algorithm = "ivf").isEmpty, "an empty set has no pairs")
    val e = intercept[IllegalArgumentException](Duplicates.find(df, threshold, algorithm = "lsh"))
    assert(e.getMessage.contains("algorithm: 'lsh' is not known"), e.getMessage)
  }
}
