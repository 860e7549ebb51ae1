package org.sparkdl.engine

/** What runs a model: a native library loaded when a model first needs it ([[Engines]]). */
sealed abstract class Backend(val name: String, val title: String) {
  override def toString: String = name
}

object Backend {
  case object TensorFlow extends Backend("tensorflow", "TensorFlow")
  case object Onnx extends Backend("onnx", "ONNX Runtime")

  val all: Seq[Backend] = Seq(TensorFlow, Onnx)

  def fromName(name: String, param: String = "engine"): Backend = all.find(_.name == name).getOrElse(
    throw new IllegalArgumentException(s"$param: '$name' is not an engine; use ${all.map(_.name).mkString(" or ")}"))
}

/** A model's format, as the native side names it (`engine::ModelFormat`). */
sealed abstract class ModelFormat(val name: String, val backend: Backend) {
  override def toString: String = name
}

object ModelFormat {

  /** A frozen TensorFlow GraphDef. */
  case object GraphDef extends ModelFormat("graphdef", Backend.TensorFlow)

  /** A TensorFlow SavedModel folder (carried zipped). */
  case object SavedModel extends ModelFormat("savedmodel", Backend.TensorFlow)

  /** An ONNX model, with its external data files if it has any. */
  case object Onnx extends ModelFormat("onnx", Backend.Onnx)

  val all: Seq[ModelFormat] = Seq(GraphDef, SavedModel, Onnx)

  def fromName(name: String): ModelFormat = all.find(_.name == name).getOrElse(
    throw new IllegalArgumentException(s"unknown model format '$name' (${all.map(_.name).mkString(", ")})"))
}
