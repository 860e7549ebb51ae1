package org.sparkdl.cli

import java.util.UUID

import org.apache.hadoop.fs.{FileSystem, Path}

import org.apache.spark.ml.{Estimator, Model, Pipeline, PipelineModel, PipelineStage}
import org.apache.spark.ml.classification.{LinearSVC, LogisticRegression, OneVsRest, RandomForestClassifier}
import org.apache.spark.ml.evaluation.MulticlassClassificationEvaluator
import org.apache.spark.ml.feature.{IndexToString, StringIndexer}
import org.apache.spark.ml.functions.vector_to_array
import org.apache.spark.sql.{Column, DataFrame, SparkSession}
import org.apache.spark.sql.functions._

import org.sparkdl.image.ImageReader
import org.sparkdl.models.ModelRegistry
import org.sparkdl.similarity.ImageSignature
import org.sparkdl.transformers.{DeepImageFeaturizer, DeepImagePredictor, ONNXImageTransformer}

/** A user-facing job failure: the message is printed as is, with exit code `exitCode`. */
class JobException(message: String, val exitCode: Int = 1) extends RuntimeException(message)

/** Metrics of a trained model on its validation split. */
case class TrainResult(
    model: PipelineModel,
    labels: Seq[String],
    trainCount: Long,
    validationCount: Long,
    accuracy: Double,
    weightedPrecision: Double,
    weightedRecall: Double,
    f1: Double,
    /** Validation rows: path, label, prediction (strings), probability of the prediction. */
    predictions: DataFrame)

/**
 * The command-line jobs (`sparkdl train|predict|featurize`), in one place for the Python console
 * command and for `spark-submit --class org.sparkdl.cli.Main`. Paths are any URI Spark's Hadoop
 * layer reads; outputs are written to a temporary sibling path and renamed when complete.
 */
object Jobs {

  /**
   * Labelled images: (path, label). Labels are sub-folder names of `images` (`cats/x.jpg` is a
   * cat), or come from `labelsCsv` (columns `path,label`, with a header; relative paths are
   * relative to the CSV's folder).
   */
  def labelledImages(spark: SparkSession, images: String, labelsCsv: Option[String]): DataFrame = {
    labelsCsv match {
      case Some(csv) =>
        requireExists(spark, csv, "--labels")
        val base = new Path(csv).getParent.toString
        val df = spark.read.option("header", "true").csv(csv)
        if (!Set("path", "label").subsetOf(df.columns.toSet)) {
          throw new JobException(
            s"--labels: $csv must have a header with columns path,label (it has: ${df.columns.mkString(",")})", 2)
        }
        df.select(
          when(col("path").rlike("^([a-zA-Z][a-zA-Z0-9+.-]*:|/)"), col("path"))
            .otherwise(concat(lit(base + "/"), col("path"))).as("path"),
          col("label"))
      case None =>
        val files = imageFiles(spark, images)
        val df = spark.createDataFrame(files.map(f => (f, new Path(f).getParent.getName))).toDF("path", "label")
        if (df.select("label").distinct().count() < 2) {
          throw new JobException(
            s"--images: $images needs one sub-folder per class (at least two), e.g. " +
              s"$images/cats/*.jpg and $images/dogs/*.jpg, or give --labels labels.csv with path,label", 2)
        }
        df
    }
  }

  /** The image files under `images` (a folder, recursively, or a glob); an error if none. */
  def imageFiles(spark: SparkSession, images: String): Seq[String] = {
    val isGlob = images.exists("*?[{".contains(_))
    if (!isGlob) requireExists(spark, images, "--images")
    val listed =
      try ImageReader.listFiles(spark, images, recursive = true)
      catch {
        case _: java.io.FileNotFoundException => Seq.empty
      }
    val files = listed.map(_.getPath.toString).filter(ImageFiles.looksLikeImage)
    if (files.isEmpty) {
      throw new JobException(s"--images: no image files (${ImageFiles.extensions.mkString(", ")}) in $images", 2)
    }
    files
  }

  /**
   * How many partitions (so tasks) the images of a job are split into. Progress is counted in
   * finished tasks, and Spark's default for a local list is one partition per core, so on
   * `local[*]` with 2 cores a job went from 0% to 100% in two steps. At least 20 makes each step
   * at most 5%. At least two per core, rounded up to a multiple of the cores, keeps every core
   * busy to the end: tasks of equal size finish in full waves (with 21 on 2 cores, one core would
   * run the last task alone). Never more than one per image: an empty task is pure overhead.
   * Each task still fills batches of the featurizer's `batchSize` (64), so on small data sets a
   * partial last batch per task is the cost of smoother progress.
   */
  def workPartitions(images: Long, cores: Int): Int = {
    val c = math.max(1, cores)
    val wanted = math.max(20, 2 * c)
    val fullWaves = (wanted + c - 1) / c * c
    math.max(1L, math.min(images, fullWaves.toLong)).toInt
  }

  /** `df` (rows of image paths) over [[workPartitions]] partitions, round-robin so they are even. */
  def spread(df: DataFrame): DataFrame =
    df.repartition(workPartitions(df.count(), df.sparkSession.sparkContext.defaultParallelism))

  /** A `path` column of `files` over [[workPartitions]] partitions (no shuffle: a local list). */
  private[cli] def pathsFrame(spark: SparkSession, files: Seq[String]): DataFrame = {
    val n = workPartitions(files.size, spark.sparkContext.defaultParallelism)
    spark.createDataFrame(spark.sparkContext.parallelize(files.map(Tuple1(_)), n)).toDF("path")
  }

  def classifier(name: String, regParam: Double, numClasses: Int): PipelineStage = name match {
    case "logistic" => new LogisticRegression().setMaxIter(200).setRegParam(regParam)
    case "random_forest" => new RandomForestClassifier().setNumTrees(100)
    case "linear_svc" =>
      val svc = new LinearSVC().setMaxIter(200).setRegParam(regParam)
      if (numClasses > 2) new OneVsRest().setClassifier(svc) else svc
    case other => throw new JobException(s"--classifier: '$other' is not one of logistic, random_forest, linear_svc", 2)
  }

  /** Featurize with a named model, train a classifier, evaluate on a held-out split. */
  def train(
      spark: SparkSession,
      data: DataFrame,
      modelName: String,
      weightsPath: Option[String],
      classifierName: String,
      regParam: Double,
      validation: Double,
      seed: Long): TrainResult = {
    checkModel(modelName)
    if (!(validation > 0 && validation < 1))
      throw new JobException(s"--validation: give a fraction in (0, 1), got $validation", 2)
    val Array(trainRows, validRows) = data.randomSplit(Array(1 - validation, validation), seed)
    val (train, valid) = (spread(trainRows), spread(validRows))
    val indexer =
      new StringIndexer().setInputCol("label").setOutputCol("labelIndex").setHandleInvalid("keep").fit(train)
    val labels = indexer.labelsArray.head.toSeq
    val featurizer = new DeepImageFeaturizer().setInputCol("path").setOutputCol("features").setModelName(modelName)
    weightsPath.foreach(featurizer.setWeightsPath)
    val clf = classifier(classifierName, regParam, labels.size) match {
      case c: org.apache.spark.ml.classification.Classifier[_, _, _] =>
        c.setLabelCol("labelIndex").setFeaturesCol("features")
      case o: OneVsRest => o.setLabelCol("labelIndex").setFeaturesCol("features")
      case other => other
    }
    val toLabel = new IndexToString().setInputCol("prediction").setOutputCol("predictedLabel").setLabels(labels.toArray)
    // Rows whose image cannot be read have null features: they are left out of training.
    val dropBad =
      new org.apache.spark.ml.feature.SQLTransformer().setStatement("SELECT * FROM __THIS__ WHERE features IS NOT NULL")
    // The classifier passes over its rows once per iteration (LogisticRegression: up to 200). In
    // the 20+ partitions made for featurizing, each pass is 20+ tasks: on 2 cores about 0.2 s more
    // per iteration than one partition per core. So the features (small next to the images) are
    // shuffled back to one partition per core and cached for the fit.
    val features = dropBad.transform(featurizer.transform(indexer.transform(train.cache())))
      .repartition(spark.sparkContext.defaultParallelism).cache()
    val fitted =
      try clf.asInstanceOf[Estimator[_ <: Model[_]]].fit(features)
      finally features.unpersist()
    // Only transformers: the Pipeline just collects them into the PipelineModel (no job runs).
    val model = new Pipeline().setStages(Array(indexer, featurizer, dropBad, fitted, toLabel)).fit(train)
    val scored = model.transform(valid.cache()).cache()
    def metric(m: String) =
      new MulticlassClassificationEvaluator().setLabelCol("labelIndex").setMetricName(m).evaluate(scored)
    val probability: Column =
      if (scored.columns.contains("probability")) array_max(vector_to_array(col("probability")))
      else lit(null).cast("double")
    val predictions =
      scored.select(col("path"), col("label"), col("predictedLabel").as("prediction"), probability.as("probability"))
    TrainResult(model, labels, train.count(), valid.count(), metric("accuracy"), metric("weightedPrecision"),
      metric("weightedRecall"), metric("f1"), predictions)
  }

  /**
   * Predictions of a saved PipelineModel (from `train`) on the images: path, prediction,
   * probability, error. An `.onnx` file is an image model run by ONNX Runtime: path, prediction
   * (the index of its first output's highest value), probability (that value: a probability
   * when the model ends with a softmax), error; `preprocess` holds its `--image-size H,W`,
   * `--scale`, `--mean R,G,B` and `--std R,G,B` (NCHW and RGB, as PyTorch models expect).
   */
  def predictWithModel(
      spark: SparkSession,
      modelDir: String,
      images: String,
      preprocess: Map[String, String] = Map.empty): DataFrame = {
    requireExists(spark, modelDir, "--model")
    if (modelDir.toLowerCase.endsWith(".onnx")) return predictWithOnnx(spark, modelDir, images, preprocess)
    if (preprocess.nonEmpty) {
      throw new JobException(
        s"--${preprocess.keys.head}: preprocessing options apply to an .onnx --model only; a model saved by " +
          "`sparkdl train` keeps its own", 2)
    }
    val model =
      try PipelineModel.load(modelDir)
      catch {
        case e: Exception =>
          throw new JobException(s"--model: $modelDir is not a saved sparkdl model (${e.getMessage})", 2)
      }
    val df = pathsFrame(spark, imageFiles(spark, images)).withColumn("label", lit(null).cast("string"))
    val scored = model.transform(df)
    val probability: Column =
      if (scored.columns.contains("probability")) array_max(vector_to_array(col("probability")))
      else lit(null).cast("double")
    scored.select(col("path"), col("predictedLabel").as("prediction"), probability.as("probability"),
      col("features_error").as("error"))
  }

  /** [[predictWithModel]] for py4j. */
  def predictWithModelJava(
      spark: SparkSession,
      modelDir: String,
      images: String,
      preprocess: java.util.Map[String, String]): DataFrame = {
    import scala.jdk.CollectionConverters._
    predictWithModel(spark, modelDir, images, preprocess.asScala.toMap)
  }

  private def predictWithOnnx(
      spark: SparkSession,
      file: String,
      images: String,
      preprocess: Map[String, String]): DataFrame = {
    def numbers(key: String): Option[Array[Double]] = preprocess.get(key).map { v =>
      try v.split(",").map(_.trim.toDouble)
      catch {
        case _: NumberFormatException =>
          throw new JobException(s"--$key: '$v' is not a comma-separated list of numbers (e.g. 0.485,0.456,0.406)", 2)
      }
    }
    val unknown = preprocess.keySet -- Set("image-size", "scale", "mean", "std")
    if (unknown.nonEmpty) throw new JobException(s"--${unknown.head}: not an option of predict", 2)
    val t = new ONNXImageTransformer().setInputCol("path").setOutputCol("scores").setOutputMode("array")
      .loadModelFile(file)
    numbers("image-size").foreach { s =>
      if (s.length != 2)
        throw new JobException(s"--image-size: give height,width (e.g. 224,224), not ${s.length} numbers", 2)
      t.setImageSize(s.map(_.toInt))
    }
    numbers("scale").foreach(s => t.setScale(s.head))
    numbers("mean").foreach(t.setMean)
    numbers("std").foreach(t.setStd)
    val scored = t.transform(pathsFrame(spark, imageFiles(spark, images)))
    val best = array_max(col("scores"))
    scored.select(col("path"), (array_position(col("scores"), best) - 1).cast("string").as("prediction"),
      best.cast("double").as("probability"), col("scores_error").as("error"))
  }

  /** Top-k ImageNet classes of a named pretrained model: path, top1, probability, top (array). */
  def predictPretrained(spark: SparkSession, modelName: String, images: String, topK: Int): DataFrame = {
    checkModel(modelName, "--pretrained")
    val df = pathsFrame(spark, imageFiles(spark, images))
    val out = new DeepImagePredictor().setInputCol("path").setOutputCol("top").setModelName(modelName)
      .setDecodePredictions(true).setTopK(topK).transform(df)
    out.select(col("path"), col("top")(0)("description").as("prediction"),
      col("top")(0)("probability").as("probability"),
      col("top"), col("top_error").as("error"))
  }

  /** Features of a named model: path, features (array<double>), error. */
  def featurize(spark: SparkSession, modelName: String, images: String): DataFrame = {
    checkModel(modelName)
    val df = pathsFrame(spark, imageFiles(spark, images))
    new DeepImageFeaturizer().setInputCol("path").setOutputCol("f").setModelName(modelName).transform(df)
      .select(col("path"), when(col("f").isNull, lit(null)).otherwise(vector_to_array(col("f"))).as("features"),
        col("f_error").as("error"))
  }

  /**
   * The copy-detection signatures ([[ImageSignature]]) of the image files `images` names: `path`,
   * `features` (576 floats, unit norm; null where the file is not an image) and `error`.
   */
  def signatures(spark: SparkSession, images: String): DataFrame = {
    val files = pathsFrame(spark, imageFiles(spark, images))
      .select(col("path"), col("path").as("origin"), ImageReader.readBytesColumn(col("path"), spark).as("content"))
    val decoded = ImageReader.decode(files, "origin", "content")
    new ImageSignature().setInputCol("image").setOutputCol("features").transform(decoded)
      .select(col("path"), col("features"), col("error"))
  }

  /**
   * Writes `df` to `output` in the format its extension names (.parquet, .csv, .json/.jsonl),
   * through a temporary sibling path renamed at the end: no half-written output.
   */
  def write(df: DataFrame, output: String): Unit = {
    val format = output.toLowerCase match {
      case o if o.endsWith(".parquet") => "parquet"
      case o if o.endsWith(".csv") => "csv"
      case o if o.endsWith(".jsonl") || o.endsWith(".json") => "json"
      case _ =>
        throw new JobException(s"--output: name the format by the extension: .parquet, .csv or .jsonl (got $output)", 2)
    }
    val flat = if (format != "csv") df
    else df.select(df.schema.fields.map { f =>
      f.dataType match {
        case _: org.apache.spark.sql.types.ArrayType | _: org.apache.spark.sql.types.StructType =>
          to_json(col(f.name)).as(f.name)
        case _ => col(f.name)
      }
    }.toIndexedSeq: _*)
    atomically(df.sparkSession, output, "--output") { tmp =>
      val w = flat.write.format(format)
      (if (format == "csv") w.option("header", "true") else w).save(tmp)
    }
  }

  /** Saves a PipelineModel atomically to `out`. */
  def saveModel(model: PipelineModel, out: String): Unit =
    atomically(SparkSession.active, out, "--out")(tmp => model.write.save(tmp))

  private def atomically(spark: SparkSession, target: String, param: String)(writeTo: String => Unit): Unit = {
    val path = new Path(target)
    val fs = path.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (fs.exists(path)) throw new JobException(s"$param: $target already exists; choose another path or remove it", 2)
    val parent = path.getParent
    val tmp = new Path(parent, s".${path.getName}.tmp-${UUID.randomUUID()}")
    // Fail before any work when the place cannot be written.
    val writable =
      try fs.mkdirs(tmp) && fs.delete(tmp, true)
      catch { case _: java.io.IOException => false }
    if (!writable) throw new JobException(s"$param: cannot write $target (cannot create files in $parent)", 2)
    try {
      writeTo(tmp.toString)
      if (!fs.rename(tmp, path)) throw new JobException(s"$param: could not move the result to $target", 1)
    } catch {
      case e: JobException => throw e
      case e: Exception =>
        throw new JobException(
          s"$param: could not write $target: ${Option(e.getMessage).getOrElse(e.toString).linesIterator.next()}", 1)
    } finally {
      if (fs.exists(tmp)) fs.delete(tmp, true)
    }
  }

  private def requireExists(spark: SparkSession, p: String, param: String): Unit = {
    val path = new Path(p)
    val fs: FileSystem = path.getFileSystem(spark.sparkContext.hadoopConfiguration)
    if (!fs.exists(path)) throw new JobException(s"$param: $p does not exist", 2)
  }

  private def checkModel(name: String, param: String = "--model"): Unit =
    try ModelRegistry.get(name, param)
    catch {
      case e: IllegalArgumentException => throw new JobException(e.getMessage, 2)
    }
}

/** Which files count as images when listing folders. */
object ImageFiles {
  val extensions: Seq[String] = Seq("jpg", "jpeg", "png", "bmp", "gif", "tif", "tiff", "webp")
  def looksLikeImage(path: String): Boolean = {
    val name = path.substring(path.lastIndexOf('/') + 1).toLowerCase
    extensions.exists(e => name.endsWith("." + e))
  }
}
