package org.sparkdl.engine

import org.apache.spark.sql.types._

/** Model element types as Spark types, the same for every backend. */
object DTypes {

  /** The names of the element types sparkdl feeds and reads. */
  val Supported: Seq[String] = Seq("float32", "float16", "float64", "int32", "int64", "uint8", "bool")

  /**
   * The Spark element type of a tensor's dtype (float16 is read widened to float, uint8 as
   * smallint since Spark has no unsigned byte), or an error naming the tensor.
   */
  def sparkType(t: TensorInfo, param: String): DataType = t.dtype.toLowerCase match {
    case "float" | "float32" | "dt_float" => FloatType
    case "float16" | "half" => FloatType
    case "double" | "float64" | "dt_double" => DoubleType
    case "int32" | "dt_int32" => IntegerType
    case "int64" | "dt_int64" => LongType
    case "uint8" | "dt_uint8" => ShortType
    case "bool" => BooleanType
    case other => throw new IllegalArgumentException(
        s"$param: tensor '${t.name}' has dtype $other; sparkdl feeds and reads ${Supported.mkString(", ")} tensors")
  }

  /**
   * A column that can feed a numeric tensor: an array of numbers or booleans, nested arrays of them
   * (one level per dimension after the batch, for inputs with several symbolic dimensions), or an
   * ML vector.
   */
  def isNumericInput(t: DataType): Boolean = t match {
    case ArrayType(_: NumericType, _) | ArrayType(BooleanType, _) => true
    case ArrayType(inner: ArrayType, _) => isNumericInput(inner)
    case org.apache.spark.ml.linalg.SQLDataTypes.VectorType => true
    case _ => false
  }
}
