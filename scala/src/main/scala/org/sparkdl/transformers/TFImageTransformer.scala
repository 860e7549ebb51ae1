package org.sparkdl.transformers

import org.apache.spark.ml.param.Param
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}

import org.sparkdl.engine.TensorInfo

/**
 * Applies a TensorFlow graph that takes images to an image column, batched, in the native engine.
 * Preprocessing runs in Rust in the same pass: decode (for encoded bytes or paths), resize to the
 * input tensor's height and width when they are fixed, else to `imageSize` when set
 * (`resizeMethod`, bilinear by default), channel order, `x * scale`, then `(x - mean) / std` per
 * channel, and the tensor layout (NHWC by default).
 *
 * Input column: Spark's image struct (`readImages`), encoded image bytes (`readImageFiles`'s
 * `content`), or file paths/URIs (read on the executors).
 *
 * {{{
 *   new TFImageTransformer()
 *     .setInputCol("image").setOutputCol("features")
 *     .setGraph(frozen).setInputTensor("input:0").setOutputTensor("features:0")
 *     .setChannelOrder("RGB").setOutputMode("vector")
 * }}}
 */
class TFImageTransformer(override val uid: String) extends ImageModelStage with TFModelSource {

  def this() = this(Identifiable.randomUID("TFImageTransformer"))

  override protected def defaultLayout: String = "NHWC"

  final val inputTensor = new Param[String](this, "inputTensor", "the graph's image input tensor (op:index)")
  final val outputTensor = new Param[String](this, "outputTensor", "the graph's output tensor (op:index)")

  def setInputTensor(value: String): this.type = set(inputTensor, value)
  def getInputTensor: String = $(inputTensor)
  def setOutputTensor(value: String): this.type = set(outputTensor, value)
  def getOutputTensor: String = $(outputTensor)

  override protected def inputParam: String = "inputTensor"
  override protected def outputParam: String = "outputTensor"

  private def required(p: Param[String]): String =
    get(p).getOrElse(throw new IllegalArgumentException(s"${p.name} is not set"))

  override protected def modelInput: TensorInfo = modelInfo.input(required(inputTensor), "inputTensor")
  override protected def modelOutput: TensorInfo = modelInfo.output(required(outputTensor), "outputTensor")
}

object TFImageTransformer extends MLReadable[TFImageTransformer] {
  override def read: MLReader[TFImageTransformer] =
    new ModelStage.Reader[TFImageTransformer](new TFImageTransformer(_), classOf[TFImageTransformer].getName)

  // A static `load(String)` on the class: Spark Connect's ML loads stages through it.
  override def load(path: String): TFImageTransformer = super.load(path)
}
