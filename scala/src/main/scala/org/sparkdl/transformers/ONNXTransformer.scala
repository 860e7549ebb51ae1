package org.sparkdl.transformers

import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}

/**
 * Applies an ONNX model to numeric array or vector columns, batched, in ONNX Runtime: several
 * inputs (`inputMapping`: column -> model input) and outputs (`outputMapping`: model output ->
 * column), any number of symbolic dimensions in each input as long as one row's values fix them.
 *
 * {{{
 *   new ONNXTransformer().setModelFile("/models/model.onnx")
 *     .setInputMapping(Map("features" -> "input"))
 *     .setOutputMapping(Map("output" -> "prediction"))
 * }}}
 *
 * See [[MappedModelStage]] for the column types and outputs.
 */
class ONNXTransformer(override val uid: String) extends MappedModelStage with ONNXModelSource {

  def this() = this(Identifiable.randomUID("ONNXTransformer"))

  override protected def mappingExample: (String, String, String) = ("features", "input", "output")
}

object ONNXTransformer extends MLReadable[ONNXTransformer] {
  override def read: MLReader[ONNXTransformer] =
    new ModelStage.Reader[ONNXTransformer](new ONNXTransformer(_), classOf[ONNXTransformer].getName)

  override def load(path: String): ONNXTransformer = super.load(path)
}
