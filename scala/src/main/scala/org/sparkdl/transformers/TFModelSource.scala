package org.sparkdl.transformers

import org.apache.spark.ml.param.{Param, StringArrayParam}
import org.apache.spark.sql.SparkSession

import org.sparkdl.engine.NativeModel
import org.sparkdl.tf.TFModel

/**
 * Where a TensorFlow stage's model comes from, as Params (so a stage built on a Spark Connect
 * client, which holds no model bytes, names a file the server reads): read on the driver when the
 * stage first needs its model, unless a model was set directly.
 */
private[sparkdl] trait TFModelSource extends ModelStage {

  final val graphFile = new Param[String](this, "graphFile",
    "a frozen GraphDef file (.pb), on any filesystem Spark reads; read on the driver when the stage first runs")
  final val modelPath = new Param[String](this, "modelPath",
    "a SavedModel folder (local to the driver); copied into the stage when it first runs")
  final val modelTags = new StringArrayParam(this, "modelTags", "the SavedModel's MetaGraph tags (default: serve)")
  setDefault(modelTags -> Array("serve"))

  /** A frozen GraphDef (e.g. `stripAndFreezeGraph`'s output). */
  def setGraph(graphDef: Array[Byte]): this.type = setModel(TFModel.fromGraphDef(graphDef))

  /** A frozen GraphDef file read now (its bytes stay in the stage; the file may go). */
  def loadGraphFile(path: String): this.type = setModel(TFModel.fromGraphDefFile(SparkSession.active, path))

  /** A frozen GraphDef file (`.pb`), read on the driver through Hadoop's FileSystem when first needed. */
  def setGraphFile(path: String): this.type = { clear(modelPath); set(graphFile, path) }

  /** A SavedModel folder; it is copied into the stage (and into saved pipelines). */
  def setModelPath(dir: String, tags: Seq[String] = Seq("serve")): this.type = {
    clear(graphFile)
    set(modelTags, tags.toArray)
    set(modelPath, dir)
  }

  /** A SavedModel folder read now (zipped into the stage; the folder may go). */
  def loadModelPath(dir: String, tags: Seq[String] = Seq("serve")): this.type = {
    val model = TFModel.fromSavedModel(dir, tags)
    clear(graphFile)
    clear(modelPath)
    set(modelTags, tags.toArray)
    setModel(model)
  }

  /** For py4j callers. */
  def loadModelPathJava(dir: String, tags: java.util.List[String]): this.type = {
    import scala.jdk.CollectionConverters._
    loadModelPath(dir, tags.asScala.toSeq)
  }

  /** For py4j callers. */
  def setModelPathJava(dir: String, tags: java.util.List[String]): this.type = {
    import scala.jdk.CollectionConverters._
    setModelPath(dir, tags.asScala.toSeq)
  }

  override protected def modelSource: Option[Any] =
    get(graphFile).map(f => ("graphFile", f)).orElse(get(modelPath).map(d => ("modelPath", d, $(modelTags).toSeq)))

  override protected def loadModel(source: Any): NativeModel = source match {
    case ("graphFile", f: String) => TFModel.fromGraphDefFile(SparkSession.active, f)
    case ("modelPath", d: String, tags: Seq[_]) => TFModel.fromSavedModel(d, tags.map(_.toString))
    case other => throw new IllegalStateException(s"not a TensorFlow model source: $other")
  }

  override protected def noModelHint: String =
    "Call setGraph(bytes) with a frozen GraphDef, setGraphFile(path) with a .pb file, setModelPath(dir) with a " +
      "SavedModel folder, or setModel(model)."
}
