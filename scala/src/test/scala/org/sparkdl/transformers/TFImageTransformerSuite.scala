package org.sparkdl.transformers

import java.nio.file.Files

import org.apache.spark.ml.linalg.Vector
import org.apache.spark.sql.functions.{col, lit}
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark
import org.sparkdl.image.{ImageReader, TestImages}

class TFImageTransformerSuite extends AnyFunSuite with SharedSpark {

  private lazy val dir = {
    val d = Files.createTempDirectory("sparkdl-tfimage-")
    TestImages.writeLossless(d)
    TestImages.writeBroken(d)
    d
  }

  /** Per-channel means in RGB order, computed in the JVM from the image struct (BGR). */
  private def rgbMeans(data: Array[Byte], c: Int): Seq[Double] = {
    val px = data.map(_ & 0xff).grouped(c).toSeq
    val bgr: Seq[Seq[Int]] = if (c == 1) px.map(p => Seq(p(0), p(0), p(0))) else px.map(_.take(3).toSeq)
    Seq(2, 1, 0).map(k => bgr.map(p => p(k)).sum.toDouble / bgr.length)
  }

  test("natural-size images: per-channel means equal the JVM's, bad files get a reason") {
    val images = ImageReader.readImages(spark, dir.toString)
    val t = new TFImageTransformer().setInputCol("image").setOutputCol("means")
      .setGraph(TinyGraphs.channelMean(-1, -1)).setInputTensor("x:0").setOutputTensor("y:0")
      .setOutputMode("array").setBatchSize(2)
    val out = t.transform(images).collect()
    assert(out.length == 7)
    out.foreach { r =>
      if (r.isNullAt(0)) {
        assert(r.isNullAt(2) && !r.isNullAt(3))
      } else {
        val img = r.getStruct(0)
        val got = r.getSeq[Float](2)
        assert(got.length == 3, got)
        rgbMeans(img.getAs[Array[Byte]](5), img.getInt(3)).zip(got).foreach { case (e, g) =>
          assert(math.abs(e - g) < 1e-3, s"${img.getString(0)}: $got")
        }
      }
    }
  }

  test("fixed-size graph: encoded bytes and paths give the same vectors as image structs") {
    val t = new TFImageTransformer().setOutputCol("v")
      .setGraph(TinyGraphs.channelMean(4, 4)).setInputTensor("x").setOutputTensor("y")
    val structs = t.setInputCol("image").transform(ImageReader.readImages(spark, dir.toString, dropInvalid = true))
      .select(col("image.origin").as("o"), col("v")).collect().map(r => r.getString(0) -> r.getAs[Vector](1)).toMap
    val files = ImageReader.readImageFiles(spark, dir.toString)
    val bytes = t.setInputCol("content").transform(files).where(col("v").isNotNull)
      .select("origin", "v").collect().map(r => r.getString(0) -> r.getAs[Vector](1)).toMap
    val paths = t.setInputCol("origin").transform(files.select("origin")).where(col("v").isNotNull)
      .select("origin", "v").collect().map(r => r.getString(0) -> r.getAs[Vector](1)).toMap
    assert(structs.size == 4 && bytes == structs && paths == structs)
  }

  test("outputMode image gives float32 image structs of the graph's output size") {
    val t = new TFImageTransformer().setInputCol("image").setOutputCol("half")
      .setGraph(TinyGraphs.halve(5, 6)).setInputTensor("x:0").setOutputTensor("y:0").setOutputMode("image")
    val out = t.transform(ImageReader.readImages(spark, dir.toString, dropInvalid = true)).select("half").collect()
    assert(out.length == 4)
    out.foreach { r =>
      val s = r.getStruct(0)
      assert((s.getInt(1), s.getInt(2), s.getInt(3), s.getInt(4)) == (5, 6, 3, 21))
      assert(s.getAs[Array[Byte]](5).length == 5 * 6 * 3 * 4)
    }
  }

  test("wrong params fail at once naming the column or tensor") {
    val images = ImageReader.readImages(spark, dir.toString)
    val base = new TFImageTransformer().setOutputCol("v").setGraph(TinyGraphs.channelMean(4, 4))
      .setInputTensor("x:0").setOutputTensor("y:0")
    assert(intercept[IllegalArgumentException](base.setInputCol("nope").transform(images))
        .getMessage.contains("no column 'nope'"))
    assert(intercept[IllegalArgumentException](base.setInputCol("n").transform(images.withColumn("n", lit(1))))
        .getMessage.contains("image struct"))
    assert(intercept[IllegalArgumentException](base.setInputCol("image").setInputTensor("input:0").transform(images))
        .getMessage.contains("no tensor 'input:0'"))
    assert(intercept[IllegalArgumentException](base.setInputTensor("x:0").setChannelOrder("L").transform(images))
        .getMessage.contains("channelOrder"))
    val sized = intercept[IllegalArgumentException](
      base.setChannelOrder("RGB").setImageSize(Array(8, 8)).transform(images)).getMessage
    assert(sized.contains("imageSize: 'x:0' takes 4x4 images only; leave imageSize unset or set it to [4, 4]"), sized)
  }
}
