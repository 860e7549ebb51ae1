package org.sparkdl.jni

import java.io.File
import java.nio.file.{Files, StandardCopyOption}
import java.util.Locale
import java.util.concurrent.TimeUnit

import scala.util.control.NonFatal

import org.apache.spark.SparkEnv

import org.sparkdl.SparkdlConf

/**
 * Loads sparkdl's native library once per JVM (driver or executor):
 *
 *  1. libtensorflow (`libtensorflow_framework.so.2`, then `libtensorflow_cc.so.2`), by
 *     absolute path from the first of: the Spark conf `spark.sparkdl.tensorflow.libDir`, the
 *     JVM property `sparkdl.tensorflow.libDir`, the environment variable
 *     `SPARKDL_TENSORFLOW_LIB_DIR`, or the folder of an installed TensorFlow Python package
 *     (tensorflow-cpu or tensorflow) found with the Python that Spark uses. Loading them first
 *     lets the dynamic loader satisfy our library's DT_NEEDED entries by soname.
 *  2. `libsparkdl.so`, extracted from this jar (`/org/sparkdl/native/<os>-<arch>/`) into a
 *     private temporary folder, unless `SPARKDL_NATIVE_LIB` / `sparkdl.native.lib` names a file.
 *
 * A failure is remembered and rethrown, with its reason, by every later call.
 */
object NativeLoader {
  private val log = org.slf4j.LoggerFactory.getLogger(getClass)
  val TensorFlowLibs: Seq[String] = Seq("libtensorflow_framework.so.2", "libtensorflow_cc.so.2")

  @volatile private var state: Option[Either[Throwable, String]] = None

  /** Loads everything if needed; returns the JSON the native `init` answered. */
  def ensureLoaded(): String = {
    state match {
      case Some(Right(info)) => info
      case Some(Left(err)) => throw err
      case None =>
        synchronized {
          if (state.isEmpty) {
            state = Some(
              try Right(load())
              catch {
                case NonFatal(e) => Left(e)
                case e: LinkageError => Left(new NativeException(e.getMessage, e))
              })
          }
        }
        ensureLoaded()
    }
  }

  def isLoaded: Boolean = state.exists(_.isRight)

  private def load(): String = {
    val tfDir = findTensorFlow()
    TensorFlowLibs.foreach { name =>
      val f = new File(tfDir, name)
      try System.load(f.getAbsolutePath)
      catch {
        case e: UnsatisfiedLinkError =>
          throw new NativeException(s"could not load $f: ${e.getMessage}", e)
      }
    }
    val lib = nativeLibraryFile()
    System.load(lib.getAbsolutePath)
    val level = conf(SparkdlConf.NativeLogLevel).getOrElse("warn").replaceAll("[^A-Za-z]", "")
    val idle = conf(SparkdlConf.SessionIdleSeconds).map { v =>
      v.trim.toDoubleOption.filter(_ >= 0).getOrElse(throw new IllegalArgumentException(
          s"${SparkdlConf.SessionIdleSeconds} must be a number of seconds >= 0, got '$v'"))
    }
    val info =
      NativeLib.init(s"""{"logLevel":"$level"${idle.map(s => s""","sessionIdleSeconds":$s""").getOrElse("")}}""")
    log.info(s"sparkdl native library loaded from $lib with libtensorflow from $tfDir: $info")
    info
  }

  /** `linux-x86_64`, `linux-aarch64`, `darwin-aarch64`, ...: the jar folder for this JVM. */
  def platform: String = {
    val os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT) match {
      case n if n.startsWith("linux") => "linux"
      case n if n.startsWith("mac") || n.startsWith("darwin") => "darwin"
      case n if n.startsWith("windows") => "windows"
      case n => n.replaceAll("\\W", "")
    }
    val arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT) match {
      case "amd64" | "x86_64" => "x86_64"
      case "aarch64" | "arm64" => "aarch64"
      case a => a
    }
    s"$os-$arch"
  }

  private def libraryFileName: String =
    if (platform.startsWith("darwin")) "libsparkdl.dylib"
    else if (platform.startsWith("windows")) "sparkdl.dll"
    else "libsparkdl.so"

  /** Where this jar keeps the native library for `platform`. */
  def resourcePath(platform: String): String = s"/org/sparkdl/native/$platform/$libraryFileName"

  private def nativeLibraryFile(): File = {
    sys.props.get("sparkdl.native.lib").orElse(sys.env.get("SPARKDL_NATIVE_LIB")) match {
      case Some(path) =>
        val f = new File(path)
        if (!f.isFile) {
          throw new NativeException(
            s"SPARKDL_NATIVE_LIB / sparkdl.native.lib points at $path, which is not a file")
        }
        f
      case None => extract(platform)
    }
  }

  /** Copies the library for `platform` out of the jar, or explains that there is none. */
  private[jni] def extract(platform: String): File = {
    val resource = resourcePath(platform)
    val in = getClass.getResourceAsStream(resource)
    if (in == null) {
      throw new NativeException(
        s"this sparkdl jar has no native library for the platform '$platform' (looked for " +
          s"$resource). Released jars ship linux-x86_64; on another platform build the jar from " +
          "source (`make jar`) or set SPARKDL_NATIVE_LIB to a libsparkdl built for it.")
    }
    try {
      val dir = Files.createTempDirectory("sparkdl-native-")
      val out = dir.resolve(libraryFileName)
      Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING)
      dir.toFile.deleteOnExit()
      out.toFile.deleteOnExit()
      out.toFile
    } finally in.close()
  }

  private def conf(key: String): Option[String] =
    Option(SparkEnv.get).flatMap(_.conf.getOption(key))

  private def hasTensorFlow(dir: String): Boolean =
    dir.nonEmpty && TensorFlowLibs.forall(n => new File(dir, n).isFile)

  /** The folder holding libtensorflow, or an error that says which setting to use. */
  def findTensorFlow(): String = {
    val tried = scala.collection.mutable.ArrayBuffer.empty[String]
    def candidate(source: String, value: Option[String]): Option[String] =
      value.filter(_.nonEmpty).flatMap { dir =>
        if (hasTensorFlow(dir)) Some(dir)
        else {
          tried += s"$source=$dir (no ${TensorFlowLibs.mkString(" and ")} there)"
          None
        }
      }
    def fromPython: Option[String] = pythonCandidates().iterator.map { py =>
      val dir = packageDirOfPython(py, "tensorflow")
      if (dir.isEmpty) tried += s"python '$py' (no tensorflow package found)"
      candidate(s"python '$py'", dir)
    }.collectFirst { case Some(d) => d }

    candidate(SparkdlConf.TensorFlowLibDir, conf(SparkdlConf.TensorFlowLibDir))
      .orElse(candidate("-Dsparkdl.tensorflow.libDir", sys.props.get("sparkdl.tensorflow.libDir")))
      .orElse(candidate("SPARKDL_TENSORFLOW_LIB_DIR", sys.env.get("SPARKDL_TENSORFLOW_LIB_DIR")))
      .orElse(fromPython)
      .getOrElse {
        throw new NativeException(
          "libtensorflow was not found. sparkdl runs models with the TensorFlow C API from the " +
            "tensorflow-cpu (or GPU `tensorflow`) Python wheel. Either set the Spark conf " +
            s"${SparkdlConf.TensorFlowLibDir} (or the environment variable " +
            "SPARKDL_TENSORFLOW_LIB_DIR) to the folder holding libtensorflow_cc.so.2 and " +
            "libtensorflow_framework.so.2, or run `pip install tensorflow-cpu==2.21.0` for the " +
            "Python that Spark uses (spark.pyspark.python, PYSPARK_PYTHON or python3). " +
            s"Tried: ${tried.mkString("; ")}")
      }
  }

  /** The Pythons sparkdl asks about installed packages, in order. */
  def pythonCandidates(): Seq[String] =
    (conf("spark.pyspark.python").toSeq ++ sys.env.get("PYSPARK_PYTHON").toSeq :+ "python3").distinct

  /** The folder of Python package `pkg` in the first Python (of [[pythonCandidates]]) that has it. */
  def pythonPackageDir(pkg: String): Option[String] =
    pythonCandidates().iterator.map(packageDirOfPython(_, pkg)).collectFirst { case Some(d) => d }

  /**
   * Asks `python` where package `pkg` is, without importing it; gives up after `timeoutSeconds`
   * (a Python that hangs must not hang the executor). The answer goes to a file, not a pipe, so
   * that waiting for it is bounded by the timeout.
   */
  private[sparkdl] def packageDirOfPython(python: String, pkg: String, timeoutSeconds: Long = 60): Option[String] = {
    require(pkg.matches("[A-Za-z_][A-Za-z0-9_.]*"), s"not a Python package name: $pkg")
    val code = s"import importlib.util as u; s = u.find_spec('$pkg'); " +
      "print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')"
    val answer = java.io.File.createTempFile("sparkdl-python-", ".txt")
    try {
      val pb = new ProcessBuilder(python, "-c", code)
      pb.redirectError(ProcessBuilder.Redirect.DISCARD)
      pb.redirectOutput(answer)
      val p = pb.start()
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.descendants().forEach(c => { c.destroyForcibly(); () })
        p.destroyForcibly()
        log.warn(s"$python did not answer where the Python package $pkg is within $timeoutSeconds s; skipped")
        None
      } else {
        val out = new String(java.nio.file.Files.readAllBytes(answer.toPath), "UTF-8").trim
        if (p.exitValue() == 0 && out.nonEmpty) Some(out) else None
      }
    } catch {
      case NonFatal(_) => None
    } finally answer.delete()
  }
}
