package org.sparkdl.examples

import java.nio.file.Files

import org.apache.spark.sql.Row
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark
import org.sparkdl.image.TestImages
import org.sparkdl.transformers.TinyGraphs

/** The Scala examples under examples/scala run and give what they promise. */
class ExamplesSuite extends AnyFunSuite with SharedSpark {

  test("TFImageTransformerExample: every image becomes a 299x299x3 float image struct") {
    val dir = Files.createTempDirectory("sparkdl-example-")
    TestImages.writeLossless(dir)
    val graph = Files.createTempFile("resize299-", ".pb")
    Files.write(graph, TinyGraphs.resize(299, 299))
    val out = TFImageTransformerExample.run(spark, dir.toString, graph.toString,
      "sparkdl_image_input:0", "resize/ResizeBilinear:0").collect()
    assert(out.length >= 4)
    out.foreach { r =>
      val img = r.getAs[Row]("transformed_img")
      assert(img != null, s"no output: ${r.getAs[String]("transformed_img_error")}")
      assert(img.getAs[Int]("height") == 299 && img.getAs[Int]("width") == 299 && img.getAs[Int]("nChannels") == 3)
      assert(img.getAs[Array[Byte]]("data").length == 299 * 299 * 3 * 4)
      assert(img.getAs[String]("origin") == r.getAs[Row]("image").getAs[String]("origin"))
    }
  }
}
