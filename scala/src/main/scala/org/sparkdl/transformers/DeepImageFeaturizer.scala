package org.sparkdl.transformers

import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.types.StructType

/**
 * Image features from a named pretrained network (the layer before its classifier), as MLlib
 * vectors: the first stage of transfer learning.
 *
 * {{{
 *   val featurizer = new DeepImageFeaturizer().setInputCol("image").setOutputCol("features")
 *     .setModelName("MobileNetV2")                  // 1280 features
 *   new Pipeline().setStages(Array(featurizer, new LogisticRegression())).fit(train)
 * }}}
 *
 * Input: image structs, encoded bytes or paths. Images are resized to the model's input size and
 * preprocessed as the model was trained, natively, in the same pass as inference.
 */
class DeepImageFeaturizer(override val uid: String) extends NamedModelStage {

  def this() = this(Identifiable.randomUID("DeepImageFeaturizer"))

  override def transformSchema(schema: StructType): StructType = {
    checkParams(schema)
    inner(spec.featureTensor, "vector", $(outputCol)).transformSchema(schema)
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    transformSchema(dataset.schema)
    inner(spec.featureTensor, "vector", $(outputCol)).transform(dataset)
  }
}

object DeepImageFeaturizer extends MLReadable[DeepImageFeaturizer] {
  override def read: MLReader[DeepImageFeaturizer] =
    new TFStage.Reader[DeepImageFeaturizer](new DeepImageFeaturizer(_), classOf[DeepImageFeaturizer].getName)
}
