package org.sparkdl.examples

import java.nio.file.{Files, Paths}

import org.apache.spark.sql.{DataFrame, SparkSession}

import org.sparkdl.image.ImageReader
import org.sparkdl.transformers.TFImageTransformer

/**
 * The announcement's TensorFlow example, from Scala: read images, resize each to 299x299 with a
 * frozen TensorFlow graph, and keep the results as image structs.
 *
 * The graph is a frozen GraphDef file whose input `sparkdl_image_input:0` takes float images of
 * any size and whose output is the 299x299 resize. The Python example
 * (`examples/tf_image_transformer.py`) builds exactly that graph; to write it to a file:
 * {{{
 *   import tensorflow.compat.v1 as tf
 *   from sparkdl.transformers import utils
 *   g = tf.Graph()
 *   with g.as_default():
 *       image_arr = utils.imageInputPlaceholder()
 *       resized_images = tf.image.resize(image_arr, (299, 299))
 *       frozen = utils.stripAndFreezeGraph(g.as_graph_def(add_shapes=True), tf.Session(graph=g), [resized_images])
 *   open("resize299.pb", "wb").write(frozen.SerializeToString())
 * }}}
 *
 * The examples compile with the tests (ExamplesSuite runs this one); to run it on your images:
 * {{{
 *   source build/engine-env.sh
 *   build/sbt "Test/runMain org.sparkdl.examples.TFImageTransformerExample /data/images resize299.pb resize/ResizeBilinear:0"
 * }}}
 */
object TFImageTransformerExample {

  /** The transformed DataFrame: `image`, `error`, `transformed_img` (299x299 float image structs). */
  def run(spark: SparkSession, imageDir: String, graphFile: String, inputTensor: String,
      outputTensor: String): DataFrame = {
    val imageDF = ImageReader.readImages(spark, imageDir)
    val transformer = new TFImageTransformer()
      .setInputCol("image")
      .setOutputCol("transformed_img")
      .setGraph(Files.readAllBytes(Paths.get(graphFile)))
      .setInputTensor(inputTensor)
      .setOutputTensor(outputTensor)
      .setOutputMode("image")
    transformer.transform(imageDF)
  }

  def main(args: Array[String]): Unit = {
    if (args.length != 3) {
      System.err.println(
        "usage: TFImageTransformerExample <image dir> <frozen graph .pb> <output tensor, e.g. resize/ResizeBilinear:0>")
      sys.exit(2)
    }
    val spark = SparkSession.builder().appName("sparkdl TFImageTransformer example")
      .master(sys.props.getOrElse("spark.master", "local[*]")).getOrCreate()
    try {
      val out = run(spark, args(0), args(1), "sparkdl_image_input:0", args(2))
      out.selectExpr("image.origin", "transformed_img.height", "transformed_img.width",
        "transformed_img.nChannels", "transformed_img_error").show(truncate = false)
    } finally spark.stop()
  }
}
