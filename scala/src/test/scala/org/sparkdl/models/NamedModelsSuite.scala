package org.sparkdl.models

import java.io.File
import java.nio.file.Files

import org.apache.spark.ml.linalg.Vector
import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark
import org.sparkdl.image.ImageReader
import org.sparkdl.jni.NativeLoader
import org.sparkdl.transformers.{DeepImageFeaturizer, DeepImagePredictor}

/** Named models from Scala: the registry, and MobileNetV2 with torchvision's ImageNet weights. */
class NamedModelsSuite extends AnyFunSuite with SharedSpark {

  private lazy val coffeeDir = {
    val skimage = NativeLoader.pythonPackageDir("skimage").getOrElse(
      fail("scikit-image is not installed for the Python Spark uses (make venv installs it)"))
    val d = Files.createTempDirectory("sparkdl-coffee-")
    Files.copy(new File(skimage, "data/coffee.png").toPath, d.resolve("coffee.png"))
    d.toString
  }

  test("the registry lists its models and every modelName error lists them") {
    assert(Seq("InceptionV3", "MobileNetV2", "ResNet50", "VGG16", "VGG19", "Xception").forall(
        ModelRegistry.names.contains))
    val err = intercept[IllegalArgumentException](new DeepImageFeaturizer().setModelName("ResNet")).getMessage
    assert(err.contains("modelName: no model named 'ResNet'") && err.contains("MobileNetV2, ResNet50"), err)
    val m = ModelRegistry.get("MobileNetV2")
    assert(m.featureSize == 1280 && m.height == 224 && m.labels == "imagenet1k")
    assert(Labels("imagenet1k")(967) == LabelClass(967, "n07920052", "espresso"))
  }

  test("MobileNetV2 from Scala: the coffee picture is an espresso; features are 1280 long; save/load") {
    val images = ImageReader.readImages(spark, coffeeDir)
    val top = new DeepImagePredictor().setInputCol("image").setOutputCol("top").setModelName("MobileNetV2")
      .setDecodePredictions(true).setTopK(3).transform(images).select("top").head().getSeq[Row](0)
    assert(top.head.getAs[String]("description") == "espresso", top)
    assert(top.head.getAs[String]("class") == "n07920052")
    val featurizer = new DeepImageFeaturizer().setInputCol("image").setOutputCol("f").setModelName("MobileNetV2")
    val f = featurizer.transform(images).select("f").head().getAs[Vector](0)
    assert(f.size == 1280)
    val dir = Files.createTempDirectory("sparkdl-featurizer-").resolve("stage").toString
    featurizer.write.save(dir)
    val again = DeepImageFeaturizer.load(dir).transform(images).select("f").head().getAs[Vector](0)
    assert(again.size == f.size && again.toArray.zip(f.toArray).forall { case (a, b) => math.abs(a - b) < 1e-6 })
  }

  test("featureLayer and imageSize: multiscale features of 1536, other sizes, errors that list the choices") {
    val images = ImageReader.readImages(spark, coffeeDir)
    def features(f: DeepImageFeaturizer): Array[Double] =
      f.setInputCol("image").setOutputCol("f").setModelName("MobileNetV2").transform(images)
        .select("f").head().getAs[Vector](0).toArray
    val pool = features(new DeepImageFeaturizer())
    val multi = features(new DeepImageFeaturizer().setFeatureLayer("multiscale"))
    assert(multi.length == 1536)
    // The last 1280 of "multiscale" are the default features.
    assert(pool.length == 1280 && multi.drop(256).zip(pool).forall { case (a, b) =>
      math.abs(a - b) < 1e-4 * (1 + math.abs(b))
    })
    val at300 = features(new DeepImageFeaturizer().setImageSize(Array(300, 300)))
    assert(at300.length == 1280 && at300.zip(pool).exists { case (a, b) => math.abs(a - b) > 1e-3 })
    // Saved and loaded with its Params.
    val stage = new DeepImageFeaturizer().setFeatureLayer("multiscale").setImageSize(Array(300, 300))
    val dir = Files.createTempDirectory("sparkdl-multiscale-").resolve("stage").toString
    stage.setInputCol("image").setOutputCol("f").setModelName("MobileNetV2").write.save(dir)
    val loaded = DeepImageFeaturizer.load(dir)
    assert(loaded.getFeatureLayer == "multiscale" && loaded.getImageSize.toSeq == Seq(300, 300))
    assert(features(loaded).length == 1536)

    val err = intercept[IllegalArgumentException](features(new DeepImageFeaturizer().setFeatureLayer("fc"))).getMessage
    assert(err.contains("featureLayer: MobileNetV2 has no feature layer 'fc'") && err.contains("pool (1280") &&
        err.contains("multiscale (1536"), err)
    intercept[IllegalArgumentException](new DeepImageFeaturizer().setImageSize(Array(300)))
    assert(ModelRegistry.get("MobileNetV2").fileName(org.sparkdl.engine.ModelFormat.GraphDef) == "MobileNetV2.v2.pb")
    assert(ModelRegistry.get("MobileNetV2").fileName(org.sparkdl.engine.ModelFormat.Onnx) == "MobileNetV2.v2.onnx")
  }
}
