package org.sparkdl.engine

import org.scalatest.funsuite.AnyFunSuite

class ModelInfoSuite extends AnyFunSuite {

  test("a SavedModel signature argument names its tensor") {
    val info = ModelInfo(ModelFormat.SavedModel, Nil, Nil,
      Map("serving_default_x:0" -> TensorInfo("serving_default_x:0", "float32", Some(Seq(-1L, 3L))),
        "StatefulPartitionedCall:0" -> TensorInfo("StatefulPartitionedCall:0", "float32", Some(Seq(-1L, 2L)))),
      Map("serving_default" -> Map("inputs" -> Map("x" -> "serving_default_x:0"),
        "outputs" -> Map("output_0" -> "StatefulPartitionedCall:0"))))
    assert(info.input("x", "inputMapping").name == "serving_default_x:0")
    assert(info.output("output_0", "outputMapping").name == "StatefulPartitionedCall:0")
    val err = intercept[IllegalArgumentException](info.input("y", "inputMapping")).getMessage
    assert(err.contains("inputMapping") && err.contains("x (serving_default)"), err)
  }

  test("an ONNX model's inputs and outputs are named exactly, with its symbolic dims") {
    val info = ModelInfo.parse(
      """{"format":"onnx","inputs":[{"name":"input","dtype":"float32","shape":[-1,3,-1,-1],""" +
        """"dimNames":["batch","","height","width"]}],"outputs":[{"name":"logits","dtype":"float16","shape":[-1,10]}],""" +
        """"operations":[],"signatures":{}}""")
    assert(info.format == ModelFormat.Onnx)
    assert(info.input("input", "inputName").shapeText == "(batch, 3, height, width)")
    assert(DTypes.sparkType(info.output("logits", "outputName"), "outputName") == org.apache.spark.sql.types.FloatType)
    val err = intercept[IllegalArgumentException](info.input("input:0", "inputName")).getMessage
    assert(err.contains("inputName: the model has no input 'input:0'") && err.contains("input float32(batch, 3,"), err)
    val out = intercept[IllegalArgumentException](info.output("input", "outputName")).getMessage
    assert(out.contains("its outputs are: logits"), out)
  }
}
