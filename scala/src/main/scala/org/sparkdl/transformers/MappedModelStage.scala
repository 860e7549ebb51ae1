package org.sparkdl.transformers

import org.apache.spark.ml.linalg.SQLDataTypes.VectorType
import org.apache.spark.sql.{DataFrame, Dataset}
import org.apache.spark.sql.types._

import org.sparkdl.engine.DTypes
import org.sparkdl.engine.Contract.{InputSpec, OutputFormat, OutputSpec, RunSpec}
import org.sparkdl.param.{HasModelMapping, HasOutputMode}
import org.sparkdl.plan.SparkdlPlanner

/**
 * A model fed numeric array or vector columns, on any engine: TFTransformer and ONNXTransformer.
 * Each row is one example: its values are reshaped to the input's shape without the batch
 * dimension. Each output column holds the output's values in its own type (float32 gives
 * `array<float>`, float16 `array<float>`, float64 `array<double>`, int32 `array<int>`, int64
 * `array<bigint>`, uint8 `array<smallint>`, bool `array<boolean>`); with `outputMode` "vector",
 * MLlib vectors. A row that cannot be fed (null, wrong length) gets null outputs and the reason
 * in the error column; the other rows run.
 */
private[sparkdl] abstract class MappedModelStage extends ModelStage with HasModelMapping with HasOutputMode {

  override protected def outputModes: Seq[String] = Seq("array", "vector")

  /** An example of a mapping, for the messages: (column, input name, output name). */
  protected def mappingExample: (String, String, String)

  private def inputs: Seq[(String, String)] = $(inputMapping).toSeq.sortBy(_._1)
  private def outputs: Seq[(String, String)] = $(outputMapping).toSeq.sortBy(_._2)

  override def transformSchema(schema: StructType): StructType = {
    val (col, in, out) = mappingExample
    if (!isDefined(inputMapping) || $(inputMapping).isEmpty) {
      throw new IllegalArgumentException(
        s"inputMapping: map each input column to a model input, e.g. Map(\"$col\" -> \"$in\")")
    }
    if (!isDefined(outputMapping) || $(outputMapping).isEmpty) {
      throw new IllegalArgumentException(
        s"outputMapping: map each model output to a new column, e.g. Map(\"$out\" -> \"prediction\")")
    }
    val info = modelInfo
    inputs.foreach { case (column, tensor) =>
      val field = schema.fields.find(_.name == column).getOrElse(throw new IllegalArgumentException(
          s"inputMapping: no input column '$column' (columns: ${schema.fieldNames.mkString(", ")})"))
      if (!DTypes.isNumericInput(field.dataType)) {
        throw new IllegalArgumentException(
          s"inputMapping: column '$column' is ${field.dataType.simpleString}; it must be an array of " +
            "numbers or an ML vector (use VectorAssembler to combine scalar columns into a vector)")
      }
      DTypes.sparkType(info.input(tensor, "inputMapping"), "inputMapping")
    }
    val outFields = outputs.map { case (tensor, column) =>
      val elem = DTypes.sparkType(info.output(tensor, "outputMapping"), "outputMapping")
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
    // sparse) are cast and reshaped to each input there.
    val names = inputs.indices.map(i => s"in$i")
    val format = if ($(outputMode) == "vector") OutputFormat.Vector else OutputFormat.List
    val spec = RunSpec(
      inputs.zip(names).map { case ((_, t), n) => InputSpec(n, info.input(t, "inputMapping").name) },
      outputs.map { case (t, c) => OutputSpec(info.output(t, "outputMapping").name, c, format) })
    val outFields = schema.fields.slice(df.columns.length, schema.length - 1).toSeq
    runNative(df, inputs.map { case (c, _) => SparkdlPlanner.input(df, c) }, names, outFields,
      schema.fields.last.name, spec, s"${getClass.getSimpleName} ${outputs.map(_._1).mkString(", ")}")
  }
}
