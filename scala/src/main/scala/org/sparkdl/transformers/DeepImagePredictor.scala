package org.sparkdl.transformers

import org.apache.spark.ml.param.{BooleanParam, IntParam, ParamValidators}
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.types._

import org.sparkdl.engine.Contract
import org.sparkdl.models.Labels

/**
 * Class predictions of a named pretrained network: the probabilities of its classes as an MLlib
 * vector, or with `decodePredictions` the `topK` most likely classes as
 * `array<struct<class: string, description: string, probability: double>>`, best first
 * (`class` is the label set's id, e.g. the WordNet id `n07920052`; `description` its name,
 * `espresso`).
 */
class DeepImagePredictor(override val uid: String) extends NamedModelStage {

  def this() = this(Identifiable.randomUID("DeepImagePredictor"))

  final val decodePredictions = new BooleanParam(this, "decodePredictions",
    "output the topK classes with their names instead of the probability vector")
  final val topK = new IntParam(this, "topK", "how many classes decodePredictions gives", ParamValidators.gt(0))
  setDefault(decodePredictions -> false, topK -> 5)

  def setDecodePredictions(value: Boolean): this.type = set(decodePredictions, value)
  def setTopK(value: Int): this.type = set(topK, value)

  override def transformSchema(schema: StructType): StructType = {
    checkParams(schema)
    val base = inner(spec.probabilityTensor, "vector", $(outputCol)).transformSchema(schema)
    if (! $(decodePredictions)) base
    else StructType(
      base.fields.map(f => if (f.name == $(outputCol)) f.copy(dataType = DeepImagePredictor.decodedType) else f))
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    val schema = transformSchema(dataset.schema)
    val t = inner(spec.probabilityTensor, "vector", $(outputCol))
    if (! $(decodePredictions)) t.transform(dataset)
    else {
      val labels = Labels(spec.labels)
      if (labels.length != spec.numClasses) {
        throw new IllegalStateException(
          s"label set ${spec.labels} has ${labels.length} classes, the model ${spec.numClasses}")
      }
      // The top k classes, named from the label set, come from native code as they are.
      t.runImages(dataset.toDF(), schema($(outputCol)),
        Contract.OutputFormat.TopK($(topK), Some(labels.map(l => (l.id, l.name)))))
    }
  }
}

object DeepImagePredictor extends MLReadable[DeepImagePredictor] {

  val decodedType: DataType = ArrayType(
    StructType(Seq(
        StructField("class", StringType), StructField("description", StringType),
        StructField("probability", DoubleType, nullable = false))), containsNull = true)

  override def read: MLReader[DeepImagePredictor] =
    new ModelStage.Reader[DeepImagePredictor](new DeepImagePredictor(_), classOf[DeepImagePredictor].getName)

  // A static `load(String)` on the class: Spark Connect's ML loads stages through it.
  override def load(path: String): DeepImagePredictor = super.load(path)
}
