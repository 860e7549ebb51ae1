package org.sparkdl.similarity

import org.apache.spark.sql.{DataFrame, Row}
import org.apache.spark.sql.functions.{col, min}
import org.apache.spark.sql.types.{FloatType, StructField, StructType}

import org.sparkdl.jni.{NativeLib, NativeLoader}

/**
 * Near-duplicates among feature vectors: every pair of rows whose cosine similarity reaches a
 * threshold ([[find]]), and the groups those pairs connect ([[groups]]), for the de-duplication
 * that comes next (keep one row per group).
 */
object Duplicates {

  /**
   * The default threshold of [[find]] for cosine similarity. Provisional (0.95): item 6 of the
   * similarity issue measures the threshold on real images and replaces this value.
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
   */
  def find(df: DataFrame, threshold: Double = DefaultThreshold, featuresCol: String = "features",
      idCol: String = "id", blockRows: Int = DefaultBlockRows): DataFrame = {
    if (threshold.isNaN || threshold < -1 || threshold > 1) {
      throw new IllegalArgumentException(
        s"threshold: $threshold is not a cosine similarity; use a value in [-1, 1] (near-duplicates score " +
          s"close to 1; the default is $DefaultThreshold)")
    }
    if (blockRows < 1) throw new IllegalArgumentException(s"blockRows must be at least 1, got $blockRows")
    val params = new NearestNeighbors().setFeaturesCol(featuresCol).setIdCol(idCol)
    params.transformSchema(df.schema)
    val idType = df.schema(idCol).dataType
    val (blocks, dim) = NearestNeighborsModel.buildBlocks(df.select(col(idCol), col(featuresCol)), idCol,
      featuresCol, blockRows)
    val t = threshold.toFloat
    val pairs = blocks.cartesian(blocks).flatMap { case (a, b) =>
      if (a.offset > b.offset || a.ids.isEmpty || b.ids.isEmpty) Iterator.empty
      else {
        NativeLoader.ensureLoaded()
        val found = NativeLib.searchAbove(a.vectors, b.vectors, dim, b.offset, t)
        val (rows, positions, scores) =
          (found(0).asInstanceOf[Array[Int]], found(1).asInstanceOf[Array[Long]], found(2).asInstanceOf[Array[Float]])
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
      idCol: String = "id", blockRows: Int = DefaultBlockRows): DataFrame =
    groups(df, find(df, threshold, featuresCol, idCol, blockRows), idCol)
}
