package org.sparkdl.similarity

import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.functions.{col, min}
import org.apache.spark.sql.types.{FloatType, StructField, StructType}
import org.apache.spark.storage.StorageLevel

import org.sparkdl.similarity.Blocks.IndexBlock

/**
 * Near-duplicates among feature vectors: every pair of rows whose cosine similarity reaches a
 * threshold ([[find]]), and the groups those pairs connect ([[groups]]), for the de-duplication
 * that comes next (keep one row per group).
 */
object Duplicates {

  /**
   * The default threshold of [[find]] for cosine similarity (0.95). Not a measured one for a
   * network's features: on the copies docs/SIMILARITY-SIGNATURE.md plants, MobileNetV2's features
   * reach no useful precision at any threshold; for copies use [[ImageSignature]]'s signatures at
   * [[ImageSignature.DefaultThreshold]] (measured).
   */
  val DefaultThreshold: Double = 0.95

  /** The default rows per block (as `NearestNeighbors.indexBlockRows`). */
  val DefaultBlockRows: Int = 8192

  /**
   * Every unordered pair of rows of `df` with cosine similarity >= `threshold`, once:
   * `id_a < id_b` (the `idCol` type), `score` (float). Rows whose vector is null are left out.
   *
   * Exact: the rows, sorted by id, are cut into blocks of `blockRows` (one per partition); each
   * pair of blocks (a block with itself included) is scored by one native call that keeps every
   * pair above the threshold (f32 products, the pairs near the threshold re-scored exactly).
   * Quadratic in the rows: its cost grows with n² / 2 vector products.
   *
   * `algorithm = "ivf"`: approximate, for large sets ([[Ivf]], settings in `ivf`): KMeans lists,
   * each row scored against the rows of its `nprobe` nearest lists only, so about
   * n² · nprobe / numLists products; a pair is missed when neither row probes the other's list
   * (docs/PERFORMANCE.md measures how often).
   */
  def find(df: DataFrame, threshold: Double = DefaultThreshold, featuresCol: String = "features",
      idCol: String = "id", blockRows: Int = DefaultBlockRows, algorithm: String = "exact",
      ivf: Ivf.Settings = Ivf.Settings()): DataFrame = {
    if (threshold.isNaN || threshold < -1 || threshold > 1) {
      throw new IllegalArgumentException(
        s"threshold: $threshold is not a cosine similarity; use a value in [-1, 1] (near-duplicates score " +
          s"close to 1; the default is $DefaultThreshold)")
    }
    if (blockRows < 1) throw new IllegalArgumentException(s"blockRows must be at least 1, got $blockRows")
    if (algorithm != "exact" && algorithm != "ivf") {
      throw new IllegalArgumentException(
        s"algorithm: '$algorithm' is not known; use 'exact' (every pair scored) or 'ivf' (approximate, for large sets)")
    }
    val params = new NearestNeighbors().setFeaturesCol(featuresCol).setIdCol(idCol)
    params.transformSchema(df.schema)
    val idType = df.schema(idCol).dataType
    val (blocks, dim, rows) = NearestNeighborsModel.buildBlocks(df.select(col(idCol), col(featuresCol)), idCol,
      featuresCol, blockRows)
    val t = threshold.toFloat
    val pairs = if (algorithm == "ivf") approximatePairs(df, blocks, dim, rows, t, ivf)
    else blocks.cartesian(blocks).flatMap { case (a, b) =>
      if (a.offset > b.offset || a.ids.isEmpty || b.ids.isEmpty) Iterator.empty
      else {
        val (rows, positions, scores) = Blocks.above(a.vectors, b.vectors, dim, b.offset, t)
        rows.indices.iterator.collect {
          // Within a block with itself, each pair once and no row with itself.
          case i if a.offset + rows(i) < positions(i) =>
            Row(a.ids(rows(i)), b.ids((positions(i) - b.offset).toInt), scores(i))
        }
      }
    }
    val schema = StructType(Seq(StructField("id_a", idType, nullable = false),
        StructField("id_b", idType,
          nullable = false), StructField("score", FloatType, nullable = false)))
    df.sparkSession.createDataFrame(pairs, schema)
  }

  /**
   * The pairs above `t` by an inverted-file index ([[Ivf]]): each row scored against the rows of
   * its `nprobe` nearest lists only; a pair either row's probes reach is found, once.
   */
  private def approximatePairs(df: DataFrame, blocks: RDD[IndexBlock], dim: Int, rows: Long, t: Float,
      settings: Ivf.Settings): RDD[Row] = {
    val centroids = Ivf.train(df.sparkSession, blocks, rows, dim, "cosine", settings)
    val perRow = math.min(settings.nprobe, Ivf.listCount(centroids, dim))
    val cs = blocks.sparkContext.broadcast(centroids)
    // Each block's probes, computed once (the cartesian product reads a block once per pack);
    // the first of a row's probes is its own list.
    val probes = blocks.map(b => Ivf.probes(b.vectors, cs.value, dim, perRow, "cosine"))
      .persist(StorageLevel.MEMORY_AND_DISK)
    val index = Ivf.build(blocks, probes, perRow, centroids, dim, "cosine")
    blocks.zip(probes).cartesian(index.packs)
      .flatMap { case ((block, probes), pack) => Ivf.pairsAbove(block, probes, perRow, pack, dim, t) }
      .reduceByKey((x, _) => x)
      .map { case (_, (a, b, score)) => Row(a, b, score) }
  }

  /**
   * The connected components of `pairs` (`id_a`, `id_b`, as [[find]] gives them) over the ids of
   * `df`: `id`, `group` (the smallest id of its component; a row in no pair is its own group).
   * Keeping the rows where `id == group` keeps one row of each group.
   *
   * Spark jobs only: each round gives every id the smallest group among itself, its neighbours
   * and its group's group (so chains shorten by halves), until no group changes; the labels are
   * checkpointed locally each round.
   */
  def groups(df: DataFrame, pairs: DataFrame, idCol: String = "id"): DataFrame = {
    val edges = pairs.select(col("id_a").as("a"), col("id_b").as("b")).localCheckpoint()
    var labels = df.select(col(idCol).as("id")).where(col("id").isNotNull).distinct()
      .withColumn("group", col("id")).localCheckpoint()
    var changed = true
    while (changed) {
      val l = labels.select(col("id").as("lid"), col("group").as("lgroup"))
      val fromA = edges.join(l, col("a") === col("lid")).select(col("b").as("id"), col("lgroup").as("g"))
      val fromB = edges.join(l, col("b") === col("lid")).select(col("a").as("id"), col("lgroup").as("g"))
      val viaGroup = labels.join(l, col("group") === col("lid")).select(col("id"), col("lgroup").as("g"))
      val next = labels.select(col("id"), col("group").as("g")).unionByName(fromA).unionByName(fromB)
        .unionByName(viaGroup).groupBy("id").agg(min("g").as("group")).localCheckpoint()
      changed = !next.join(labels.select(col("id"), col("group").as("old")), "id")
        .where(col("group") =!= col("old")).isEmpty
      labels = next
    }
    labels
  }

  /** [[find]] then [[groups]]: each row's duplicate group. */
  def findGroups(df: DataFrame, threshold: Double = DefaultThreshold, featuresCol: String = "features",
      idCol: String = "id", blockRows: Int = DefaultBlockRows, algorithm: String = "exact",
      ivf: Ivf.Settings = Ivf.Settings()): DataFrame =
    groups(df, find(df, threshold, featuresCol, idCol, blockRows, algorithm, ivf), idCol)

  /** [[find]] (or with `groups`, [[findGroups]]) with each setting given: the form Python calls. */
  def find(df: DataFrame, threshold: Double, featuresCol: String, idCol: String, blockRows: Int,
      algorithm: String, numLists: Int, nprobe: Int, trainRows: Int, seed: Long, groups: Boolean): DataFrame = {
    val settings = Ivf.Settings(numLists, nprobe, trainRows, seed)
    if (groups) findGroups(df, threshold, featuresCol, idCol, blockRows, algorithm, settings)
    else find(df, threshold, featuresCol, idCol, blockRows, algorithm, settings)
  }
}
