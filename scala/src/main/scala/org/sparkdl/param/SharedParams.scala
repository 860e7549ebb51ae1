package org.sparkdl.param

import org.apache.spark.ml.param.{IntParam, Param, ParamValidators, Params}

// Spark's own shared-param traits are private[ml]; these have the same names and meaning.

trait HasInputCol extends Params {
  final val inputCol: Param[String] = new Param[String](this, "inputCol", "input column name")
  final def getInputCol: String = $(inputCol)
  def setInputCol(value: String): this.type = set(inputCol, value)
}

trait HasOutputCol extends Params {
  final val outputCol: Param[String] = new Param[String](this, "outputCol", "output column name")
  final def getOutputCol: String = $(outputCol)
  def setOutputCol(value: String): this.type = set(outputCol, value)
}

trait HasErrorCol extends Params {
  final val errorCol: Param[String] = new Param[String](this, "errorCol",
    "column that receives, for each row whose output is null, the reason (empty name: no column)")
  setDefault(errorCol -> "error")
  final def getErrorCol: String = $(errorCol)
  def setErrorCol(value: String): this.type = set(errorCol, value)
}

/**
 * The arithmetic TensorFlow runs the model's heavy ops in: "float32" (the graph as it is) or
 * "bf16" (oneDNN's bfloat16 auto-mixed-precision rewrite of the session's graph: about 1.8x
 * faster on CPUs with native bf16, features within a cosine of 0.999 of float32; see
 * docs/PERFORMANCE.md). Unset: the session's `spark.sparkdl.tensorflow.precision`, else float32.
 */
trait HasPrecision extends Params {
  final val precision: Param[String] = new Param[String](this, "precision",
    "float32 or bf16 (bfloat16 mixed precision through oneDNN, for CPUs with AVX512_BF16 or AMX); " +
      "unset: the conf spark.sparkdl.tensorflow.precision, else float32",
    ParamValidators.inArray(org.sparkdl.tf.SessionSettings.Precisions.toArray))
  def setPrecision(value: String): this.type = set(precision, value)
  final def getPrecision: String = get(precision).getOrElse(org.sparkdl.tf.SessionSettings.DefaultPrecision)

  /** The Param, else the session's conf (checked, with how to fix it), else float32. */
  protected def resolvedPrecision(spark: org.apache.spark.sql.SparkSession): String =
    get(precision).getOrElse(org.sparkdl.tf.SessionSettings.precisionFrom(
        spark.conf.getOption(org.sparkdl.tf.SessionSettings.PrecisionConf)))
}

trait HasBatchSize extends Params {
  final val batchSize: IntParam = new IntParam(this, "batchSize",
    "rows per native batch fed to the model (larger: faster, more memory)", ParamValidators.gt(0))
  setDefault(batchSize -> 64)
  final def getBatchSize: Int = $(batchSize)
  def setBatchSize(value: Int): this.type = set(batchSize, value)
}
