package org.sparkdl.transformers

import org.apache.hadoop.fs.Path

import org.apache.spark.ml.Transformer
import org.apache.spark.ml.param.{ParamMap, Params}
import org.apache.spark.ml.sparkdl.MLBridge
import org.apache.spark.ml.util.{MLReader, MLWritable, MLWriter}
import org.apache.spark.sql.{DataFrame, SparkSession}
import org.apache.spark.sql.types.{StringType, StructField, StructType}

import org.sparkdl.engine.{Contract, ModelBroadcast, ModelInfo, NativeModel, RunModelOp}
import org.sparkdl.param.{HasBatchSize, HasErrorCol, HasPrecision}
import org.sparkdl.plan.{NativeInput, SparkdlPlanner}

/**
 * The machinery every model stage shares, whatever the engine: the model (bytes, not a Param,
 * saved beside the params), where it comes from when it is not set directly ([[modelSource]],
 * [[loadModel]]: a file Param, a named model), its description for validation on the driver,
 * its broadcast, native execution as a [[org.sparkdl.plan.NativeEval]] node of the DataFrame's
 * plan, the error column, copies, and MLlib persistence (metadata plus `model/`).
 */
private[sparkdl] abstract class ModelStage
    extends Transformer with HasBatchSize with HasErrorCol with HasPrecision with ModelStage.PersistsModel {

  /**
   * The model, and what [[modelSource]] was when it was set or loaded: while the source stays the
   * same the model stays (a model set directly, or restored with a saved stage, outlives its
   * file); a new source (another file, another model name) loads a new model.
   */
  private var held: (NativeModel, Option[Any]) = _
  @transient private var infoCache: (NativeModel, ModelInfo) = _

  /**
   * What the model is loaded from (file Params, a model name and engine, ...), or None when no
   * Param names one; a change gives a new model on the next use.
   */
  protected def modelSource: Option[Any]

  /** Loads the model `source` names (on the driver). */
  protected def loadModel(source: Any): NativeModel

  /** How to set a model, for the error when none is. */
  protected def noModelHint: String

  /** The model to run; it stays until another is set or the Params name another. */
  def setModel(model: NativeModel): this.type = {
    held = (model, modelSource)
    this
  }

  def getModel: NativeModel = {
    val source = modelSource
    val h = held
    if (h != null && h._2 == source) h._1
    else source match {
      case Some(s) =>
        held = (loadModel(s), source)
        held._1
      case None if h != null => h._1
      case None => throw new IllegalArgumentException(s"$uid: no model set. $noModelHint")
    }
  }

  /** The model's tensors, loaded once per model on the driver. */
  protected def modelInfo: ModelInfo = {
    val m = getModel
    val c = infoCache
    if (c != null && (c._1 eq m)) c._2
    else {
      val info = m.describe()
      infoCache = (m, info)
      info
    }
  }

  protected def requireNewColumn(schema: StructType, name: String, param: String): Unit = {
    if (schema.fieldNames.contains(name)) {
      throw new IllegalArgumentException(
        s"$param: the input already has a column '$name'; choose another name or drop that column")
    }
  }

  /** The model's broadcast, shared by every transform() of this stage and its copies. */
  private var broadcasts = new ModelBroadcast

  /** Shares `from` (a stage that wraps this one passes its own). */
  private[sparkdl] def shareBroadcast(from: ModelBroadcast): this.type = { broadcasts = from; this }
  private[sparkdl] def modelBroadcast: ModelBroadcast = broadcasts

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
      runSpec: Contract.RunSpec,
      what: String): DataFrame = {
    val spark = df.sparkSession
    val model = getModel
    val bc = broadcasts(spark.sparkContext, model)
    val resultSchema = StructType(outputs :+ StructField(errorName, StringType, nullable = true))
    val p = resolvedPrecision(spark)
    val describe = s"$what ($model${if (p == "float32") "" else s", $p"})"
    SparkdlPlanner(df, RunModelOp(bc, runSpec, inputNames, resultSchema, $(batchSize), describe, p), inputs)
  }

  override def copy(extra: ParamMap): ModelStage = {
    val that = defaultCopy[ModelStage](extra)
    that.held = held
    that.broadcasts = broadcasts
    that
  }

  override def write: MLWriter = new ModelStage.Writer(this)

  override private[sparkdl] def persistedModel: NativeModel = getModel
  override private[sparkdl] def restoreModel(model: NativeModel): Unit = setModel(model)
}

private[sparkdl] object ModelStage {

  /** A stage saved as MLlib metadata plus its model's bytes in `model/`. */
  trait PersistsModel extends Params with MLWritable {
    private[sparkdl] def persistedModel: NativeModel
    private[sparkdl] def restoreModel(model: NativeModel): Unit
  }

  class Writer(stage: PersistsModel) extends MLWriter {
    override protected def saveImpl(path: String): Unit = {
      MLBridge.saveMetadata(stage, path, sparkSession)
      NativeModel.save(stage.persistedModel, sparkSession, new Path(path, "model").toString)
    }
  }

  /** Reads stages written by [[Writer]]; `make(uid)` builds an empty instance. */
  class Reader[T <: PersistsModel](make: String => T, className: String) extends MLReader[T] {
    override def load(path: String): T = {
      val spark: SparkSession = sparkSession
      val stage = make(MLBridge.loadUid(path, spark, className))
      MLBridge.loadParams(stage, path, spark, className)
      stage.restoreModel(NativeModel.load(spark, new Path(path, "model").toString))
      stage
    }
  }
}
