package org.sparkdl.transformers

import org.apache.spark.ml.param.Param
import org.apache.spark.sql.SparkSession

import org.sparkdl.engine.NativeModel

/**
 * An ONNX stage's model: `modelFile`, an `.onnx` file on any filesystem Spark reads (with the
 * external data files it names beside it, as torch writes models over 2 GB), read on the driver
 * when the stage first needs it and carried to executors in the stage; or a model set directly.
 */
private[sparkdl] trait ONNXModelSource extends ModelStage {

  final val modelFile = new Param[String](this, "modelFile",
    "an ONNX model file (.onnx, with its external data files beside it), on any filesystem Spark reads; read on " +
      "the driver when the stage first runs")

  def setModelFile(path: String): this.type = set(modelFile, path)
  def getModelFile: String = $(modelFile)

  /** An ONNX model file read now, with its external data files (their bytes stay in the stage). */
  def loadModelFile(path: String): this.type = setModel(NativeModel.fromOnnxFile(SparkSession.active, path))

  /** An ONNX model's bytes (no external data files). */
  def setModelBytes(bytes: Array[Byte]): this.type = setModel(NativeModel.fromOnnx(bytes))

  override protected def modelSource: Option[Any] = get(modelFile)

  override protected def loadModel(source: Any): NativeModel =
    NativeModel.fromOnnxFile(SparkSession.active, source.toString)

  override protected def noModelHint: String =
    "Call setModelFile(path) with an .onnx file, setModelBytes(bytes), or setModel(model)."
}
