package org.sparkdl.engine

import java.io.{ByteArrayInputStream, ByteArrayOutputStream, File}
import java.nio.file.{Files, Path, Paths}
import java.security.MessageDigest
import java.util.zip.{ZipEntry, ZipInputStream, ZipOutputStream}

import scala.jdk.CollectionConverters._

import org.apache.hadoop.fs.{Path => HPath}

import org.apache.spark.sql.SparkSession

import org.sparkdl.jni.{NativeException, NativeLib, NativeLoader}

/**
 * A model as bytes, of any format ([[ModelFormat]]), so it can be broadcast to executors and
 * saved inside a PipelineModel: a frozen GraphDef, a SavedModel folder zipped (run with its
 * `tags`), or an ONNX model with the external data files it names (`files`, by their names
 * relative to the model), so executors never need the driver's disk.
 */
final class NativeModel private (
    val format: ModelFormat,
    val bytes: Array[Byte],
    val tags: Seq[String],
    val files: Seq[(String, Array[Byte])])
    extends Serializable {

  /** Identifies the model in the executors' session cache. */
  lazy val key: String = {
    val md = MessageDigest.getInstance("SHA-256")
    md.update(format.name.getBytes("UTF-8"))
    md.update(tags.mkString(",").getBytes("UTF-8"))
    md.update(bytes)
    files.foreach { case (name, b) =>
      md.update(name.getBytes("UTF-8"))
      md.update(b)
    }
    md.digest().map(b => f"${b & 0xff}%02x").mkString
  }

  /** Loads the model in this JVM (driver or executor) and describes its tensors. */
  def describe(): ModelInfo = {
    val handle = ModelHandles.acquire(this)
    try ModelInfo.parse(NativeLib.describeModel(handle))
    finally ModelHandles.release(handle)
  }

  /** The bytes of the model and its files. */
  def size: Long = bytes.length.toLong + files.map(_._2.length.toLong).sum

  override def toString: String =
    s"${format.backend.title} $format model (${size} bytes${if (files.isEmpty) "" else s" in ${files.size + 1} files"}, " +
      s"sha256 ${key.take(12)})"
}

object NativeModel {

  /** A frozen GraphDef (all variables constant), e.g. from `stripAndFreezeGraph`. */
  def fromGraphDef(bytes: Array[Byte]): NativeModel = {
    require(bytes != null && bytes.nonEmpty, "graph: the GraphDef bytes are empty")
    new NativeModel(ModelFormat.GraphDef, bytes, Seq.empty, Seq.empty)
  }

  /**
   * A SavedModel folder (local path) with the given tags. The folder is zipped into the model,
   * so the stage keeps working when the folder is gone.
   */
  def fromSavedModel(dir: String, tags: Seq[String] = Seq("serve")): NativeModel = {
    val root = Paths.get(dir)
    if (!Files.isRegularFile(root.resolve("saved_model.pb"))) {
      throw new IllegalArgumentException(
        s"modelPath: $dir is not a SavedModel folder (it has no saved_model.pb); pass the folder " +
          "that tf.saved_model.save or model.export wrote")
    }
    new NativeModel(ModelFormat.SavedModel, zipFolder(root), tags, Seq.empty)
  }

  /** An ONNX model's bytes, with the external data files it names (none for most models). */
  def fromOnnx(bytes: Array[Byte], files: Seq[(String, Array[Byte])] = Nil): NativeModel = {
    require(bytes != null && bytes.nonEmpty, "modelFile: the ONNX model is empty (0 bytes)")
    new NativeModel(ModelFormat.Onnx, bytes, Seq.empty, files)
  }

  /**
   * An `.onnx` file on any filesystem Spark's Hadoop layer reads, with the external data files
   * it names, read from beside it. A file that is not ONNX, or an external-data location that
   * leaves the model's folder, fails here, naming the file.
   */
  def fromOnnxFile(spark: SparkSession, path: String): NativeModel = {
    val bytes = readAll(spark, path)
    val names = externalData(bytes, path)
    val folder = new HPath(path).getParent
    val files = names.map { name =>
      val p = new HPath(folder, name)
      val f =
        try readAll(spark, p.toString)
        catch {
          case e: java.io.FileNotFoundException =>
            throw new IllegalArgumentException(s"modelFile: $path keeps weights in '$name', which is not beside it " +
                s"(no $p); copy the model's .onnx file together with its data files", e)
        }
      name -> f
    }
    fromOnnx(bytes, files)
  }

  /** The external data files an ONNX model names, checked by the native side. */
  private def externalData(bytes: Array[Byte], what: String): Seq[String] = {
    NativeLoader.ensureLoaded()
    val json =
      try NativeLib.inspectModel(ModelFormat.Onnx.name, bytes)
      catch {
        case e: IllegalArgumentException => throw new IllegalArgumentException(s"modelFile: $what: ${e.getMessage}", e)
      }
    implicit val formats: org.json4s.Formats = org.json4s.DefaultFormats
    (Contract.parseValue(json) \ "externalData").extract[List[String]]
  }

  /** Reads a model saved by [[save]]. */
  def load(spark: SparkSession, path: String): NativeModel = {
    val meta = new String(readAll(spark, s"$path/model.json"), "UTF-8")
    val fields = Contract.parseValue(meta)
    implicit val formats: org.json4s.Formats = org.json4s.DefaultFormats
    val format = ModelFormat.fromName((fields \ "format").extract[String])
    val tags = (fields \ "tags").extractOpt[List[String]].getOrElse(Nil)
    val names = (fields \ "files").extractOpt[List[String]].getOrElse(Nil)
    val files = names.zipWithIndex.map { case (n, i) => n -> readAll(spark, s"$path/files/$i") }
    new NativeModel(format, readAll(spark, s"$path/model.bin"), tags, files)
  }

  /** `model/model.json` (format, tags, sha256, files), `model.bin`, and `files/<i>` per external file. */
  def save(model: NativeModel, spark: SparkSession, path: String): Unit = {
    val json = org.json4s.jackson.Serialization.write(Map("format" -> model.format.name, "tags" -> model.tags,
        "sha256" -> model.key, "files" -> model.files.map(_._1)))(org.json4s.DefaultFormats)
    writeAll(spark, s"$path/model.json", json.getBytes("UTF-8"))
    writeAll(spark, s"$path/model.bin", model.bytes)
    model.files.zipWithIndex.foreach { case ((_, b), i) => writeAll(spark, s"$path/files/$i", b) }
  }

  private[sparkdl] def readAll(spark: SparkSession, path: String): Array[Byte] = {
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
  private[engine] def deleteRecursively(dir: Path): Unit = {
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

  /** Unzips a SavedModel into `dir` (used on executors); entries may not leave `dir`. */
  private[engine] def unzipTo(bytes: Array[Byte], dir: Path): Unit = {
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

  /** Writes an ONNX model and its external files into `dir` (used on executors). */
  private[engine] def writeOnnxFolder(model: NativeModel, dir: Path): String = {
    val file = "model.onnx"
    Files.write(dir.resolve(file), model.bytes)
    model.files.foreach { case (name, b) =>
      val target = dir.resolve(name).normalize()
      if (!target.startsWith(dir)) throw new NativeException(s"unsafe external data location in ONNX model: $name")
      Files.createDirectories(target.getParent)
      Files.write(target, b)
    }
    file
  }
}
