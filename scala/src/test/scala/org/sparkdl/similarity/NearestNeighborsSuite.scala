package org.sparkdl.similarity

import java.nio.file.Files

import scala.util.Random

import org.apache.spark.ml.linalg.Vectors
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.types.{ArrayType, DoubleType, FloatType, LongType, StringType, StructField, StructType}
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark

class NearestNeighborsSuite extends AnyFunSuite with SharedSpark {

  private def vectors(rng: Random, n: Int, dim: Int): Array[Array[Float]] =
    Array.fill(n)(Array.fill(dim)(rng.nextGaussian().toFloat))

  /** The best `k` by definition, in doubles: (id, score), ties to the smaller id. */
  private def bruteForce(q: Array[Float], index: Seq[(Long, Array[Float])], k: Int,
      metric: String): Seq[(Long, Float)] = {
    def dot(a: Array[Float], b: Array[Float]) = a.indices.map(i => a(i).toDouble * b(i)).sum
    index.map { case (id, x) =>
      val score = metric match {
        case "cosine" =>
          val n = math.sqrt(dot(q, q)) * math.sqrt(dot(x, x))
          if (n == 0) 0.0 else dot(q, x) / n
        case "l2" => -math.sqrt(q.indices.map(i => math.pow(q(i).toDouble - x(i), 2)).sum)
      }
      (id, score.toFloat)
    }.sortBy { case (id, s) => (-s, id) }.take(k)
  }

  private def indexFrame(rows: Seq[(Long, Array[Float])], parts: Int): DataFrame = {
    val schema = StructType(Seq(StructField("id", LongType), StructField("features", ArrayType(FloatType))))
    spark.createDataFrame(spark.sparkContext.parallelize(rows.map { case (i, v) => Row(i, v.toSeq) }, parts), schema)
  }

  private def neighbours(out: DataFrame, key: String = "qid"): Map[Long, Seq[(Long, Float)]] =
    out.collect().map { r =>
      r.getAs[Long](key) -> Option(r.getAs[scala.collection.Seq[Row]]("neighbors")).map(
        _.map(n => (n.getLong(0), n.getFloat(1))).toSeq)
        .orNull
    }.toMap

  private def assertSame(got: Seq[(Long, Float)], want: Seq[(Long, Float)], clue: String): Unit = {
    assert(got.map(_._1) == want.map(_._1), clue)
    got.zip(want).foreach { case ((_, g), (_, w)) => assert(math.abs(g - w) <= 1e-5, s"$clue: $g vs $w") }
  }

  test("matches brute force for both metrics, across blocks and partitions, nulls kept") {
    val rng = new Random(11)
    val dim = 24
    // Ids in no order, a few far apart, so position order is not the input's order.
    val ids = rng.shuffle((0 until 300).map(i => i.toLong * 7 + 3))
    val index = ids.zip(vectors(rng, 300, dim)).toSeq
    val qs = vectors(rng, 41, dim)
    val querySchema = StructType(Seq(StructField("qid", LongType), StructField("features", ArrayType(FloatType))))
    val queryRows = qs.indices.map(i => Row(i.toLong, if (i == 5) null else qs(i).toSeq))
    val queries = spark.createDataFrame(spark.sparkContext.parallelize(queryRows, 3), querySchema)
    for (metric <- Seq("cosine", "l2"); k <- Seq(1, 10, 350)) {
      val model = new NearestNeighbors().setK(k).setMetric(metric).setIndexBlockRows(37).setQueryBlockRows(7)
        .fit(indexFrame(index, 4))
      assert(model.dim == dim)
      val got = neighbours(model.transform(queries))
      assert(got.size == 41)
      assert(got(5) == null, "a null query vector gives a null result")
      qs.indices.filter(_ != 5).foreach { i =>
        assertSame(got(i.toLong), bruteForce(qs(i), index, k, metric), s"$metric k=$k query $i")
      }
    }
  }

  test("ties go to the smaller id, and ids keep their type") {
    val dim = 4
    val base = Array(1f, 2f, 3f, 4f)
    val other = Array(-1f, 0f, 0f, 1f)
    val schema = StructType(Seq(StructField("name", StringType), StructField("v", ArrayType(DoubleType))))
    val rows = Seq("d" -> base, "b" -> other, "a" -> base, "c" -> base, "e" -> other)
      .map { case (n, v) => Row(n, v.map(_.toDouble).toSeq) }
    val index = spark.createDataFrame(spark.sparkContext.parallelize(rows, 2), schema)
    val model = new NearestNeighbors().setIdCol("name").setFeaturesCol("v").setK(2).setIndexBlockRows(2)
      .fit(index)
    val q = spark.createDataFrame(Seq((1, Vectors.dense(base.map(_.toDouble))))).toDF("q", "v")
    val out = model.transform(q).head()
    assert(out.getAs[scala.collection.Seq[Row]]("neighbors").map(_.getString(0)) == Seq("a", "c"))
    assert(model.transform(q).schema("neighbors").dataType.toString.contains("StringType"))
  }

  test("a query vector of another length fails with the lengths; a bad column is named") {
    val index = indexFrame(Seq(1L -> Array(1f, 0f, 0f), 2L -> Array(0f, 1f, 0f)), 1)
    val model = new NearestNeighbors().fit(index)
    val q = spark.createDataFrame(Seq((1L, Seq(1f, 2f)))).toDF("qid", "features")
    val err = intercept[Exception](model.transform(q).collect())
    val text = Iterator.iterate[Throwable](err)(_.getCause).takeWhile(_ != null).map(_.getMessage).mkString("\n")
    assert(text.contains("a vector of 2 values where the index's vectors have 3"), text)
    val missing = intercept[IllegalArgumentException](new NearestNeighbors().setFeaturesCol("emb").fit(index))
    assert(missing.getMessage.contains("'emb'") && missing.getMessage.contains("featuresCol"), missing.getMessage)
    val badId = intercept[IllegalArgumentException](new NearestNeighbors().setIdCol("features").fit(index))
    assert(badId.getMessage.contains("atomic type"), badId.getMessage)
  }

  test("an empty index gives empty lists; save and load keep the index and the params") {
    val rng = new Random(5)
    val index = (1L to 50L).zip(vectors(rng, 50, 8)).toSeq
    val model = new NearestNeighbors().setK(3).setMetric("l2").fit(indexFrame(index, 2))
    val qs = vectors(rng, 6, 8)
    val queries = spark.createDataFrame(qs.indices.map(i => (i.toLong, qs(i).toSeq))).toDF("qid", "features")
    val dir = Files.createTempDirectory("sparkdl-nn-").resolve("model").toString
    model.write.save(dir)
    val loaded = NearestNeighborsModel.load(dir)
    assert(loaded.getK == 3 && loaded.getMetric == "l2")
    assert(neighbours(loaded.transform(queries)) == neighbours(model.transform(queries)))
    val empty = new NearestNeighbors().fit(indexFrame(Seq.empty, 1))
    assert(neighbours(empty.transform(queries)).values.forall(_ == Seq.empty))
    val emptyIvf = new NearestNeighbors().setAlgorithm("ivf").fit(indexFrame(Seq.empty, 1))
    assert(neighbours(emptyIvf.transform(queries)).values.forall(_ == Seq.empty))
  }

  /** `n` rows around `centres` random centres (unit Gaussian spread `spread` around each). */
  private def clustered(rng: Random, centres: Int, n: Int, dim: Int, spread: Float): Array[Array[Float]] = {
    val cs = vectors(rng, centres, dim)
    Array.fill(n) {
      val c = cs(rng.nextInt(centres))
      c.map(v => v + spread * rng.nextGaussian().toFloat)
    }
  }

  test("ivf: probing every list is exact; a few probes keep recall on clustered data; save and load keep the lists") {
    val rng = new Random(17)
    val dim = 16
    val data = clustered(rng, 12, 480, dim, 0.4f)
    val index = (0 until 400).map(i => (i.toLong * 3 + 1, data(i)))
    val qs = data.drop(400)
    val queries = spark.createDataFrame(qs.indices.map(i => (i.toLong, qs(i).toSeq))).toDF("qid", "features")
    for (metric <- Seq("cosine", "l2")) {
      val all = new NearestNeighbors().setK(10).setMetric(metric).setAlgorithm("ivf").setNumLists(8).setNprobe(8)
        .setIndexBlockRows(60).setQueryBlockRows(16).fit(indexFrame(index, 3))
      val lists = all.centroids.length / dim
      assert(all.centroids.length % dim == 0 && lists >= 4 && lists <= 8, s"$lists lists (KMeans drops empty ones)")
      val got = neighbours(all.transform(queries))
      qs.indices.foreach(i => assertSame(got(i.toLong), bruteForce(qs(i), index, 10, metric), s"$metric query $i"))

      val few = all.copy(org.apache.spark.ml.param.ParamMap.empty).setNprobe(2)
      val approx = neighbours(few.transform(queries))
      val hits = qs.indices.map { i =>
        val want = bruteForce(qs(i), index, 10, metric).map(_._1).toSet
        // What it finds is right: each score is the true one, best first.
        val found = approx(i.toLong)
        assert(found.map(_._2) == found.map(_._2).sortBy(-_), s"$metric query $i in order")
        found.count(n => want.contains(n._1))
      }.sum
      val recall = hits.toDouble / (qs.length * 10)
      info(s"$metric: recall@10 with 2 of 8 lists probed: $recall")
      assert(recall >= 0.8 && recall <= 1.0, s"$metric: recall@10 with 2 of 8 lists probed is $recall")
    }

    val model = new NearestNeighbors().setK(5).setAlgorithm("ivf").setNumLists(6).setNprobe(2)
      .fit(indexFrame(index, 2))
    val before = neighbours(model.transform(queries))
    val dir = Files.createTempDirectory("sparkdl-ivf-").resolve("model").toString
    model.write.save(dir)
    val loaded = NearestNeighborsModel.load(dir)
    assert(loaded.getAlgorithm == "ivf" && loaded.getNprobe == 2 && loaded.getNumLists == 6)
    assert(loaded.centroids.sameElements(model.centroids), "the saved centroids, not a new fit")
    assert(neighbours(loaded.transform(queries)) == before)
  }
}
