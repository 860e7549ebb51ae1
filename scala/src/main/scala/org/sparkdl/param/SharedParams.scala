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

trait HasBatchSize extends Params {
  final val batchSize: IntParam = new IntParam(this, "batchSize",
    "rows per native batch fed to the model (larger: faster, more memory)", ParamValidators.gt(0))
  setDefault(batchSize -> 64)
  final def getBatchSize: Int = $(batchSize)
  def setBatchSize(value: Int): this.type = set(batchSize, value)
}
