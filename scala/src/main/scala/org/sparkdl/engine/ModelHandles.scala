package org.sparkdl.engine

import java.nio.file.Files

import org.sparkdl.engine.Contract.LoadSpec
import org.sparkdl.jni.{NativeLib, NativeLoader}

/**
 * Native model handles of this JVM. The native side keeps one session per model (and settings),
 * shared by every task of the executor; a handle is one user of it, given back with [[release]].
 */
object ModelHandles {
  def acquire(model: NativeModel, precision: String = EngineSettings.DefaultPrecision): Long = {
    NativeLoader.ensureLoaded()
    Engines.ensure(model.format.backend)
    val spec = LoadSpec(model.format.name, model.key, tags = model.tags, config = EngineSettings.config(precision))
    model.format match {
      case ModelFormat.GraphDef => NativeLib.loadModel(Contract.json(spec), model.bytes)
      case ModelFormat.Onnx if model.files.isEmpty => NativeLib.loadModel(Contract.json(spec), model.bytes)
      case _ =>
        // A folder model (a SavedModel; an ONNX model with external data) is read only while its
        // session loads: written out just for that, and only when this JVM has no session for it.
        val loaded = NativeLib.acquireLoaded(Contract.json(spec))
        if (loaded != 0L) loaded
        else {
          val dir = Files.createTempDirectory("sparkdl-model-")
          try {
            val file = model.format match {
              case ModelFormat.SavedModel =>
                NativeModel.unzipTo(model.bytes, dir)
                None
              case _ => Some(NativeModel.writeOnnxFolder(model, dir))
            }
            NativeLib.loadModel(Contract.json(spec.copy(dir = Some(dir.toString), file = file)), null)
          } finally NativeModel.deleteRecursively(dir)
        }
    }
  }

  def release(handle: Long): Unit = NativeLib.releaseModel(handle)
}
