package org.sparkdl.transformers

import org.apache.spark.ml.param.{BooleanParam, IntParam, ParamValidators}
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.functions.{col, udf}
import org.apache.spark.sql.types._

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

  private def mode: String = if ($(decodePredictions)) "array" else "vector"

  override def transformSchema(schema: StructType): StructType = {
    checkParams(schema)
    val base = inner(spec.probabilityTensor, mode, $(outputCol)).transformSchema(schema)
    if (!$(decodePredictions)) base
    else StructType(base.fields.map(f => if (f.name == $(outputCol)) f.copy(dataType = DeepImagePredictor.decodedType) else f))
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    transformSchema(dataset.schema)
    val out = inner(spec.probabilityTensor, mode, $(outputCol)).transform(dataset)
    if (!$(decodePredictions)) out
    else {
      val labels = Labels(spec.labels)
      val k = $(topK)
      if (labels.length != spec.numClasses) {
        throw new IllegalStateException(s"label set ${spec.labels} has ${labels.length} classes, the model ${spec.numClasses}")
      }
      // (id, name, probability) tuples, cast to the named struct fields.
      val decode = udf { (p: Seq[Double]) =>
        if (p == null) null
        else p.toArray.zipWithIndex.sortBy(-_._1).take(k).map { case (prob, i) =>
          (labels(i).id, labels(i).name, prob)
        }.toSeq
      }
      out.withColumn($(outputCol), decode(col($(outputCol))).cast(DeepImagePredictor.decodedType))
    }
  }
}

object DeepImagePredictor extends MLReadable[DeepImagePredictor] {
  val decodedType: DataType = ArrayType(StructType(Seq(
    StructField("class", StringType), StructField("description", StringType),
    StructField("probability", DoubleType, nullable = false))), containsNull = true)

  override def read: MLReader[DeepImagePredictor] =
    new TFStage.Reader[DeepImagePredictor](new DeepImagePredictor(_), classOf[DeepImagePredictor].getName)
}
