package org.sparkdl.transformers

import org.apache.spark.ml.param.Param
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}

import org.sparkdl.engine.{ModelFormat, TensorInfo}

/**
 * Applies an ONNX model that takes images (exported from PyTorch, TensorFlow, Keras, ...) to an
 * image column, batched, in ONNX Runtime inside the executors' JVMs. Preprocessing runs in Rust
 * in the same pass, as for TFImageTransformer, with PyTorch's conventions as defaults: RGB,
 * layout NCHW. `inputName` and `outputName` default to the model's only input and first output.
 *
 * Input column: Spark's image struct (`readImages`), encoded image bytes (`readImageFiles`'s
 * `content`), or file paths/URIs (read on the executors).
 *
 * {{{
 *   new ONNXImageTransformer()
 *     .setInputCol("image").setOutputCol("logits")
 *     .setModelFile("/models/resnet18.onnx")
 *     .setScale(1.0 / 255).setMean(Array(0.485, 0.456, 0.406)).setStd(Array(0.229, 0.224, 0.225))
 * }}}
 */
class ONNXImageTransformer(override val uid: String) extends ImageModelStage with ONNXModelSource {

  def this() = this(Identifiable.randomUID("ONNXImageTransformer"))

  override protected def defaultLayout: String = "NCHW"

  final val inputName = new Param[String](this, "inputName", "the model's image input (default: its only input)")
  final val outputName = new Param[String](this, "outputName", "the model's output to read (default: its first)")

  def setInputName(value: String): this.type = set(inputName, value)
  def getInputName: String = get(inputName).getOrElse(modelInput.name)
  def setOutputName(value: String): this.type = set(outputName, value)
  def getOutputName: String = get(outputName).getOrElse(modelOutput.name)

  override protected def inputParam: String = "inputName"
  override protected def outputParam: String = "outputName"

  private def onnxInfo = {
    val info = modelInfo
    if (info.format != ModelFormat.Onnx) {
      throw new IllegalArgumentException(
        s"$uid: the model is a ${info.format} model; ONNXImageTransformer runs ONNX models (use TFImageTransformer)")
    }
    info
  }

  override protected def modelInput: TensorInfo = {
    val info = onnxInfo
    get(inputName) match {
      case Some(n) => info.input(n, "inputName")
      case None => info.inputs match {
          case Seq(only) => only
          case many => throw new IllegalArgumentException(
              s"inputName: the model has ${many.size} inputs (${many.map(_.name).mkString(", ")}); name the image " +
                "input with setInputName, or use ONNXTransformer for models with several inputs")
        }
    }
  }

  override protected def modelOutput: TensorInfo = {
    val info = onnxInfo
    get(outputName).map(info.output(_, "outputName")).getOrElse(info.outputs.headOption.getOrElse(
        throw new IllegalArgumentException("outputName: the model declares no outputs")))
  }
}

object ONNXImageTransformer extends MLReadable[ONNXImageTransformer] {
  override def read: MLReader[ONNXImageTransformer] =
    new ModelStage.Reader[ONNXImageTransformer](new ONNXImageTransformer(_), classOf[ONNXImageTransformer].getName)

  override def load(path: String): ONNXImageTransformer = super.load(path)
}
