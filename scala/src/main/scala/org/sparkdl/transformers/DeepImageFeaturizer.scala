package org.sparkdl.transformers

import org.apache.spark.ml.param.Param
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.types.StructType

import org.sparkdl.param.HasOutputMode

/**
 * Image features from a named pretrained network (by default the layer before its classifier),
 * as MLlib vectors: the first stage of transfer learning.
 *
 * {{{
 *   val featurizer = new DeepImageFeaturizer().setInputCol("image").setOutputCol("features")
 *     .setModelName("MobileNetV2")                  // 1280 features
 *   new Pipeline().setStages(Array(featurizer, new LogisticRegression())).fit(train)
 * }}}
 *
 * `featureLayer` picks another of the model's feature outputs (the registry lists them), e.g.
 * MobileNetV2's "multiscale" (1536: pooled outputs of two earlier blocks and the last layer),
 * which transfers better to images far from ImageNet; `imageSize` resizes to another size where
 * the graph allows it.
 *
 * Input: image structs, encoded bytes or paths. Images are resized to the model's input size and
 * preprocessed as the model was trained, natively, in the same pass as inference.
 */
class DeepImageFeaturizer(override val uid: String) extends NamedModelStage with HasOutputMode {

  def this() = this(Identifiable.randomUID("DeepImageFeaturizer"))

  final val featureLayer = new Param[String](this, "featureLayer",
    "which of the model's feature outputs to give: 'pool' (default: the layer before the classifier) " +
      "or another the registry lists for the model (MobileNetV2: 'multiscale')")
  override protected def outputModes: Seq[String] = Seq("vector", "array")
  setDefault(featureLayer -> org.sparkdl.models.ModelRegistry.DefaultFeatureLayer)

  def setFeatureLayer(value: String): this.type = set(featureLayer, value)
  def getFeatureLayer: String = $(featureLayer)

  private def featureTensor: String = spec.featureLayer($(featureLayer)).tensor

  override def transformSchema(schema: StructType): StructType = {
    checkParams(schema)
    inner(featureTensor, $(outputMode), $(outputCol)).transformSchema(schema)
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    transformSchema(dataset.schema)
    inner(featureTensor, $(outputMode), $(outputCol)).transform(dataset)
  }
}

object DeepImageFeaturizer extends MLReadable[DeepImageFeaturizer] {
  override def read: MLReader[DeepImageFeaturizer] =
    new ModelStage.Reader[DeepImageFeaturizer](new DeepImageFeaturizer(_), classOf[DeepImageFeaturizer].getName)

  // A static `load(String)` on the class: Spark Connect's ML loads stages through it.
  override def load(path: String): DeepImageFeaturizer = super.load(path)
}
