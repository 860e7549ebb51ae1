package org.sparkdl.sql

import scala.util.control.NonFatal

import org.apache.spark.ml.{PipelineModel, Transformer}
import org.apache.spark.ml.param.ParamMap
import org.apache.spark.sql.DataFrame
import org.apache.spark.sql.functions.lit
import org.apache.spark.sql.types._

import org.sparkdl.image.{ImageReader, ImageSchema}
import org.sparkdl.models.ModelRegistry
import org.sparkdl.plan.SparkdlPlanner
import org.sparkdl.transformers.{DeepImageFeaturizer, DeepImagePredictor, MappedModelStage}

/**
 * What one sparkdl SQL function call computes, with its constant arguments bound: a stage
 * applied to the call's input columns. [[ExtractModelCalls]] applies it to a stand-in DataFrame
 * whose columns are the call's inputs and splices the resulting plan under the query.
 */
private[sparkdl] trait SqlModel extends Serializable {

  /** The function's name, as SQL calls it. */
  def function: String

  /** The constant arguments, for the call's SQL text (e.g. `'MobileNetV2'`). */
  def constants: Seq[String]

  /** The result type for inputs of `types`, or why the inputs do not fit (naming the argument). */
  def resultType(types: Seq[DataType]): Either[String, DataType]

  /** `df` with the result of the inputs `inputCols` as a new column `outputCol`. */
  def apply(df: DataFrame, inputCols: Seq[String], outputCol: String): DataFrame
}

private[sparkdl] object SqlModel {

  /** The input kinds the image functions take. */
  def imageInput(function: String, t: DataType): Option[String] = t match {
    case s: StructType if s == ImageSchema.columnSchema => None
    case BinaryType | StringType => None
    case other => Some(
        s"$function: the first argument (input) is ${other.simpleString}; it must be an image struct " +
          "(as readImages or sparkdl_decode_image give), encoded image bytes (binary, e.g. binaryFile's " +
          "content) or a file path (string)")
  }
}

/** `sparkdl_decode_image(content [, origin])`: Spark's image struct, null for a bad file. */
private[sparkdl] case object DecodeImageFunction extends SqlModel {
  override def function: String = "sparkdl_decode_image"
  override def constants: Seq[String] = Nil

  override def resultType(types: Seq[DataType]): Either[String, DataType] = types match {
    case Seq(BinaryType) | Seq(BinaryType, StringType) => Right(ImageSchema.columnSchema)
    case Seq(other, _*) if other != BinaryType =>
      Left(s"$function: the first argument (content) is ${other.simpleString}; it must be binary (the file's bytes)")
    case Seq(_, other) => Left(s"$function: the second argument (origin) is ${other.simpleString}; it must be a string")
    case _ => Left(s"$function takes (content binary [, origin string])")
  }

  override def apply(df: DataFrame, inputCols: Seq[String], outputCol: String): DataFrame = {
    val origin = if (inputCols.length > 1) SparkdlPlanner.input(df, inputCols(1))
    else SparkdlPlanner.input(df, lit(null).cast(StringType))
    val op = ImageReader.decodeOp(df.sparkSession, outputCol, s"${outputCol}_error")
    SparkdlPlanner(df, op, Seq(origin, SparkdlPlanner.input(df, inputCols.head))).drop(s"${outputCol}_error")
  }
}

/** `sparkdl_featurize(input, modelName [, featureLayer])`: `array<float>`. */
private[sparkdl] final case class FeaturizeFunction(modelName: String, featureLayer: String) extends SqlModel {
  override def function: String = "sparkdl_featurize"
  override def constants: Seq[String] = Seq(s"'$modelName'", s"'$featureLayer'")

  private def stage(in: String, out: String) = new DeepImageFeaturizer().setInputCol(in).setOutputCol(out)
    .setModelName(modelName).setFeatureLayer(featureLayer).setOutputMode("array")

  override def resultType(types: Seq[DataType]): Either[String, DataType] =
    SqlModel.imageInput(function, types.head).toLeft(ArrayType(FloatType, containsNull = false))

  override def apply(df: DataFrame, inputCols: Seq[String], outputCol: String): DataFrame =
    stage(inputCols.head, outputCol).transform(df).drop(s"${outputCol}_error")
}

/**
 * `sparkdl_predict(input, modelName [, topK])`:
 * `array<struct<class, description, probability>>`, best first.
 */
private[sparkdl] final case class PredictFunction(modelName: String, topK: Int) extends SqlModel {
  override def function: String = "sparkdl_predict"
  override def constants: Seq[String] = Seq(s"'$modelName'", topK.toString)

  override def resultType(types: Seq[DataType]): Either[String, DataType] =
    SqlModel.imageInput(function, types.head).toLeft(DeepImagePredictor.decodedType)

  override def apply(df: DataFrame, inputCols: Seq[String], outputCol: String): DataFrame =
    new DeepImagePredictor().setInputCol(inputCols.head).setOutputCol(outputCol).setModelName(modelName)
      .setDecodePredictions(true).setTopK(topK).transform(df).drop(s"${outputCol}_error")
}

/**
 * A user's model as a function of one column: a sparkdl stage, or a `PipelineModel` whose
 * first stage reads the input column and whose last stage writes the result.
 */
private[sparkdl] final case class StageFunction(function: String, stage: Transformer) extends SqlModel {
  override def constants: Seq[String] = Nil

  private val (first, last) = stage match {
    case p: PipelineModel if p.stages.nonEmpty => (p.stages.head, p.stages.last)
    case s => (s, s)
  }

  /**
   * A column-name Param of `stage`: stages with one input and one output column have them; a
   * TFTransformer or ONNXTransformer has them through single-entry mappings.
   */
  private def column(stage: Transformer, param: String, what: String): String = stage match {
    case t: MappedModelStage if param == "inputCol" && t.getInputMapping.size == 1 => t.getInputMapping.head._1
    case t: MappedModelStage if param == "outputCol" && t.getOutputMapping.size == 1 => t.getOutputMapping.head._2
    case _ if stage.hasParam(param) && stage.isDefined(stage.getParam(param)) =>
      stage.getOrDefault(stage.getParam(param)).toString
    case _ => throw new IllegalArgumentException(
        s"$function: the stage ${stage.getClass.getSimpleName} has no $param; a model function needs a stage (or " +
          s"a PipelineModel $what one) with one input column (inputCol) and one output column (outputCol), " +
          "or a TFTransformer/ONNXTransformer with one input and one output mapping")
  }

  private def inputCol: String = column(first, "inputCol", "starting with")
  private def outputCol: String = column(last, "outputCol", "ending with")

  override def resultType(types: Seq[DataType]): Either[String, DataType] = types match {
    case Seq(t) =>
      try {
        val out = stage.transformSchema(StructType(Seq(StructField(inputCol, t, nullable = true))))
        Right(out(outputCol).dataType)
      } catch {
        case NonFatal(e) =>
          Left(s"$function: the argument of type ${t.simpleString} does not fit the model: ${e.getMessage}")
      }
    case _ => Left(s"$function takes one argument (the model's input column)")
  }

  /**
   * The stage reading `inputCols.head` and writing `outputCol` (the call's own column names),
   * rather than its saved column names: renaming the call's input to the stage's `inputCol`
   * would clash with a column of that name in the query (`SELECT model(path) FROM t` where the
   * stage reads `path`). A PipelineModel runs stage by stage, its first stage reading and its
   * last stage writing the call's columns.
   */
  override def apply(df: DataFrame, inputCols: Seq[String], outputCol: String): DataFrame = {
    val stages = stage match {
      case p: PipelineModel if p.stages.nonEmpty => p.stages.toSeq
      case s => Seq(s)
    }
    val bound = stages.zipWithIndex.map { case (s, i) =>
      StageFunction.withColumns(s, if (i == 0) Some(inputCols.head) else None,
        if (i == stages.size - 1) Some(outputCol) else None)
    }
    bound.foldLeft(df)((d, s) => s.transform(d))
  }
}

private[sparkdl] object StageFunction {

  /** A copy of `t` reading column `in` and writing column `out`, where given. */
  def withColumns(t: Transformer, in: Option[String], out: Option[String]): Transformer = t match {
    case m: MappedModelStage =>
      val params = ParamMap.empty
      in.foreach(i => params.put(m.inputMapping, Map(i -> m.getInputMapping.head._2)))
      out.foreach(o => params.put(m.outputMapping, Map(m.getOutputMapping.head._1 -> o)))
      m.copy(params)
    case _ =>
      val params = ParamMap.empty
      in.foreach(i => params.put(t.getParam("inputCol"), i))
      out.foreach(o => params.put(t.getParam("outputCol"), o))
      t.copy(params)
  }
}

private[sparkdl] object ModelNames {

  /** The registry's model, or why the name is not one. */
  def check(function: String, name: String): Either[String, String] =
    if (ModelRegistry.names.contains(name)) Right(name)
    else Left(s"$function: the second argument (modelName) is '$name', which is not a named model; " +
      s"use one of ${ModelRegistry.names.mkString(", ")}")
}
