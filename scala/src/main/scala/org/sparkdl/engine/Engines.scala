package org.sparkdl.engine

import java.io.File

import scala.util.control.NonFatal

import org.apache.spark.SparkEnv

import org.sparkdl.{ConfEntry, SparkdlConf}
import org.sparkdl.jni.{NativeException, NativeLib, NativeLoader}

/**
 * The model runtimes of this JVM, each loaded once, when a model of its backend is first used:
 * a process that only decodes images or only runs ONNX models never needs TensorFlow.
 *
 *  - TensorFlow: the folder with `libtensorflow_cc.so.2` and `libtensorflow_framework.so.2`, from
 *    the first of `spark.sparkdl.tensorflow.libDir`, the JVM property `sparkdl.tensorflow.libDir`,
 *    env `SPARKDL_TENSORFLOW_LIB_DIR`, or the installed `tensorflow-cpu`/`tensorflow` Python
 *    package of the Python Spark uses (found without importing it).
 *  - ONNX Runtime: the library file `libonnxruntime.so.1.*` (1.22 or later), from
 *    `spark.sparkdl.onnx.libPath`, the JVM property `sparkdl.onnx.libPath`, env
 *    `SPARKDL_ONNXRUNTIME_LIB`, or the `onnxruntime` (or `onnxruntime-gpu`) package's `capi/`.
 *
 * A failure is remembered and rethrown, with what was tried and the setting to fix, by every
 * later use of that backend.
 */
object Engines {
  private val log = org.slf4j.LoggerFactory.getLogger(getClass)

  val TensorFlowLibs: Seq[String] = Seq("libtensorflow_framework.so.2", "libtensorflow_cc.so.2")

  /** The oldest ONNX Runtime the native side accepts (its `ort` crate's `api-22`). */
  val MinOnnxRuntime = "1.22"

  private val state = scala.collection.mutable.Map.empty[Backend, Either[Throwable, String]]

  /** Loads `backend`'s library if needed; its version. */
  def ensure(backend: Backend): String = {
    val s = synchronized {
      state.getOrElseUpdate(backend, {
          NativeLoader.ensureLoaded()
          try {
            val path = locate(backend)
            val version = NativeLib.initBackend(backend.name, path)
            log.info(s"${backend.title} $version loaded from $path")
            Right(version)
          } catch {
            case NonFatal(e) => Left(e)
            case e: LinkageError => Left(new NativeException(e.getMessage, e))
          }
        })
    }
    s.fold(e => throw e, identity)
  }

  /** [[ensure]] as a value: the version, or why `backend` cannot be loaded here. */
  def load(backend: Backend): Either[Throwable, String] =
    try Right(ensure(backend))
    catch { case NonFatal(e) => Left(e) }

  /** The version of `backend` this JVM loaded, if it has. */
  def version(backend: Backend): Option[String] = synchronized(state.get(backend)).flatMap(_.toOption)

  private def locate(backend: Backend): String = backend match {
    case Backend.TensorFlow => findTensorFlow()
    case Backend.Onnx => findOnnxRuntime()
  }

  /** `setting`'s candidates in order: the Spark conf, the JVM property, the environment. */
  private def configured(entry: ConfEntry[String], property: String): Seq[(String, String)] =
    Option(SparkEnv.get).flatMap(e => e.conf.getOption(entry.key)).map(entry.key -> _).toSeq ++
      sys.props.get(property).map(s"-D$property" -> _) ++
      entry.env.flatMap(e => sys.env.get(e).filter(_.nonEmpty).map(e -> _))

  /** The folder holding libtensorflow, or an error that says which setting to use. */
  def findTensorFlow(): String = {
    val tried = scala.collection.mutable.ArrayBuffer.empty[String]
    def ok(dir: String): Boolean = dir.nonEmpty && TensorFlowLibs.forall(n => new File(dir, n).isFile)
    val fromSettings = configured(SparkdlConf.TensorFlowLibDir, "sparkdl.tensorflow.libDir").find {
      case (source, dir) => ok(dir) || {
          tried += s"$source=$dir (no ${TensorFlowLibs.mkString(" and ")} there)"; false
        }
    }.map(_._2)
    fromSettings.orElse(fromPython("tensorflow", tried)(dir => Some(dir).filter(ok))).getOrElse {
      throw new NativeException(
        "TensorFlow was not found: sparkdl runs TensorFlow models with the TensorFlow C API from the " +
          "tensorflow-cpu (or GPU `tensorflow`) Python wheel. Either set the Spark conf " +
          s"${SparkdlConf.TensorFlowLibDir} (or the environment variable SPARKDL_TENSORFLOW_LIB_DIR) to the " +
          "folder holding libtensorflow_cc.so.2 and libtensorflow_framework.so.2, or run " +
          "`pip install tensorflow-cpu==2.21.0` for the Python that Spark uses (spark.pyspark.python, " +
          s"PYSPARK_PYTHON or python3). Tried: ${tried.mkString("; ")}")
    }
  }

  /** The ONNX Runtime library file, or an error that says which setting to use. */
  def findOnnxRuntime(): String = {
    val tried = scala.collection.mutable.ArrayBuffer.empty[String]
    val fromSettings = configured(SparkdlConf.OnnxLibPath, "sparkdl.onnx.libPath").find {
      case (source, file) => new File(file).isFile || { tried += s"$source=$file (not a file)"; false }
    }.map(f => new File(f._2).getAbsolutePath)
    def inPackage(dir: String): Option[String] = Option(new File(dir, "capi").listFiles()).toSeq.flatten
      .filter(f => f.getName.startsWith("libonnxruntime.so.1.") && f.isFile).map(_.getAbsolutePath).sorted.lastOption
    fromSettings.orElse(fromPython("onnxruntime", tried)(inPackage)).getOrElse {
      throw new NativeException(
        s"ONNX Runtime was not found: sparkdl runs ONNX models with ONNX Runtime $MinOnnxRuntime or later. Either " +
          s"set the Spark conf ${SparkdlConf.OnnxLibPath} (or the environment variable SPARKDL_ONNXRUNTIME_LIB) to " +
          "libonnxruntime.so.1.* (e.g. from the onnxruntime wheel's onnxruntime/capi/ folder), or run " +
          "`pip install onnxruntime` (GPUs: onnxruntime-gpu) for the Python that Spark uses. " +
          s"Tried: ${tried.mkString("; ")}")
    }
  }

  private def fromPython(pkg: String, tried: scala.collection.mutable.Buffer[String])(
      pick: String => Option[String]): Option[String] =
    NativeLoader.pythonCandidates().iterator.map { py =>
      val found = NativeLoader.packageDirOfPython(py, pkg).flatMap { dir =>
        val p = pick(dir)
        if (p.isEmpty) tried += s"python '$py' ($pkg at $dir has no library)"
        p
      }
      if (found.isEmpty && !tried.exists(_.startsWith(s"python '$py' ($pkg"))) {
        tried += s"python '$py' (no $pkg package found)"
      }
      found
    }.collectFirst { case Some(p) => p }

  private[sparkdl] def reset(): Unit = synchronized(state.clear())
}
