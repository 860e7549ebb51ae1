package org.sparkdl.sql

import java.util.concurrent.ConcurrentHashMap

import org.apache.spark.SparkEnv
import org.apache.spark.ml.Transformer
import org.apache.spark.ml.sparkdl.MLBridge
import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpressionInfo}
import org.apache.spark.sql.sparkdl.SparkdlBridge
import org.apache.spark.sql.types.{DataType, IntegerType, LongType, StringType}

import org.sparkdl.SparkdlConf
import org.sparkdl.models.ModelRegistry

/**
 * The SQL functions: sparkdl's own (`sparkdl_decode_image`, `sparkdl_featurize`,
 * `sparkdl_predict`) and users' models by their own names.
 *
 * {{{
 *   SELECT path, sparkdl_predict(content, 'MobileNetV2', 3) AS top3 FROM binaryFile.`/data/photos`
 *   ModelFunctions.register(spark, "defects", pipelineModel)   // then: SELECT defects(image) FROM ...
 * }}}
 */
object ModelFunctions {

  type Builder = Seq[Expression] => Expression

  /** A call whose constant arguments are wrong: analysis fails with `reason`. */
  private final case class BadCall(function: String, reason: String) extends SqlModel {
    override def constants: Seq[String] = Nil
    override def resultType(types: Seq[DataType]): Either[String, DataType] = Left(reason)
    override def apply(df: org.apache.spark.sql.DataFrame, in: Seq[String], out: String) =
      throw new IllegalStateException(reason)
  }

  /** The value of constant argument `position` (1-based, for messages), or why it is not one. */
  private def constant(function: String, e: Expression, position: Int, name: String, kind: DataType)
      : Either[String, Any] = {
    val ok = e.foldable && (e.dataType == kind || (kind == IntegerType && e.dataType == LongType))
    if (!ok) Left(s"$function: argument $position ($name) must be a constant ${kind.simpleString}, got ${e.sql}")
    else Option(e.eval()).toRight(s"$function: argument $position ($name) is null")
  }

  private def call(function: String, inputs: Seq[Expression])(model: Either[String, SqlModel]): Expression =
    ModelCall(model.fold(BadCall(function, _), identity), inputs)

  private def featurize(args: Seq[Expression]): Expression = {
    val f = "sparkdl_featurize"
    args match {
      case Seq(input, name, rest @ _*) if rest.length <= 1 =>
        call(f, Seq(input)) {
          for {
            n <- constant(f, name, 2, "modelName", StringType).flatMap(v => ModelNames.check(f, v.toString))
            layer <- rest.headOption.map(constant(f, _, 3, "featureLayer", StringType).map(_.toString))
              .getOrElse(Right(ModelRegistry.DefaultFeatureLayer))
            _ <- scala.util.Try(ModelRegistry.get(n).featureLayer(layer)).toEither.left.map(e => s"$f: ${e.getMessage}")
          } yield FeaturizeFunction(n, layer)
        }
      case _ => call(f, args)(Left(s"$f takes (input, modelName [, featureLayer]), got ${args.length} arguments"))
    }
  }

  private def predict(args: Seq[Expression]): Expression = {
    val f = "sparkdl_predict"
    args match {
      case Seq(input, name, rest @ _*) if rest.length <= 1 =>
        call(f, Seq(input)) {
          for {
            n <- constant(f, name, 2, "modelName", StringType).flatMap(v => ModelNames.check(f, v.toString))
            k <- rest.headOption.map(constant(f, _, 3, "topK", IntegerType).map(_.toString.toInt)).getOrElse(Right(5))
            _ <- if (k > 0) Right(k) else Left(s"$f: argument 3 (topK) must be positive, got $k")
            _ <- if (ModelRegistry.get(n).numClasses > 0) Right(n) else Left(s"$f: model '$n' has no class labels")
          } yield PredictFunction(n, k)
        }
      case _ => call(f, args)(Left(s"$f takes (input, modelName [, topK]), got ${args.length} arguments"))
    }
  }

  private def decode(args: Seq[Expression]): Expression = {
    val f = "sparkdl_decode_image"
    if (args.length == 1 || args.length == 2) ModelCall(DecodeImageFunction, args)
    else call(f, args)(Left(s"$f takes (content [, origin]), got ${args.length} arguments"))
  }

  private def info(name: String, usage: String): ExpressionInfo =
    new ExpressionInfo(classOf[ModelCall].getName, null, name, usage, "", "", "", "", "", "", "")

  /** sparkdl's own functions. */
  val builtins: Seq[(FunctionIdentifier, ExpressionInfo, Builder)] = Seq(
    (FunctionIdentifier("sparkdl_decode_image"),
      info("sparkdl_decode_image",
        "_FUNC_(content[, origin]) - Spark's image struct of the encoded image bytes, null for a bad file."),
      decode _),
    (FunctionIdentifier("sparkdl_featurize"),
      info("sparkdl_featurize",
        "_FUNC_(input, modelName[, featureLayer]) - array<float> features of an image (struct, bytes or path) from a named model."),
      featurize _),
    (FunctionIdentifier("sparkdl_predict"),
      info("sparkdl_predict",
        "_FUNC_(input, modelName[, topK]) - the topK classes of an image as array<struct<class, description, probability>>."),
      predict _))

  /** A function that applies `stage` to its one argument. */
  def builder(name: String, stage: => Transformer): Builder = {
    lazy val model = StageFunction(name, stage)
    args => ModelCall(model, args)
  }

  /**
   * Makes `name(input)` a SQL function of this session that applies `stage` (a sparkdl stage,
   * or a PipelineModel whose first stage reads one column and whose last writes one) to `input`.
   */
  def register(spark: SparkSession, name: String, stage: Transformer): Unit = {
    require(name != null && name.matches("[A-Za-z_][A-Za-z0-9_]*"),
      s"register: the function name must be a SQL identifier (letters, digits, _), got '$name'")
    org.sparkdl.plan.SparkdlPlanner.installSql(spark)
    SparkdlBridge.registerFunction(spark, FunctionIdentifier(name),
      info(name, s"_FUNC_(input) - the sparkdl model ${stage.uid}."), builder(name, stage))
  }

  /**
   * Makes `name(image)` a SQL function of this session that feeds `stage` with what the SQL
   * function `preprocess` (e.g. a Python UDF) makes of the image's path: `image` is an image
   * struct (its origin is the path) or a path. For `registerKerasImageUDF`'s preprocessor.
   */
  def registerWithPreprocessor(spark: SparkSession, name: String, preprocess: String, stage: Transformer): Unit = {
    lazy val model = StageFunction(name, stage)
    org.sparkdl.plan.SparkdlPlanner.installSql(spark)
    val lookup = SparkdlBridge.functionBuilder(spark, FunctionIdentifier(preprocess))
    SparkdlBridge.registerFunction(spark, FunctionIdentifier(name),
      info(name, s"_FUNC_(image) - the sparkdl model ${stage.uid} on $preprocess(the image's path)."),
      {
        case Seq(image) =>
          val path = image.dataType match {
            case s: org.apache.spark.sql.types.StructType if s.fieldNames.contains("origin") =>
              org.apache.spark.sql.catalyst.expressions.GetStructField(image, s.fieldIndex("origin"), Some("origin"))
            case _ => image
          }
          ModelCall(model, Seq(lookup(Seq(path))))
        case args =>
          ModelCall(BadCall(name, s"$name takes one argument (an image struct or a path), got ${args.length}"), args)
      })
  }

  private val loaded = new ConcurrentHashMap[String, Transformer]()

  /** The saved stage or PipelineModel at `path`, loaded once per JVM. */
  def loadStage(spark: SparkSession, path: String): Transformer =
    loaded.computeIfAbsent(path, p => MLBridge.loadStage[Transformer](p, spark))

  /**
   * The user models named in `spark.sparkdl.sql.models` (`name=path,...`), as functions whose
   * stage is loaded the first time a query uses them.
   */
  def fromConf(value: String): Seq[(FunctionIdentifier, ExpressionInfo, Builder)] =
    value.split(",").map(_.trim).filter(_.nonEmpty).toSeq.map { entry =>
      entry.split("=", 2) match {
        case Array(name, path) if name.trim.matches("[A-Za-z_][A-Za-z0-9_]*") && path.trim.nonEmpty =>
          val n = name.trim
          (FunctionIdentifier(n), info(n, s"_FUNC_(input) - the sparkdl model saved at ${path.trim}."),
            builder(n, loadStage(SparkSession.active, path.trim)))
        case _ => throw new IllegalArgumentException(
            s"${SparkdlConf.SqlModels}: '$entry' is not name=path (e.g. defects=/models/defects)")
      }
    }

  /** The user models of this JVM's Spark conf, if any. */
  private[sql] def configured: Seq[(FunctionIdentifier, ExpressionInfo, Builder)] =
    Option(SparkEnv.get).flatMap(e => SparkdlConf.SqlModels.get(e.conf)).map(fromConf).getOrElse(Nil)
}
