package org.sparkdl.similarity

import scala.collection.mutable.ArrayBuffer

import org.apache.hadoop.fs.Path
import org.apache.spark.Partitioner
import org.apache.spark.ml.{Estimator, Model}
import org.apache.spark.ml.param.{IntParam, LongParam, Param, ParamMap, ParamValidators, Params}
import org.apache.spark.ml.sparkdl.MLBridge
import org.apache.spark.ml.util.{DefaultParamsReadable, DefaultParamsWritable, Identifiable}
import org.apache.spark.ml.util.{MLReadable, MLReader, MLWritable, MLWriter}
import org.apache.spark.rdd.RDD
import org.apache.spark.sql.{DataFrame, Dataset, Row, SparkSession}
import org.apache.spark.sql.functions.col
import org.apache.spark.sql.sparkdl.SparkdlBridge
import org.apache.spark.sql.types.{ArrayType, BooleanType, DataType, DateType, FloatType, NumericType}
import org.apache.spark.sql.types.{StringType, StructField, StructType, TimestampNTZType, TimestampType}
import org.apache.spark.storage.StorageLevel

import org.sparkdl.param.HasOutputCol
import org.sparkdl.similarity.Blocks.{Found, IndexBlock, QueryVectors}

/** The Params of [[NearestNeighbors]] and its model, each declared once. */
trait NearestNeighborsParams extends Params with HasOutputCol {
  final val featuresCol: Param[String] = new Param[String](this, "featuresCol",
    "column of feature vectors (MLlib vectors, array<float> or array<double>), in the index and the queries")
  final val idCol: Param[String] = new Param[String](this, "idCol",
    "the index's column that names each row in the results (an atomic type: long, string, ...); ties go to " +
      "the smaller id")
  final val k: IntParam = new IntParam(this, "k", "how many neighbours each query gets, best first",
    ParamValidators.gtEq(1))
  final val metric: Param[String] = new Param[String](this, "metric",
    "cosine (score: the cosine similarity) or l2 (score: the Euclidean distance, negated)",
    ParamValidators.inArray(Array("cosine", "l2")))
  final val queryBlockRows: IntParam = new IntParam(this, "queryBlockRows",
    "query rows scored together against an index block (with indexBlockRows, bounds a task's memory)",
    ParamValidators.gtEq(1))
  final val indexBlockRows: IntParam = new IntParam(this, "indexBlockRows",
    "index rows per block, about (range partitions of the id): one block per partition, scored against the query blocks by one task " +
      "each (memory: indexBlockRows x dim x 4 bytes)",
    ParamValidators.gtEq(1))

  final val algorithm: Param[String] = new Param[String](this, "algorithm",
    "exact (every index row scored) or ivf (approximate: an inverted-file index of KMeans lists, each query " +
      "scored against the rows of its nprobe nearest lists only)",
    ParamValidators.inArray(Array("exact", "ivf")))
  final val numLists: IntParam = new IntParam(this, "numLists",
    "ivf: the number of lists (KMeans centroids); 0 for about half the square root of the index's rows",
    ParamValidators.gtEq(0))
  final val nprobe: IntParam = new IntParam(this, "nprobe",
    "ivf: the lists each query probes, nearest first (more: better recall, slower)", ParamValidators.gtEq(1))
  final val trainRows: IntParam = new IntParam(this, "trainRows",
    s"ivf: index rows sampled for the KMeans fit; 0 for ${Ivf.TrainRowsPerList} per list", ParamValidators.gtEq(0))
  final val seed: LongParam = new LongParam(this, "seed", "ivf: the seed of the KMeans sample and fit")

  setDefault(featuresCol -> "features", idCol -> "id", k -> 10, metric -> "cosine", outputCol -> "neighbors",
    queryBlockRows -> 1024, indexBlockRows -> 8192, algorithm -> "exact", numLists -> 0,
    nprobe -> Ivf.DefaultProbes, trainRows -> 0, seed -> Ivf.DefaultSeed)

  final def getAlgorithm: String = $(algorithm)
  final def getNumLists: Int = $(numLists)
  final def getNprobe: Int = $(nprobe)
  final def getTrainRows: Int = $(trainRows)
  final def getSeed: Long = $(seed)
  def setAlgorithm(value: String): this.type = set(algorithm, value)
  def setNumLists(value: Int): this.type = set(numLists, value)
  def setNprobe(value: Int): this.type = set(nprobe, value)
  def setTrainRows(value: Int): this.type = set(trainRows, value)
  def setSeed(value: Long): this.type = set(seed, value)

  /** The IVF settings these Params give. */
  protected def ivfSettings: Ivf.Settings = Ivf.Settings($(numLists), $(nprobe), $(trainRows), $(seed))

  final def getFeaturesCol: String = $(featuresCol)
  final def getIdCol: String = $(idCol)
  final def getK: Int = $(k)
  final def getMetric: String = $(metric)
  final def getQueryBlockRows: Int = $(queryBlockRows)
  final def getIndexBlockRows: Int = $(indexBlockRows)
  def setFeaturesCol(value: String): this.type = set(featuresCol, value)
  def setIdCol(value: String): this.type = set(idCol, value)
  def setK(value: Int): this.type = set(k, value)
  def setMetric(value: String): this.type = set(metric, value)
  def setQueryBlockRows(value: Int): this.type = set(queryBlockRows, value)
  def setIndexBlockRows(value: Int): this.type = set(indexBlockRows, value)

  /** The index's id type, checked: an atomic type, so ids order and compare. */
  protected def checkedIdType(schema: StructType): DataType = {
    val field = schema.fields.find(_.name == $(idCol)).getOrElse(
      throw new IllegalArgumentException(
        s"idCol: there is no column '${$(idCol)}' in the index (columns: ${schema.fieldNames.mkString(", ")}); " +
          "set idCol to a column naming each row, or add one with monotonically_increasing_id()"))
    field.dataType match {
      case t @ (_: NumericType | _: StringType | BooleanType | DateType | TimestampType | TimestampNTZType) => t
      case other =>
        throw new IllegalArgumentException(
          s"idCol: column '${$(idCol)}' is ${other.simpleString}; ids must be of an atomic type (long, int, " +
            "string, ...) so that they order")
    }
  }

  /** The schema of the output column for ids of `idType`. */
  protected def neighborsType(idType: DataType): ArrayType =
    ArrayType(StructType(Seq(StructField("id", idType, nullable = true),
          StructField("score", FloatType,
            nullable = false))), containsNull = false)

  protected def withNeighbors(queries: StructType, idType: DataType): StructType = {
    Blocks.checkFeaturesType(queries, $(featuresCol), "featuresCol")
    if (queries.fieldNames.contains($(outputCol))) {
      throw new IllegalArgumentException(
        s"outputCol: the queries already have a column '${$(outputCol)}'; set outputCol to a new name")
    }
    queries.add(StructField($(outputCol), neighborsType(idType), nullable = true))
  }
}

/**
 * Exact k-nearest-neighbour search over feature vectors. `fit(index)` keeps the index (its
 * `idCol` and `featuresCol`); the model's `transform(queries)` adds `outputCol`:
 * `array<struct<id, score>>`, each query's `k` best index rows, best first, ties to the smaller
 * id. A query whose vector is null gets null; index rows whose vector is null are left out.
 *
 * How: the index is sorted by id and cut into blocks of `indexBlockRows` (one per partition,
 * cached); the queries into blocks of `queryBlockRows`. Every (query block, index block) pair is
 * scored by one native call (an f32 matrix product, the candidates re-scored exactly), and each
 * query's per-block lists are merged. A task's memory is the two blocks, whatever the index size.
 *
 * `algorithm = "ivf"` is approximate, for large indexes ([[Ivf]]): MLlib's KMeans, fitted on a
 * sample of `trainRows` index rows, makes `numLists` lists; each query is scored against the rows
 * of its `nprobe` nearest lists only. The lists are made at the model's first IVF search.
 */
class NearestNeighbors(override val uid: String)
    extends Estimator[NearestNeighborsModel] with NearestNeighborsParams with DefaultParamsWritable {

  def this() = this(Identifiable.randomUID("NearestNeighbors"))

  override def fit(dataset: Dataset[_]): NearestNeighborsModel = {
    transformSchema(dataset.schema)
    val index = dataset.toDF().select(col($(idCol)), col($(featuresCol)))
    val model = copyValues(new NearestNeighborsModel(uid, index).setParent(this))
    model.dim // builds the blocks now: an index error shows at fit, and transform starts from the cache
    model
  }

  /** Checks the index's columns; the schema of the queries is the model's to check. */
  override def transformSchema(schema: StructType): StructType = {
    checkedIdType(schema)
    Blocks.checkFeaturesType(schema, $(featuresCol), "featuresCol")
    schema
  }

  override def copy(extra: ParamMap): NearestNeighbors = defaultCopy(extra)
}

object NearestNeighbors extends DefaultParamsReadable[NearestNeighbors] {
  override def load(path: String): NearestNeighbors = super.load(path)
}

/**
 * The index of a [[NearestNeighbors]] fit: `transform(queries)` adds each query's neighbours.
 * Saved with a copy of the index (its ids and vectors, as Parquet under `index/`), so a loaded
 * model does not depend on the data it was fitted on; with `algorithm = "ivf"` also with its
 * KMeans centroids (`centroids/`), so a loaded model searches the same lists.
 */
class NearestNeighborsModel private[similarity] (override val uid: String, val index: DataFrame)
    extends Model[NearestNeighborsModel] with NearestNeighborsParams with MLWritable {

  private def idType: DataType = checkedIdType(index.schema)

  /** The index's blocks (one per partition, cached), the vectors' length and rows, built once. */
  @transient private lazy val built: (RDD[IndexBlock], Int, Long) = NearestNeighborsModel.buildBlocks(
    index, $(idCol), $(featuresCol), $(indexBlockRows))

  /** The length of the index's vectors (0 for an index without vectors). */
  def dim: Int = built._2

  /**
   * The IVF centroids, when known: those a loaded model was saved with (so a reloaded model
   * searches the same lists), else fitted at the first IVF search.
   */
  @volatile private var savedCentroids: Option[Array[Float]] = None

  private[similarity] def withCentroids(cs: Array[Float]): this.type = { savedCentroids = Some(cs); this }

  /** The inverted lists of `algorithm = "ivf"`, built at the first search that needs them. */
  @transient private lazy val ivfIndex: Ivf.Index = {
    val (blocks, d, rows) = built
    val centroids = savedCentroids.getOrElse(Ivf.train(index.sparkSession, blocks, rows, d, $(metric), ivfSettings))
    savedCentroids = Some(centroids)
    val (cs, metricName) = (index.sparkSession.sparkContext.broadcast(centroids), $(metric))
    Ivf.build(blocks, blocks.map(b => Ivf.probes(b.vectors, cs.value, d, 1, metricName)), 1, centroids, d, metricName)
  }

  /** The IVF centroids (`lists` x `dim`, row-major), fitted if not yet; for save and tests. */
  private[similarity] def centroids: Array[Float] = ivfIndex.centroids

  override def transformSchema(schema: StructType): StructType = withNeighbors(schema, idType)

  override def transform(dataset: Dataset[_]): DataFrame = {
    val schema = transformSchema(dataset.schema)
    val queries = dataset.toDF()
    val (blocks, dim, _) = built
    val (kk, metricName, blockRows, featuresName) = ($(k), $(metric), $(queryBlockRows), $(featuresCol))
    val fi = queries.schema.fieldIndex(featuresName)
    val rows = queries.rdd
    val parts = rows.getNumPartitions
    // The queries' rows in blocks, kept so the results meet the very rows they were computed for.
    val queryBlocks: RDD[((Int, Int), Array[Row])] = rows.mapPartitionsWithIndex { (p, it) =>
      it.grouped(blockRows).zipWithIndex.map { case (group, b) => ((p, b), group.toArray) }
    }.persist(StorageLevel.MEMORY_AND_DISK)
    val vectors = queryBlocks.map { case (key, group) =>
      val rowsWithVectors = ArrayBuffer.empty[Int]
      val flat = ArrayBuffer.empty[Float]
      group.indices.foreach { r =>
        val v = Blocks.floats(group(r), fi, dim, featuresName, s"query row ${r + 1} of block $key")
        if (v != null) { rowsWithVectors += r; flat ++= v }
      }
      QueryVectors(key, rowsWithVectors.toArray, flat.toArray)
    }.persist(StorageLevel.MEMORY_AND_DISK) // read once per index block
    val perBlock: RDD[((Int, Int), Array[Found])] = if ($(algorithm) == "ivf") {
      val ivf = ivfIndex
      val perRow = ivf.probesPerRow($(nprobe))
      val cs = queries.sparkSession.sparkContext.broadcast(ivf.centroids)
      // Each query block's probes, computed once (the cartesian product reads a block once per pack).
      val probes = vectors.map(q => Ivf.probes(q.vectors, cs.value, dim, perRow, metricName))
        .persist(StorageLevel.MEMORY_AND_DISK)
      vectors.zip(probes).cartesian(ivf.packs).map {
        case ((q, probes), pack) =>
          (q.key, Ivf.search(q.vectors, q.rows.length, probes, perRow, pack, dim, kk, metricName))
      }
    } else {
      vectors.cartesian(blocks).map { case (q, block) => (q.key, Blocks.search(q, block, dim, kk, metricName)) }
    }
    val found = perBlock
      .reduceByKey(new NearestNeighborsModel.OfQueryPartition(parts),
        (a: Array[Found], b: Array[Found]) => a.zip(b).map { case (x, y) => x.merge(y, kk) })
    val out = queryBlocks.zipPartitions(found) { (blocksOfPart, foundOfPart) =>
      val byKey = foundOfPart.toMap
      blocksOfPart.flatMap { case (key, group) =>
        // Each row's list, or null for a row without a vector (an empty index: empty lists).
        val lists = new Array[Seq[Row]](group.length)
        val withVectors = group.indices.filterNot(r => group(r).isNullAt(fi))
        val searched = byKey.get(key)
        withVectors.zipWithIndex.foreach { case (r, j) =>
          lists(r) = searched.fold(Seq.empty[Row]) { all =>
            val f = all(j)
            Seq.tabulate(f.size)(n => Row(f.ids(n), f.scores(n)))
          }
        }
        group.iterator.zipWithIndex.map { case (row, r) => Row.fromSeq(row.toSeq :+ lists(r)) }
      }
    }
    queries.sparkSession.createDataFrame(out, schema)
  }

  override def copy(extra: ParamMap): NearestNeighborsModel = {
    val copied = copyValues(new NearestNeighborsModel(uid, index), extra).setParent(parent)
    // The same lists only while the settings that made them are the same.
    val same = copied.getMetric == getMetric && copied.getNumLists == getNumLists &&
      copied.getTrainRows == getTrainRows && copied.getSeed == getSeed
    savedCentroids.filter(_ => same).foreach(copied.withCentroids)
    copied
  }

  override def write: MLWriter = new NearestNeighborsModel.Writer(this)
}

object NearestNeighborsModel extends MLReadable[NearestNeighborsModel] {

  /** Puts the results of a query block in the partition its rows are in. */
  private[similarity] class OfQueryPartition(parts: Int) extends Partitioner {
    override def numPartitions: Int = parts
    override def getPartition(key: Any): Int = key.asInstanceOf[(Int, Int)]._1
    override def equals(other: Any): Boolean = other match {
      case o: OfQueryPartition => o.numPartitions == parts
      case _ => false
    }
    override def hashCode: Int = parts
  }

  /**
   * The index sorted by id, cut into cached blocks of about `blockRows` (range partitions of the
   * id, one block each); its dim; and its rows (those with a vector). Block `p`'s rows have positions `(p << 32) + row`: ordered
   * as the ids are, without a job to count the rows before each block.
   */
  private[similarity] def buildBlocks(index: DataFrame, idName: String, featuresName: String,
      blockRows: Int): (RDD[IndexBlock], Int, Long) = {
    val present = index.where(col(featuresName).isNotNull)
      .select(col(idName), Blocks.asFloatArray(index.schema(featuresName).dataType, featuresName))
    val first = present.select(featuresName).head(1)
    val dim = first.headOption.map(_.getSeq[Float](0).length).getOrElse(0)
    val count = present.count()
    val nBlocks = math.max(1L, (count + blockRows - 1) / blockRows)
    if (nBlocks > Int.MaxValue) {
      throw new IllegalArgumentException(
        s"indexBlockRows: $count index rows make $nBlocks blocks; raise indexBlockRows")
    }
    val sorted = present.repartitionByRange(nBlocks.toInt, col(idName)).sortWithinPartitions(col(idName))
    val blocks = SparkdlBridge.keyedFloatArrays(sorted) { (p, rows) =>
      val ids = ArrayBuffer.empty[Any]
      var flat = new Array[Float](1024)
      var used = 0
      rows.foreach { row =>
        val id = row.key
        def what = s"index row with id $id" // only built for an error
        if (row.length != dim) {
          throw new IllegalArgumentException(s"column '$featuresName', $what: a vector of ${row.length} " +
            s"values where the index's first has $dim; every vector must come from the same featurizer")
        }
        var j = 0
        while (j < dim) {
          if (row.isNullAt(j)) throw Blocks.nullElement(featuresName, what, j)
          val v = row.float(j)
          Blocks.checkFinite(v, featuresName, what, j)
          if (used == flat.length) flat = java.util.Arrays.copyOf(flat, flat.length * 2)
          flat(used) = v
          used += 1
          j += 1
        }
        ids += id
      }
      if (ids.isEmpty) Iterator.empty
      else Iterator.single(IndexBlock(p.toLong << 32, ids.toArray, java.util.Arrays.copyOf(flat, used)))
    }.persist(StorageLevel.MEMORY_AND_DISK)
    blocks.count()
    (blocks, dim, count)
  }

  private class Writer(model: NearestNeighborsModel) extends MLWriter {
    override protected def saveImpl(path: String): Unit = {
      MLBridge.saveMetadata(model, path, sparkSession)
      model.index.write.parquet(new Path(path, "index").toString)
      if (model.getAlgorithm == "ivf") {
        val spark = sparkSession
        import spark.implicits._
        Seq(model.centroids).toDF("centroids").write.parquet(new Path(path, "centroids").toString)
      }
    }
  }

  override def read: MLReader[NearestNeighborsModel] = new MLReader[NearestNeighborsModel] {
    override def load(path: String): NearestNeighborsModel = {
      val spark: SparkSession = sparkSession
      val className = classOf[NearestNeighborsModel].getName
      val index = spark.read.parquet(new Path(path, "index").toString)
      val model = MLBridge.loadParams(new NearestNeighborsModel(MLBridge.loadUid(path, spark, className), index), path,
        spark, className)
      val centroids = new Path(path, "centroids")
      if (centroids.getFileSystem(spark.sparkContext.hadoopConfiguration).exists(centroids)) {
        model.withCentroids(spark.read.parquet(centroids.toString).head().getSeq[Float](0).toArray)
      }
      model
    }
  }

  override def load(path: String): NearestNeighborsModel = super.load(path)
}
