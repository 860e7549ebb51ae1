package org.sparkdl.similarity

import scala.collection.mutable
import scala.collection.mutable.ArrayBuffer

import org.apache.spark.HashPartitioner
import org.apache.spark.ml.clustering.KMeans
import org.apache.spark.ml.linalg.Vectors
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{Row, SparkSession}
import org.apache.spark.sql.types.{StructField, StructType}
import org.apache.spark.storage.StorageLevel

import org.sparkdl.similarity.Blocks.{Found, IndexBlock}

/**
 * An inverted-file (IVF) index over the blocks of [[NearestNeighborsModel.buildBlocks]], for
 * searches that score a fraction of the index instead of all of it:
 *
 *  1. Spark MLlib's KMeans, run on a sample of the rows, gives `numLists` centroids (cosine
 *     KMeans for the cosine metric, Euclidean for L2).
 *  2. Each index row goes to the list of its nearest centroid (one shuffle of the rows; lists
 *     are packed into partitions of about `indexBlockRows` rows, whole lists each).
 *  3. Each query (for duplicates: each row) probes its `nprobe` nearest lists, and is scored
 *     exactly (the same native kernel as the exact search) against the rows of those lists only.
 *
 * The cost of a search is about `nprobe / numLists` of the exact one (more where KMeans makes
 * uneven lists), plus the KMeans fit; a neighbour is missed when it lies in a list the query
 * does not probe. docs/PERFORMANCE.md measures the recall per setting.
 *
 * Index rows keep the positions of the exact search (their rank by id), so results order and
 * break ties the same way.
 */
private[sparkdl] object Ivf {

  /** The lists a query probes unless told otherwise. */
  val DefaultProbes: Int = 8

  /** The seed of the KMeans fit and of its sample unless told otherwise. */
  val DefaultSeed: Long = 20261204L

  /** KMeans sample rows per list when `trainRows` is 0 (auto). */
  val TrainRowsPerList: Int = 40

  /** KMeans' iterations at most. */
  val MaxIterations: Int = 10

  /**
   * The dimension KMeans fits in for `lists` centres (see [[train]]): at most 64, and, down to
   * 16, small enough that MLlib computes its centre-to-centre statistics on the driver (while
   * lists² x dimension < 1e6) rather than with a job of one task per centre each iteration
   * (0.8 s of each 1 s iteration for 316 lists on 2 cores, measured).
   */
  def projectedDim(lists: Int): Int = math.max(16L, math.min(64L, 999999L / math.max(1L, lists.toLong * lists))).toInt

  /**
   * How the index is built and searched. `numLists` 0: half the square root of the index's
   * rows; `trainRows` 0: [[TrainRowsPerList]] per list (the KMeans sample).
   */
  final case class Settings(numLists: Int = 0, nprobe: Int = DefaultProbes, trainRows: Int = 0,
      seed: Long = DefaultSeed) {
    if (numLists < 0) throw new IllegalArgumentException(s"numLists must be at least 0 (0: auto), got $numLists")
    if (nprobe < 1) throw new IllegalArgumentException(s"nprobe must be at least 1, got $nprobe")
    if (trainRows < 0) throw new IllegalArgumentException(s"trainRows must be at least 0 (0: auto), got $trainRows")

    /** The number of lists for an index of `rows` rows (auto: half the square root). */
    def listsFor(rows: Long): Int =
      math.max(1L,
        math.min(rows, if (numLists > 0) numLists.toLong else math.round(math.sqrt(rows.toDouble) / 2))).toInt
  }

  /** One inverted list: its rows (positions in the index sorted by id, ascending), ids, vectors. */
  final case class InvertedList(list: Int, positions: Array[Long], ids: Array[Any], vectors: Array[Float])

  /** The index as lists: centroids (`lists` x `dim`, row-major) and the lists, packed in partitions. */
  final case class Index(centroids: Array[Float], lists: Int, dim: Int, metric: String,
      packs: RDD[Array[InvertedList]]) {

    /** The lists a query probes for `nprobe` (at most the number of lists). */
    def probesPerRow(nprobe: Int): Int = math.min(nprobe, lists)
  }

  /** The nearest `k` of the `centroids` to each row of `vectors`: list numbers, best first. */
  def probes(vectors: Array[Float], centroids: Array[Float], dim: Int, k: Int, metric: String): Array[Int] = {
    val rows = if (dim == 0) 0 else vectors.length / dim
    if (rows == 0) return Array.empty
    Blocks.nearest(vectors, rows, centroids, dim, 0L, k, metric).positions.map(_.toInt)
  }

  /**
   * The centroids of `blocks` (whose rows number `rows`), `lists` x `dim`, row-major: MLlib's
   * KMeans on a sample of the rows, collected to the driver (`trainRows` x `dim` floats). The fit
   * runs on the sample projected to [[projectedDim]] dimensions (a seeded Gaussian projection,
   * which keeps angles and distances to a few percent) because MLlib's KMeans costs per
   * (row, centre, dimension) in the JVM: 1,280 dimensions took 10x as long as 64 for the same lists,
   * measured. Each list's centroid is then the mean of its sample rows in the full dimension (for
   * cosine, of the rows normalised). Zero vectors are left out of the sample; lists KMeans leaves
   * empty are dropped.
   */
  def train(spark: SparkSession, blocks: RDD[IndexBlock], rows: Long, dim: Int, metric: String,
      settings: Settings): Array[Float] = {
    val lists = settings.listsFor(rows)
    val wanted = if (settings.trainRows > 0) settings.trainRows.toLong else TrainRowsPerList.toLong * lists
    val fraction = math.min(1.0, wanted.toDouble / math.max(1L, rows))
    val cosine = metric == "cosine"
    // Sampled before anything is copied: each block's rows by a generator seeded per partition.
    val sample: Array[Array[Float]] = blocks.mapPartitionsWithIndex { (p, it) =>
      val rng = new java.util.Random(settings.seed * 1000003L + p)
      it.flatMap(b => Iterator.range(0, b.ids.length).filter(_ => rng.nextDouble() < fraction).map(r => (b, r)))
    }.flatMap { case (b, r) =>
      val v = java.util.Arrays.copyOfRange(b.vectors, r * dim, (r + 1) * dim)
      val norm = math.sqrt(v.foldLeft(0.0)((a, x) => a + x.toDouble * x))
      if (norm == 0) None
      else {
        if (cosine) v.indices.foreach(j => v(j) = (v(j) / norm).toFloat)
        Some(v)
      }
    }.collect()
    if (sample.length <= lists) return if (sample.isEmpty) new Array[Float](dim) else sample.flatten

    val reduced = projectedDim(lists)
    val projection: Array[Float] => Array[Double] =
      if (dim <= reduced) (v: Array[Float]) => v.map(_.toDouble)
      else {
        val rng = new java.util.Random(settings.seed)
        val m = Array.fill(reduced * dim)(rng.nextGaussian())
        (v: Array[Float]) =>
          Array.tabulate(reduced) { i =>
            var (a, j) = (0.0, 0)
            while (j < dim) { a += m(i * dim + j) * v(j); j += 1 }
            a
          }
      }
    val projected = sample.map(v => Vectors.dense(projection(v)))
    val schema = StructType(Seq(StructField("features", org.apache.spark.ml.linalg.SQLDataTypes.VectorType)))
    val points = spark.createDataFrame(spark.sparkContext.parallelize(projected.toSeq.map(Row(_))), schema)
    val model = new KMeans().setK(lists).setSeed(settings.seed).setMaxIter(MaxIterations).setInitMode("random")
      .setDistanceMeasure(if (cosine) "cosine" else "euclidean").setFeaturesCol("features").fit(points)
    val sums = Array.ofDim[Double](model.clusterCenters.length, dim)
    val counts = new Array[Int](model.clusterCenters.length)
    sample.indices.foreach { i =>
      val c = model.predict(projected(i))
      counts(c) += 1
      var j = 0
      while (j < dim) { sums(c)(j) += sample(i)(j); j += 1 }
    }
    sums.indices.filter(counts(_) > 0).toArray.flatMap { c =>
      val mean = sums(c).map(_ / counts(c))
      val norm = if (cosine) math.sqrt(mean.map(x => x * x).sum) else 1.0
      mean.map(x => (if (norm > 0) x / norm else x).toFloat)
    }
  }

  /** Rows of one block bound for one pack: their lists, positions, ids and vectors (row-major). */
  private final case class Chunk(lists: Array[Int], positions: Array[Long], ids: Array[Any], vectors: Array[Float])

  /**
   * `blocks` as lists of `centroids`, packed in about as many partitions as there are blocks,
   * cached. A row goes to its nearest centroid's list: `homes` holds each block's rows' lists
   * (`perRow` per row, the nearest first, as [[probes]] gives them). Each block sends one chunk
   * per pack (a few arrays, not a record per row) through the shuffle.
   */
  def build(blocks: RDD[IndexBlock], homes: RDD[Array[Int]], perRow: Int, centroids: Array[Float], dim: Int,
      metric: String): Index = {
    val lists = listCount(centroids, dim)
    val packs = math.max(1, blocks.getNumPartitions)
    val chunks = blocks.zip(homes).flatMap { case (b, home) =>
      Iterator.range(0, b.ids.length).toArray.groupBy(r => packOf(home(r * perRow), lists, packs)).iterator.map {
        case (pack, rows) =>
          val vectors = new Array[Float](rows.length * dim)
          rows.indices.foreach(i => System.arraycopy(b.vectors, rows(i) * dim, vectors, i * dim, dim))
          (pack, Chunk(rows.map(r => home(r * perRow)), rows.map(b.offset + _), rows.map(b.ids), vectors))
      }
    }
    val packed = chunks.partitionBy(new HashPartitioner(packs)).mapPartitions { it =>
      val all = it.map(_._2).toArray
      // (list, position, chunk, row) of every row, sorted by list then position.
      val order = all.indices.flatMap(c => all(c).lists.indices.map(r => (c, r)))
        .sortBy { case (c, r) => (all(c).lists(r), all(c).positions(r)) }
      val out = ArrayBuffer.empty[InvertedList]
      var start = 0
      while (start < order.length) {
        val list = all(order(start)._1).lists(order(start)._2)
        var end = start
        while (end < order.length && all(order(end)._1).lists(order(end)._2) == list) end += 1
        val n = end - start
        val (positions, ids, vectors) = (new Array[Long](n), new Array[Any](n), new Array[Float](n * dim))
        (0 until n).foreach { i =>
          val (c, r) = order(start + i)
          positions(i) = all(c).positions(r)
          ids(i) = all(c).ids(r)
          System.arraycopy(all(c).vectors, r * dim, vectors, i * dim, dim)
        }
        out += InvertedList(list, positions, ids, vectors)
        start = end
      }
      Iterator.single(out.toArray)
    }.persist(StorageLevel.MEMORY_AND_DISK)
    packed.count()
    Index(centroids, lists, dim, metric, packed)
  }

  /** The number of lists `centroids` (row-major, `dim` long) make. */
  def listCount(centroids: Array[Float], dim: Int): Int = centroids.length / math.max(1, dim)

  /** The pack of list `l`: neighbouring lists share a pack. */
  private def packOf(l: Int, lists: Int, packs: Int): Int = ((l.toLong * packs) / lists).toInt

  /**
   * For each list of `pack` that rows of `vectors` probe (`probes`: `perRow` lists per row):
   * those rows (their numbers in `vectors`), their vectors gathered, and the list.
   */
  def probing(vectors: Array[Float], probes: Array[Int], perRow: Int, dim: Int,
      pack: Array[InvertedList]): Iterator[(Array[Int], Array[Float], InvertedList)] = {
    if (pack.isEmpty || probes.isEmpty) return Iterator.empty
    val slot = mutable.HashMap.empty[Int, Int] // list -> its place in the pack
    pack.indices.foreach(i => slot(pack(i).list) = i)
    val rowsOf = Array.fill(pack.length)(ArrayBuffer.empty[Int])
    val rows = probes.length / perRow
    var r = 0
    while (r < rows) {
      var j = 0
      while (j < perRow) {
        slot.get(probes(r * perRow + j)).foreach(i => rowsOf(i) += r)
        j += 1
      }
      r += 1
    }
    pack.indices.iterator.filter(i => rowsOf(i).nonEmpty).map { i =>
      val selected = rowsOf(i).toArray
      val gathered = new Array[Float](selected.length * dim)
      selected.indices.foreach(s => System.arraycopy(vectors, selected(s) * dim, gathered, s * dim, dim))
      (selected, gathered, pack(i))
    }
  }

  /**
   * Each query's best `k` rows among the lists of `pack` it probes, in the order of the `rows`
   * rows of `vectors` (empty for a query probing none of them, and for all of an empty index).
   */
  def search(vectors: Array[Float], rows: Int, probes: Array[Int], perRow: Int, pack: Array[InvertedList],
      dim: Int, k: Int, metric: String): Array[Found] = {
    val found = Array.fill(rows)(Found(Array.empty, Array.empty, Array.empty))
    probing(vectors, probes, perRow, dim, pack).foreach { case (selected, gathered, list) =>
      val near = Blocks.nearest(gathered, selected.length, list.vectors, dim, 0L, k, metric)
      selected.indices.foreach { s =>
        val rowsInList = near.positionsOf(s)
        val here = Found(rowsInList.map(p => list.positions(p.toInt)), near.scoresOf(s),
          rowsInList.map(p => list.ids(p.toInt)))
        found(selected(s)) = found(selected(s)).merge(here, k)
      }
    }
    found
  }

  /**
   * The pairs of rows of `block` (probing lists by `probes`) and rows of the lists of `pack` with
   * cosine similarity >= `threshold`, a row with itself left out: ((smaller position, larger),
   * (its id, the other's id, score)). A pair may come twice (from each row's probes).
   */
  def pairsAbove(block: IndexBlock, probes: Array[Int], perRow: Int, pack: Array[InvertedList], dim: Int,
      threshold: Float): Iterator[((Long, Long), (Any, Any, Float))] =
    probing(block.vectors, probes, perRow, dim, pack).flatMap { case (selected, gathered, list) =>
      val (rows, inList, scores) = Blocks.above(gathered, list.vectors, dim, 0L, threshold)
      rows.indices.iterator.flatMap { i =>
        val r = selected(rows(i))
        val (a, b) = (block.offset + r, list.positions(inList(i).toInt))
        val (idA, idB) = (block.ids(r), list.ids(inList(i).toInt))
        if (a < b) Iterator.single(((a, b), (idA, idB, scores(i))))
        else if (a > b) Iterator.single(((b, a), (idB, idA, scores(i))))
        else Iterator.empty
      }
    }
}
