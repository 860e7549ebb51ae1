package org.sparkdl.transformers

import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}

/**
 * Applies a TensorFlow graph to numeric array or vector columns, batched, in the native engine.
 *
 * {{{
 *   val t = new TFTransformer()
 *     .setGraph(frozenGraphDefBytes)
 *     .setInputMapping(Map("features" -> "x:0"))
 *     .setOutputMapping(Map("y:0" -> "prediction"))
 *   t.transform(df)   // adds prediction: array<float> (the tensor's type), and prediction_error: string
 * }}}
 *
 * See [[MappedModelStage]] for the column types and outputs.
 */
class TFTransformer(override val uid: String) extends MappedModelStage with TFModelSource {

  def this() = this(Identifiable.randomUID("TFTransformer"))

  override protected def mappingExample: (String, String, String) = ("features", "x:0", "y:0")
}

object TFTransformer extends MLReadable[TFTransformer] {
  override def read: MLReader[TFTransformer] =
    new ModelStage.Reader[TFTransformer](new TFTransformer(_), classOf[TFTransformer].getName)

  // A static `load(String)` on the class: Spark Connect's ML loads stages through it.
  override def load(path: String): TFTransformer = super.load(path)
}
