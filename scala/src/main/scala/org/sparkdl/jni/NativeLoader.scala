package org.sparkdl.jni

import java.io.File
import java.nio.file.{Files, StandardCopyOption}
import java.util.Locale
import java.util.concurrent.TimeUnit

import scala.util.control.NonFatal

import org.apache.spark.SparkEnv

import org.sparkdl.SparkdlConf
import org.sparkdl.engine.{Contract, EngineSettings}

/**
 * Loads sparkdl's native library once per JVM (driver or executor): `libsparkdl.so`, extracted
 * from this jar (`/org/sparkdl/native/<os>-<arch>/`) into a private temporary folder, unless
 * `SPARKDL_NATIVE_LIB` / `sparkdl.native.lib` names a file. The library links no model runtime:
 * TensorFlow and ONNX Runtime are loaded when a model of theirs is first used
 * (`org.sparkdl.engine.Engines`).
 *
 * A failure is remembered and rethrown, with its reason, by every later call.
 */
object NativeLoader {
  private val log = org.slf4j.LoggerFactory.getLogger(getClass)

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
    val lib = nativeLibraryFile()
    System.load(lib.getAbsolutePath)
    val conf = Option(SparkEnv.get).map(_.conf)
    val init = Contract.InitConfig(
      logLevel = conf.flatMap(c => SparkdlConf.NativeLogLevel.read(c)),
      sessionIdleSeconds = conf.flatMap(c => SparkdlConf.SessionIdleSeconds.get(c)),
      executorCores = EngineSettings.executorCores(conf))
    val info = NativeLib.init(Contract.json(init))
    log.info(s"sparkdl native library loaded from $lib: $info")
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

  /** The Pythons sparkdl asks about installed packages, in order. */
  def pythonCandidates(): Seq[String] =
    (Option(SparkEnv.get).flatMap(_.conf.getOption("spark.pyspark.python")).toSeq ++
      sys.env.get("PYSPARK_PYTHON").toSeq :+ "python3").distinct

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
