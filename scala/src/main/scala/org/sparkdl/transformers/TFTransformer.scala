package org.sparkdl.transformers

import scala.jdk.CollectionConverters._

import org.apache.spark.ml.linalg.SQLDataTypes.VectorType
import org.apache.spark.ml.param.{Param, ParamValidators}
import org.apache.spark.ml.util.{Identifiable, MLReadable, MLReader}
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.types._

import org.sparkdl.param.StringMapParam
import org.sparkdl.plan.SparkdlPlanner
import org.sparkdl.tf.TensorInfo

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
 * Each row is one example: its values are reshaped to the input tensor's shape without the batch
 * dimension. Each output column holds the output tensor's values in its own type (float32 gives
 * `array<float>`, float64 `array<double>`, int32 `array<int>`, int64 `array<bigint>`, uint8
 * `array<smallint>`); with `outputMode` "vector", MLlib vectors. A row that cannot be fed (null, wrong length) gets null outputs and the reason in the
 * error column; the other rows run.
 */
class TFTransformer(override val uid: String) extends TFStage {

  def this() = this(Identifiable.randomUID("TFTransformer"))

  final val inputMapping = new StringMapParam(this, "inputMapping",
    "input column name -> input tensor name (op or op:index)")
  final val outputMapping = new StringMapParam(this, "outputMapping",
    "output tensor name (op or op:index) -> output column name")

  final val outputMode = new Param[String](this, "outputMode",
    "array (default: each output in its tensor's own type, e.g. array<float>) or vector (MLlib " +
      "dense vectors of doubles, built natively)",
    ParamValidators.inArray(Array("array", "vector")))
  setDefault(outputMode -> "array")

  def setOutputMode(value: String): this.type = set(outputMode, value)
  def getOutputMode: String = $(outputMode)

  def getInputMapping: Map[String, String] = $(inputMapping)
  def setInputMapping(value: Map[String, String]): this.type = set(inputMapping, value)
  def getOutputMapping: Map[String, String] = $(outputMapping)
  def setOutputMapping(value: Map[String, String]): this.type = set(outputMapping, value)

  // For py4j callers, which hold java.util.Maps.
  def setInputMappingJava(value: java.util.Map[String, String]): this.type =
    setInputMapping(value.asScala.toMap)
  def setOutputMappingJava(value: java.util.Map[String, String]): this.type =
    setOutputMapping(value.asScala.toMap)
  def getInputMappingJava: java.util.Map[String, String] = getInputMapping.asJava
  def getOutputMappingJava: java.util.Map[String, String] = getOutputMapping.asJava

  private def inputs: Seq[(String, String)] = $(inputMapping).toSeq.sortBy(_._1)
  private def outputs: Seq[(String, String)] = $(outputMapping).toSeq.sortBy(_._2)

  override def transformSchema(schema: StructType): StructType = {
    if (!isDefined(inputMapping) || $(inputMapping).isEmpty) {
      throw new IllegalArgumentException(
        "inputMapping: map each input column to an input tensor, e.g. Map(\"features\" -> \"x:0\")")
    }
    if (!isDefined(outputMapping) || $(outputMapping).isEmpty) {
      throw new IllegalArgumentException(
        "outputMapping: map each output tensor to a new column, e.g. Map(\"y:0\" -> \"prediction\")")
    }
    val info = modelInfo
    inputs.foreach { case (column, tensor) =>
      val field = schema.fields.find(_.name == column).getOrElse(throw new IllegalArgumentException(
          s"inputMapping: no input column '$column' (columns: ${schema.fieldNames.mkString(", ")})"))
      if (!TFTransformer.isNumericInput(field.dataType)) {
        throw new IllegalArgumentException(
          s"inputMapping: column '$column' is ${field.dataType.simpleString}; it must be an array of " +
            "numbers or an ML vector (use VectorAssembler to combine scalar columns into a vector)")
      }
      TFTransformer.sparkType(info.tensor(tensor, "inputMapping"), "inputMapping")
    }
    val outFields = outputs.map { case (tensor, column) =>
      val elem = TFTransformer.sparkType(info.tensor(tensor, "outputMapping"), "outputMapping")
      requireNewColumn(schema, column, "outputMapping")
      val t = if ($(outputMode) == "vector") VectorType else ArrayType(elem, containsNull = false)
      StructField(column, t, nullable = true)
    }
    val errorName = errorColumnName(outputs.head._2)
    requireNewColumn(schema, errorName, "errorCol")
    StructType(schema.fields ++ outFields :+ StructField(errorName, StringType, nullable = true))
  }

  override def transform(dataset: Dataset[_]): DataFrame = {
    val schema = transformSchema(dataset.schema)
    val info = modelInfo
    val df = dataset.toDF()
    // Columns go to native code as they are: arrays of any numbers and ML vectors (dense or
    // sparse) are cast and reshaped to each tensor there.
    val names = inputs.indices.map(i => s"in$i")
    val spec = org.json4s.jackson.Serialization.write(Map(
        "inputs" -> inputs.zip(names).map { case ((_, t), n) =>
          Map("column" -> n, "tensor" -> info.tensor(t, "inputMapping").name)
        },
        "outputs" -> outputs.map { case (t, c) =>
          Map("tensor" -> info.tensor(t, "outputMapping").name, "column" -> c,
            "format" -> Map("kind" -> (if ($(outputMode) == "vector") "vector" else "list")))
        }
      ))(org.json4s.DefaultFormats)
    val outFields = schema.fields.slice(df.columns.length, schema.length - 1).toSeq
    runNative(df, inputs.map { case (c, _) => SparkdlPlanner.input(df, c) }, names, outFields,
      schema.fields.last.name, spec, s"TFTransformer ${outputs.map(_._1).mkString(", ")}")
  }
}

object TFTransformer extends MLReadable[TFTransformer] {
  override def read: MLReader[TFTransformer] =
    new TFStage.Reader[TFTransformer](new TFTransformer(_), classOf[TFTransformer].getName)

  // A static `load(String)` on the class: Spark Connect's ML loads stages through it.
  override def load(path: String): TFTransformer = super.load(path)

  private[sparkdl] def isNumericInput(t: DataType): Boolean = t match {
    case ArrayType(_: NumericType, _) => true
    case VectorType => true
    case _ => false
  }

  /** The Spark element type matching a tensor's dtype, or an error naming the tensor. */
  private[sparkdl] def sparkType(t: TensorInfo, param: String): DataType = t.dtype.toLowerCase match {
    case "float" | "float32" | "dt_float" => FloatType
    case "double" | "float64" | "dt_double" => DoubleType
    case "int32" | "dt_int32" => IntegerType
    case "int64" | "dt_int64" => LongType
    case "uint8" | "dt_uint8" => ShortType
    case other =>
      throw new IllegalArgumentException(
        s"$param: tensor '${t.name}' has dtype $other; sparkdl feeds and reads float32, float64, " +
          "int32, int64 and uint8 tensors")
  }
}
