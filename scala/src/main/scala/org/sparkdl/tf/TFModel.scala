package org.sparkdl.tf

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, File}
import java.nio.file.{Files, Path, Paths}
import java.security.MessageDigest
import java.util.zip.{ZipEntry, ZipInputStream, ZipOutputStream}

import scala.jdk.CollectionConverters._

import org.apache.hadoop.fs.{Path => HPath}

import org.apache.spark.sql.SparkSession

import org.sparkdl.jni.{NativeException, NativeLib, NativeLoader}

/**
 * A TensorFlow model as bytes, so it can be broadcast to executors and saved inside a
 * PipelineModel: either a frozen `GraphDef` (`format = "graphdef"`) or a whole SavedModel folder
 * stored as a zip (`format = "savedmodel"`, run with its `tags`).
 */
final class TFModel private (
    val format: String,
    val bytes: Array[Byte],
    val tags: Seq[String])
    extends Serializable {

  /** Identifies the model in the executors' session cache. */
  lazy val key: String = {
    val md = MessageDigest.getInstance("SHA-256")
    md.update(format.getBytes("UTF-8"))
    md.update(tags.mkString(",").getBytes("UTF-8"))
    md.update(bytes)
    md.digest().map(b => f"${b & 0xff}%02x").mkString
  }

  /** Loads the model in this JVM (driver or executor) and describes its tensors. */
  def describe(): ModelInfo = {
    val handle = ModelHandles.acquire(this)
    try ModelInfo.parse(NativeLib.describeModel(handle))
    finally ModelHandles.release(handle)
  }

  /**
   * A frozen GraphDef of this model stripped to what `outputs` need, variables turned into
   * constants with their current values (sparkdl's `strip_and_freeze_until`, for TF1-style
   * graphs; TF2 SavedModels keep variables inside functions and run as they are instead).
   */
  def freeze(outputs: Seq[String]): TFModel = {
    require(outputs.nonEmpty, "freeze: name at least one output tensor")
    val handle = ModelHandles.acquire(this)
    try {
      val json = org.json4s.jackson.Serialization.write(outputs.toList)(org.json4s.DefaultFormats)
      TFModel.fromGraphDef(NativeLib.freezeGraph(handle, json))
    } finally ModelHandles.release(handle)
  }

  override def toString: String = s"TFModel($format, ${bytes.length} bytes, sha256 ${key.take(12)})"
}

object TFModel {
  val GraphDef = "graphdef"
  val SavedModel = "savedmodel"

  /** A frozen GraphDef (all variables constant), e.g. from `stripAndFreezeGraph`. */
  def fromGraphDef(bytes: Array[Byte]): TFModel = {
    require(bytes != null && bytes.nonEmpty, "graph: the GraphDef bytes are empty")
    new TFModel(GraphDef, bytes, Seq.empty)
  }

  /** A `.pb` file holding a frozen GraphDef, on any filesystem Spark's Hadoop layer reads. */
  def fromGraphDefFile(spark: SparkSession, path: String): TFModel =
    fromGraphDef(readAll(spark, path))

  /**
   * A SavedModel folder (local path) with the given tags. The folder is zipped into the model,
   * so the stage keeps working when the folder is gone.
   */
  def fromSavedModel(dir: String, tags: Seq[String] = Seq("serve")): TFModel = {
    val root = Paths.get(dir)
    if (!Files.isRegularFile(root.resolve("saved_model.pb"))) {
      throw new IllegalArgumentException(
        s"modelPath: $dir is not a SavedModel folder (it has no saved_model.pb); pass the folder " +
          "that tf.saved_model.save or model.export wrote")
    }
    new TFModel(SavedModel, zipFolder(root), tags)
  }

  /** Reads a model saved by [[save]]. */
  def load(spark: SparkSession, path: String): TFModel = {
    val meta = new String(readAll(spark, s"$path/model.json"), "UTF-8")
    val fields = org.json4s.jackson.JsonMethods.parse(meta)
    implicit val formats: org.json4s.Formats = org.json4s.DefaultFormats
    val format = (fields \ "format").extract[String]
    val tags = (fields \ "tags").extract[List[String]]
    new TFModel(format, readAll(spark, s"$path/model.bin"), tags)
  }

  def save(model: TFModel, spark: SparkSession, path: String): Unit = {
    val json = org.json4s.jackson.Serialization.write(
      Map("format" -> model.format, "tags" -> model.tags, "sha256" -> model.key))(org.json4s.DefaultFormats)
    writeAll(spark, s"$path/model.json", json.getBytes("UTF-8"))
    writeAll(spark, s"$path/model.bin", model.bytes)
  }

  private def readAll(spark: SparkSession, path: String): Array[Byte] = {
    val p = new HPath(path)
    val fs = p.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (!fs.exists(p)) throw new java.io.FileNotFoundException(s"no such file: $path")
    val in = fs.open(p)
    try in.readAllBytes()
    finally in.close()
  }

  private def writeAll(spark: SparkSession, path: String, bytes: Array[Byte]): Unit = {
    val p = new HPath(path)
    val out = p.getFileSystem(spark.sparkContext.hadoopConfiguration).create(p, true)
    try out.write(bytes)
    finally out.close()
  }

  private def zipFolder(root: Path): Array[Byte] = {
    val buffer = new ByteArrayOutputStream()
    val zip = new ZipOutputStream(buffer)
    try {
      val files = Files.walk(root).iterator().asScala.filter(Files.isRegularFile(_)).toSeq.sortBy(_.toString)
      files.foreach { f =>
        zip.putNextEntry(new ZipEntry(root.relativize(f).toString.replace(File.separatorChar, '/')))
        Files.copy(f, zip)
        zip.closeEntry()
      }
    } finally zip.close()
    buffer.toByteArray
  }

  private lazy val log = org.slf4j.LoggerFactory.getLogger(getClass)

  /** Deletes a folder and everything in it (best effort: a file that cannot go is logged). */
  private[tf] def deleteRecursively(dir: Path): Unit = {
    if (Files.exists(dir)) {
      val walk = Files.walk(dir)
      val paths =
        try walk.iterator().asScala.toList.reverse
        finally walk.close()
      paths.foreach { p =>
        try Files.deleteIfExists(p)
        catch { case e: java.io.IOException => log.warn(s"could not delete $p: $e") }
      }
    }
  }

  /** Unzips a SavedModel into `dir` (used on executors). */
  private[tf] def unzipTo(bytes: Array[Byte], dir: Path): Unit = {
    val zip = new ZipInputStream(new ByteArrayInputStream(bytes))
    try {
      var entry = zip.getNextEntry
      while (entry != null) {
        val target = dir.resolve(entry.getName).normalize()
        if (!target.startsWith(dir)) throw new NativeException(s"unsafe path in SavedModel zip: ${entry.getName}")
        Files.createDirectories(target.getParent)
        Files.copy(zip, target)
        entry = zip.getNextEntry
      }
    } finally zip.close()
  }
}

/**
 * Native model handles of this JVM. The Rust side keeps one TensorFlow session per model (and
 * session settings), shared by every task of the executor; a handle is one user of it.
 */
object ModelHandles {
  def acquire(model: TFModel, precision: String = SessionSettings.DefaultPrecision): Long = {
    NativeLoader.ensureLoaded()
    val config = SessionSettings.json(precision)
    model.format match {
      case TFModel.GraphDef => NativeLib.loadGraphDef(model.key, model.bytes, config)
      case TFModel.SavedModel =>
        // A SavedModel is read only while its session loads: unzip it just for that, and only
        // when this JVM has no session for it, then delete the folder.
        val loaded = NativeLib.acquireLoaded(model.key, config)
        if (loaded != 0L) loaded
        else {
          val dir = Files.createTempDirectory("sparkdl-savedmodel-")
          try {
            TFModel.unzipTo(model.bytes, dir)
            NativeLib.loadSavedModel(model.key, dir.toString, model.tags.mkString(","), config)
          } finally TFModel.deleteRecursively(dir)
        }
      case other => throw new IllegalArgumentException(s"unknown model format '$other'")
    }
  }

  def release(handle: Long): Unit = NativeLib.releaseModel(handle)
}
