package org.sparkdl.image

import java.io.FileNotFoundException
import java.net.URI

import scala.util.control.NonFatal

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{FileStatus, Path}

import org.apache.spark.sql.{Column, DataFrame, SparkSession}
import org.apache.spark.sql.functions.{col, udf}
import org.apache.spark.sql.sparkdl.SparkdlBridge

import org.sparkdl.SparkdlConf
import org.sparkdl.plan.SparkdlPlanner

/**
 * Reading images into DataFrames.
 *
 * {{{
 *   import org.sparkdl.image.ImageReader
 *   val images = ImageReader.readImages(spark, "/data/photos", recursive = true)
 *   images.select("image.origin", "image.height", "image.width", "error").show()
 * }}}
 */
object ImageReader {

  /**
   * Reads the images under `path` (a folder, a file or a glob; any URI Spark's Hadoop layer
   * reads) and decodes them natively into Spark's image struct.
   *
   * @param recursive     also read files in sub-folders (without it, a folder that holds only
   *                      sub-folders is an error that says so, rather than no rows)
   * @param numPartitions repartition the files into this many partitions (-1: Spark's default)
   * @param dropInvalid   drop files that do not decode; otherwise they give a row with a null
   *                      `image` and the reason in `error`
   * @param sampleRatio   read a random fraction (0, 1] of the files
   * @return columns `image` (Spark's image struct) and `error` (null when decoded)
   */
  def readImages(
      spark: SparkSession,
      path: String,
      recursive: Boolean = false,
      numPartitions: Int = -1,
      dropInvalid: Boolean = false,
      sampleRatio: Double = 1.0): DataFrame = {
    val files = readImageFiles(spark, path, recursive, numPartitions, sampleRatio)
    val decoded = decode(files, "origin", "content")
    if (dropInvalid) decoded.where(col("image").isNotNull) else decoded
  }

  /**
   * Lists the files like [[readImages]] but keeps their encoded bytes (like Spark's
   * `binaryFile` source), so decoding can happen later, where a model runs.
   *
   * @return columns `origin` (the file's URI) and `content` (its bytes)
   */
  def readImageFiles(
      spark: SparkSession,
      path: String,
      recursive: Boolean = false,
      numPartitions: Int = -1,
      sampleRatio: Double = 1.0): DataFrame = {
    require(path != null && path.nonEmpty, "readImages: path must name a folder, a file or a glob")
    require(sampleRatio > 0.0 && sampleRatio <= 1.0,
      s"readImages: sampleRatio must be in (0, 1], got $sampleRatio")
    require(numPartitions == -1 || numPartitions > 0,
      s"readImages: numPartitions must be a positive number (or -1 for Spark's default), got $numPartitions")
    val listed = listFiles(spark, path, recursive)
    val sampled = if (sampleRatio < 1.0) {
      val rnd = new scala.util.Random(42L)
      listed.filter(_ => rnd.nextDouble() < sampleRatio)
    } else listed
    val partitions =
      if (numPartitions > 0) numPartitions
      else defaultPartitions(spark, sampled.map(_.getLen).sum, sampled.length)
    val hadoopConf = SparkdlBridge.serializableHadoopConf(spark)
    val origins = sampled.map(s => origin(s.getPath))
    val files = spark.sparkContext.parallelize(origins, partitions).mapPartitions { iter =>
      iter.map(o => (o, readFile(new Path(new URI(o)), hadoopConf.value.value)))
    }
    SparkdlBridge.filesDataFrame(spark, files, ImageSchema.imageFilesSchema)
  }

  /**
   * A column with the bytes of the files its string `paths` name (paths or URIs, e.g. the origins
   * `readImages` gives), read on the executors; null where a file cannot be read.
   */
  def readBytesColumn(paths: Column): Column = readBytesColumn(paths, SparkSession.active)

  /** [[readBytesColumn]] with `spark`'s Hadoop configuration. */
  def readBytesColumn(paths: Column, spark: SparkSession): Column = {
    val conf = SparkdlBridge.serializableHadoopConf(spark)
    // The UDF (whose encoders take milliseconds to build) is made once per configuration broadcast.
    val read = readUdfLock.synchronized {
      readUdf match {
        case Some((c, f)) if c eq conf => f
        case _ =>
          val f = udf { (p: String) => if (p == null) null else readFile(hadoopPath(p), conf.value.value) }
          readUdf = Some((conf, f))
          f
      }
    }
    read(paths)
  }

  private val readUdfLock = new Object
  private var readUdf
      : Option[(org.apache.spark.broadcast.Broadcast[_], org.apache.spark.sql.expressions.UserDefinedFunction)] = None

  private def hadoopPath(p: String): Path =
    try {
      val uri = new URI(p)
      if (uri.getScheme != null) new Path(uri) else new Path(p)
    } catch { case _: java.net.URISyntaxException => new Path(p) }

  /**
   * The file's bytes; null (with a warning in the executor log) when it cannot be read, so the
   * row survives and decoding reports it. Spark's `binaryFile` source is not used because it
   * silently skips zero-byte files, and every file must give a row.
   */
  private def readFile(path: Path, conf: Configuration): Array[Byte] = {
    try {
      val uri = path.toUri
      // A `file:` URI is read straight from the local disk: Hadoop's LocalFileSystem (checksum
      // look-ups, buffered streams) costs 0.10-0.12 ms a file against 0.025 here, on the task's
      // thread, for the same bytes. The decoded path, as Hadoop's RawLocalFileSystem opens it
      // (a URI with non-ASCII characters is not Paths.get's). Paths without a scheme go through
      // Hadoop (fs.defaultFS).
      if (uri.getScheme == "file" && uri.getAuthority == null)
        java.nio.file.Files.readAllBytes(java.nio.file.Paths.get(uri.getPath))
      else {
        val fs = path.getFileSystem(conf)
        val in = fs.open(path)
        try in.readAllBytes()
        finally in.close()
      }
    } catch {
      case NonFatal(e) =>
        log.warn(s"readImages: could not read $path: $e")
        null
    }
  }

  @transient private lazy val log = org.slf4j.LoggerFactory.getLogger(getClass)

  /** Spark's packing: about 128 MB of files per partition, at least one per core. */
  private def defaultPartitions(spark: SparkSession, totalBytes: Long, files: Int): Int = {
    val maxBytes = spark.conf.getOption("spark.sql.files.maxPartitionBytes")
      .map(SparkdlBridge.byteSize).getOrElse(128L << 20)
    val byBytes = (totalBytes / math.max(maxBytes, 1L) + 1).toInt
    math.max(1, math.min(math.max(files, 1), math.max(byBytes, spark.sparkContext.defaultParallelism)))
  }

  /**
   * The origin Spark's own image source gives a file: its URI, URL-encoded, with `file:///`
   * for local files (Hadoop prints them `file:/`).
   */
  private[sparkdl] def origin(path: Path): String = {
    val uri = path.toUri.toString
    if (uri.startsWith("file:/") && !uri.startsWith("file://")) "file://" + uri.substring(5) else uri
  }

  /**
   * Decodes a column of encoded image bytes. `originCol` names the string column used as the
   * image's origin. Returns every other column of `df`, then `image` and `error`. Builds a plan
   * (decoding runs natively, in batches, when the result is computed).
   */
  def decode(df: DataFrame, originCol: String, contentCol: String): DataFrame = {
    val inputs = Seq(SparkdlPlanner.input(df, originCol), SparkdlPlanner.input(df, contentCol))
    SparkdlPlanner(df, decodeOp(df.sparkSession, "image", "error"), inputs, drop = inputs.distinct)
  }

  /** The decoding of this session's settings, writing columns `imageCol` and `errorCol`. */
  private[sparkdl] def decodeOp(spark: SparkSession, imageCol: String, errorCol: String): DecodeImagesOp = {
    val maxPixels = SparkdlConf.MaxPixels.read(spark).get
    val batchSize = SparkdlConf.DecodeBatchSize.read(spark).get
    DecodeImagesOp(org.sparkdl.engine.Contract.DecodeConfig(maxPixels), batchSize, imageCol, errorCol)
  }

  /**
   * The files `path` names, as fully qualified URIs: a file, the files in a folder (and its
   * sub-folders when `recursive`), or the matches of a glob. Hidden files (`.x`, `_x`) are
   * skipped, as Spark's file sources do.
   */
  private[sparkdl] def listFiles(spark: SparkSession, path: String, recursive: Boolean): Seq[FileStatus] = {
    val hadoopPath = new Path(path)
    val fs = hadoopPath.getFileSystem(spark.sparkContext.hadoopConfiguration)
    val matches = Option(fs.globStatus(hadoopPath)).map(_.toSeq).getOrElse(Seq.empty)
    if (matches.isEmpty) {
      throw new FileNotFoundException(s"readImages: path does not exist: $path")
    }
    def visible(s: FileStatus): Boolean = {
      val n = s.getPath.getName
      !n.startsWith(".") && !n.startsWith("_")
    }
    def walk(status: FileStatus): Seq[FileStatus] =
      if (status.isFile) Seq(status)
      else fs.listStatus(status.getPath).toSeq.filter(visible).sortBy(_.getPath.getName).flatMap { s =>
        if (s.isFile) Seq(s)
        else if (recursive) walk(s)
        else Seq.empty
      }
    val files = matches.flatMap(walk)
    if (files.isEmpty && !recursive) {
      // photos/cats/*.jpg, photos/dogs/*.jpg read as "photos/" without recursive: an empty
      // DataFrame would only fail much later (e.g. fitting a classifier on no rows).
      val subFolders = matches.filter(_.isDirectory).flatMap(d => fs.listStatus(d.getPath).toSeq)
        .filter(s => s.isDirectory && visible(s)).map(_.getPath.getName).distinct.sorted
      if (subFolders.nonEmpty) {
        val shown = subFolders.take(5).map(_ + "/").mkString(", ") +
          (if (subFolders.size > 5) s" and ${subFolders.size - 5} more" else "")
        throw new IllegalArgumentException(s"readImages: $path holds no files, only sub-folders ($shown); " +
          "to read the images in sub-folders pass recursive=True (Python) / recursive = true (Scala)")
      }
    }
    files
  }
}
