package org.sparkdl.tf

import org.scalatest.funsuite.AnyFunSuite

class ModelInfoSuite extends AnyFunSuite {

  test("a SavedModel signature argument names its tensor") {
    val info = ModelInfo(
      Map("serving_default_x:0" -> TensorInfo("serving_default_x:0", "float32", Some(Seq(-1L, 3L))),
        "StatefulPartitionedCall:0" -> TensorInfo("StatefulPartitionedCall:0", "float32", Some(Seq(-1L, 2L)))),
      Map("serving_default" -> Map("inputs" -> Map("x" -> "serving_default_x:0"),
        "outputs" -> Map("output_0" -> "StatefulPartitionedCall:0"))))
    assert(info.tensor("x", "inputMapping").name == "serving_default_x:0")
    assert(info.tensor("output_0", "outputMapping").name == "StatefulPartitionedCall:0")
    val err = intercept[IllegalArgumentException](info.tensor("y", "inputMapping")).getMessage
    assert(err.contains("inputMapping") && err.contains("x (serving_default)"), err)
  }
}
