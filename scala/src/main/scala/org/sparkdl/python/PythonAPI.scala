package org.sparkdl.python

import org.apache.spark.sql.{DataFrame, SparkSession}

import org.sparkdl.image.ImageReader
import org.sparkdl.Sparkdl

/**
 * Entry points for the PySpark wrappers (called through py4j). Plain types only, no Scala
 * defaults: Python passes every argument.
 */
object PythonAPI {
  def readImages(
      spark: SparkSession,
      path: String,
      recursive: Boolean,
      numPartitions: Int,
      dropInvalid: Boolean,
      sampleRatio: Double): DataFrame =
    ImageReader.readImages(spark, path, recursive, numPartitions, dropInvalid, sampleRatio)

  def readImageFiles(
      spark: SparkSession,
      path: String,
      recursive: Boolean,
      numPartitions: Int,
      sampleRatio: Double): DataFrame =
    ImageReader.readImageFiles(spark, path, recursive, numPartitions, sampleRatio)

  /** Freezes a GraphDef (variables taken from the graph's own initial values) to `outputs`. */
  def freezeGraph(graphDef: Array[Byte], outputs: java.util.List[String]): Array[Byte] = {
    import scala.jdk.CollectionConverters._
    org.sparkdl.tf.TFModel.freeze(org.sparkdl.tf.TFModel.fromGraphDef(graphDef), outputs.asScala.toSeq).bytes
  }

  /** The named models as JSON: a list of objects with the registry's fields. */
  def modelsJson(): String = {
    import org.sparkdl.models.{GraphSource, ModelRegistry}
    val list = ModelRegistry.names.map(ModelRegistry.models).map { m =>
      val (kind, source, featureLayer) = m.graphSource match {
        case GraphSource.NativeFromTorch(b, _) => ("native", b, "")
        case GraphSource.KerasApplication(app, layer) => ("keras", app, layer)
      }
      Map("name" -> m.name, "graphSource" -> kind, "builder" -> source, "kerasLayer" -> featureLayer,
        "height" -> m.height, "width" -> m.width,
        "channelOrder" -> m.preprocessing.channelOrder, "features" -> m.featureSize, "classes" -> m.numClasses,
        "labels" -> m.labels, "inputTensor" -> m.inputTensor, "featureTensor" -> m.featureTensor,
        "featureLayers" -> m.featureLayers.map(l =>
          Map("name" -> l.name, "tensor" -> l.tensor, "size" -> l.size, "description" -> l.description)),
        "probabilityTensor" -> m.probabilityTensor, "weightSources" -> m.weightSources.map(_.describe),
        "engines" -> m.engines.map(_.name),
        "cachedGraph" -> ModelRegistry.cacheDir.resolve(m.fileName(org.sparkdl.engine.ModelFormat.GraphDef)).toString,
        "cachedOnnx" -> ModelRegistry.cacheDir.resolve(m.fileName(org.sparkdl.engine.ModelFormat.Onnx)).toString)
    }
    org.json4s.jackson.Serialization.write(list)(org.json4s.DefaultFormats)
  }

  /** Builds a natively built named model's frozen graph into `out` (`weightsPath` may be empty). */
  def exportModel(name: String, weightsPath: String, out: String): String =
    org.sparkdl.models.ModelRegistry.exportGraph(name, Option(weightsPath), java.nio.file.Paths.get(out)).toString

  /** A natively built model written in `format` ("graphdef" or "onnx"). */
  def exportModel(name: String, weightsPath: String, out: String, format: String): String =
    org.sparkdl.models.ModelRegistry.exportModel(name, Option(weightsPath), java.nio.file.Paths.get(out),
      org.sparkdl.engine.ModelFormat.fromName(format)).toString

  // The command-line jobs (org.sparkdl.cli.Jobs) with py4j-friendly arguments: "" means unset.
  private def opt(s: String): Option[String] = Option(s).filter(_.nonEmpty)

  def cliLabelledImages(spark: SparkSession, images: String, labelsCsv: String): DataFrame =
    org.sparkdl.cli.Jobs.labelledImages(spark, images, opt(labelsCsv))

  def cliTrain(spark: SparkSession, data: DataFrame, model: String, weights: String, classifier: String,
      regParam: Double, validation: Double, seed: Long): org.sparkdl.cli.TrainResult =
    org.sparkdl.cli.Jobs.train(spark, data, model, opt(weights), classifier, regParam, validation, seed)

  def cliLabels(r: org.sparkdl.cli.TrainResult): java.util.List[String] = {
    import scala.jdk.CollectionConverters._
    r.labels.asJava
  }

  /** The libtensorflow version, read through JNI (a smoke test of the whole native stack). */
  def tensorflowVersion(): String = Sparkdl.tensorflowVersion()

  /**
   * The value of sparkdl setting `key` in `spark`'s conf, checked by its entry, as text (null when
   * unset and without a default): how the Python side reads settings, the one way they are read.
   */
  def conf(spark: org.apache.spark.sql.SparkSession, key: String): String =
    org.sparkdl.SparkdlConf.find(key).getOrElse(throw new IllegalArgumentException(s"not a sparkdl setting: $key"))
      .read(spark).map(_.toString).orNull

  /** The ONNX Runtime version, read through JNI. */
  def onnxRuntimeVersion(): String = Sparkdl.onnxRuntimeVersion()
}
