package org.sparkdl.transformers

import org.apache.hadoop.fs.Path

import org.apache.spark.ml.Transformer
import org.apache.spark.ml.param.{Param, ParamMap, Params}
import org.apache.spark.ml.sparkdl.MLBridge
import org.apache.spark.ml.util.{MLReader, MLWritable, MLWriter}
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.types.{StringType, StructField, StructType}

import org.sparkdl.param.{HasBatchSize, HasErrorCol, HasPrecision}
import org.sparkdl.plan.{NativeInput, SparkdlPlanner}
import org.sparkdl.tf.{ModelBroadcast, ModelInfo, RunModelOp, TFModel}

/**
 * The machinery shared by the TensorFlow transformers: the model (bytes, not a Param, saved
 * beside the params), its description for validation on the driver, its broadcast, native
 * execution as a [[org.sparkdl.plan.NativeEval]] node of the DataFrame's plan, and MLlib
 * persistence.
 */
private[sparkdl] abstract class TFStage
    extends Transformer with HasBatchSize with HasErrorCol with HasPrecision with TFStage.PersistsModel {

  @transient private var modelInfoCache: ModelInfo = _
  private var tfModel: TFModel = _

  /**
   * Where the model is, as Params (so a stage built on a Spark Connect client, which holds no
   * model bytes, names a file the server reads): read on the driver when the stage first needs
   * its model, unless a model was set directly.
   */
  final val graphFile = new Param[String](this, "graphFile",
    "a frozen GraphDef file (.pb), on any filesystem Spark reads; read on the driver when the stage first runs")
  final val modelPath = new Param[String](this, "modelPath",
    "a SavedModel folder (local to the driver); copied into the stage when it first runs")

  /** The model to run. */
  def setModel(model: TFModel): this.type = {
    tfModel = model
    modelInfoCache = null
    this
  }

  /** A frozen GraphDef (e.g. `stripAndFreezeGraph`'s output). */
  def setGraph(graphDef: Array[Byte]): this.type = setModel(TFModel.fromGraphDef(graphDef))

  /** A frozen GraphDef file (`.pb`), read once on the driver through Hadoop's FileSystem. */
  def setGraphFile(path: String): this.type = {
    set(graphFile, path)
    setModel(TFModel.fromGraphDefFile(SparkSession.active, path))
  }

  /** A SavedModel folder; it is copied into the stage (and into saved pipelines). */
  def setModelPath(dir: String, tags: Seq[String] = Seq("serve")): this.type = {
    set(modelPath, dir)
    setModel(TFModel.fromSavedModel(dir, tags))
  }

  /** For py4j callers. */
  def setModelPathJava(dir: String, tags: java.util.List[String]): this.type = {
    import scala.jdk.CollectionConverters._
    setModelPath(dir, tags.asScala.toSeq)
  }

  def getModel: TFModel = {
    if (tfModel == null) {
      if (isDefined(graphFile)) setModel(TFModel.fromGraphDefFile(SparkSession.active, $(graphFile)))
      else if (isDefined(modelPath)) setModel(TFModel.fromSavedModel($(modelPath)))
      else throw new IllegalArgumentException(
        s"$uid: no model set. Call setGraph(bytes) with a frozen GraphDef, setGraphFile(path) with a .pb " +
          "file, setModelPath(dir) with a SavedModel folder, or setModel(TFModel).")
    }
    tfModel
  }

  /** The model's tensors, loaded once on the driver. */
  protected def modelInfo: ModelInfo = {
    if (modelInfoCache == null) modelInfoCache = getModel.describe()
    modelInfoCache
  }

  /** The error column's name: `errorCol` when set, else `<first output>_error`. */
  protected def errorColumnName(firstOutput: String): String =
    if (isSet(errorCol)) $(errorCol) else s"${firstOutput}_error"

  protected def requireNewColumn(schema: StructType, name: String, param: String): Unit = {
    if (schema.fieldNames.contains(name)) {
      throw new IllegalArgumentException(
        s"$param: the input already has a column '$name'; choose another name or drop that column")
    }
  }

  /** The model's broadcast, shared by every transform() of this stage and its copies. */
  private var broadcasts = new ModelBroadcast

  /** Shares `other`'s model broadcast (a stage that wraps this one passes its own). */
  private[sparkdl] def shareBroadcast(from: ModelBroadcast): this.type = { broadcasts = from; this }

  /**
   * `df` with the model applied, as a plan: `inputs` (expressions over `df`, one per run-spec
   * input column, named `inputNames`) go to the model; the result is `df`'s columns followed by
   * `outputs` (the run spec's output columns, in its order) and the error column.
   */
  protected def runNative(
      df: DataFrame,
      inputs: Seq[NativeInput],
      inputNames: Seq[String],
      outputs: Seq[StructField],
      errorName: String,
      runSpecJson: String,
      what: String): DataFrame = {
    val spark = df.sparkSession
    val model = broadcasts(spark.sparkContext, getModel)
    val resultSchema = StructType(outputs :+ StructField(errorName, StringType, nullable = true))
    val p = resolvedPrecision(spark)
    val describe = s"$what (${getModel.toString}${if (p == "float32") "" else s", $p"})"
    val op = RunModelOp(model, runSpecJson, inputNames, resultSchema, $(batchSize), describe, p)
    SparkdlPlanner(df, op, inputs)
  }

  override def copy(extra: ParamMap): TFStage = {
    val that = defaultCopy[TFStage](extra)
    if (tfModel != null) that.setModel(tfModel)
    that.broadcasts = broadcasts
    that
  }

  override def write: MLWriter = new TFStage.Writer(this)

  override private[sparkdl] def persistedModel: TFModel = getModel
  override private[sparkdl] def restoreModel(model: TFModel): Unit = setModel(model)

  private[transformers] def modelOrNull: TFModel = tfModel
}

private[sparkdl] object TFStage {

  /** A stage saved as MLlib metadata plus its TensorFlow model's bytes in `model/`. */
  trait PersistsModel extends Params with MLWritable {
    private[sparkdl] def persistedModel: TFModel
    private[sparkdl] def restoreModel(model: TFModel): Unit
  }

  class Writer(stage: PersistsModel) extends MLWriter {
    override protected def saveImpl(path: String): Unit = {
      MLBridge.saveMetadata(stage, path, sparkSession)
      TFModel.save(stage.persistedModel, sparkSession, new Path(path, "model").toString)
    }
  }

  /** Reads stages written by [[Writer]]; `make(uid)` builds an empty instance. */
  class Reader[T <: PersistsModel](make: String => T, className: String) extends MLReader[T] {
    override def load(path: String): T = {
      val spark: SparkSession = sparkSession
      val stage = make(MLBridge.loadUid(path, spark, className))
      MLBridge.loadParams(stage, path, spark, className)
      stage.restoreModel(TFModel.load(spark, new Path(path, "model").toString))
      stage
    }
  }
}
