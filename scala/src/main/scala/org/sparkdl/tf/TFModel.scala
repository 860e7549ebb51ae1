package org.sparkdl.tf

import org.apache.spark.sql.SparkSession

import org.sparkdl.engine.{ModelFormat, ModelHandles, NativeModel}
import org.sparkdl.jni.NativeLib

/**
 * TensorFlow models as [[NativeModel]]s (what only TensorFlow has lives here): a frozen
 * `GraphDef`, a SavedModel folder, and freezing a TF1 graph.
 */
object TFModel {
  val GraphDef: String = ModelFormat.GraphDef.name
  val SavedModel: String = ModelFormat.SavedModel.name

  /** A frozen GraphDef (all variables constant), e.g. from `stripAndFreezeGraph`. */
  def fromGraphDef(bytes: Array[Byte]): NativeModel = NativeModel.fromGraphDef(bytes)

  /** A `.pb` file holding a frozen GraphDef, on any filesystem Spark's Hadoop layer reads. */
  def fromGraphDefFile(spark: SparkSession, path: String): NativeModel =
    NativeModel.fromGraphDef(NativeModel.readAll(spark, path))

  /** A SavedModel folder (local path) with the given tags, copied into the model. */
  def fromSavedModel(dir: String, tags: Seq[String] = Seq("serve")): NativeModel = NativeModel.fromSavedModel(dir, tags)

  /**
   * A frozen GraphDef of `model` stripped to what `outputs` need, variables turned into
   * constants with their current values (for TF1-style graphs; TF2 SavedModels keep variables
   * inside functions and run as they are instead).
   */
  def freeze(model: NativeModel, outputs: Seq[String]): NativeModel = {
    require(outputs.nonEmpty, "freeze: name at least one output tensor")
    require(model.format.backend == org.sparkdl.engine.Backend.TensorFlow,
      s"freeze: only TensorFlow graphs are frozen; this is an ${model.format} model")
    val handle = ModelHandles.acquire(model)
    try {
      val json = org.json4s.jackson.Serialization.write(outputs.toList)(org.json4s.DefaultFormats)
      NativeModel.fromGraphDef(NativeLib.freezeGraph(handle, json))
    } finally ModelHandles.release(handle)
  }
}
