package org.sparkdl.image

import java.nio.file.{Files, Path}

import org.apache.spark.sql.Row
import org.apache.spark.sql.functions.col
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.{SharedSpark, SparkdlConf}
import org.sparkdl.arrow.NativeBatches

class ImageReaderSuite extends AnyFunSuite with SharedSpark {

  private def tempDir(): Path = Files.createTempDirectory("sparkdl-images-")

  private def byOrigin(rows: Array[Row]): Map[String, Row] =
    rows.map(r => r.getStruct(0).getString(0) -> r.getStruct(0)).toMap

  test("image column has exactly Spark's image schema") {
    val dir = tempDir()
    TestImages.writeLossless(dir)
    val df = ImageReader.readImages(spark, dir.toString)
    assert(df.schema("image").dataType == org.apache.spark.ml.image.ImageSchema.columnSchema)
    assert(df.columns.toSeq == Seq("image", "error"))
  }

  test("PNG and BMP decode to the same structs as spark.read.format(\"image\")") {
    val dir = tempDir()
    TestImages.writeLossless(dir)
    val ours = byOrigin(ImageReader.readImages(spark, dir.toString).select("image").collect())
    val sparks = byOrigin(spark.read.format("image").load(dir.toString).select("image").collect())
    assert(ours.keySet.forall(_.startsWith("file:///")))
    assert(ours.keySet == sparks.keySet && ours.size == 4)
    for ((origin, expected) <- sparks) {
      val got = ours(origin)
      assert(got.getInt(1) == expected.getInt(1), s"height of $origin")
      assert(got.getInt(2) == expected.getInt(2), s"width of $origin")
      assert(got.getInt(3) == expected.getInt(3), s"nChannels of $origin")
      assert(got.getInt(4) == expected.getInt(4), s"mode of $origin")
      assert(got.getAs[Array[Byte]](5).sameElements(expected.getAs[Array[Byte]](5)), s"pixels of $origin")
    }
  }

  test("JPEG decodes to the same shape as Spark's reader, pixels within a small tolerance") {
    val dir = tempDir()
    TestImages.writeJpeg(dir)
    val ours = ImageReader.readImages(spark, dir.toString).select("image").head().getStruct(0)
    val sparks = spark.read.format("image").load(dir.toString).select("image").head().getStruct(0)
    assert((1 to 4).map(ours.getInt) == (1 to 4).map(sparks.getInt))
    val a = ours.getAs[Array[Byte]](5).map(_ & 0xff)
    val b = sparks.getAs[Array[Byte]](5).map(_ & 0xff)
    val diffs = a.zip(b).map { case (x, y) => math.abs(x - y) }
    // IDCT and chroma upsampling differ between libjpeg (ImageIO) and zune-jpeg.
    assert(diffs.max <= 8, s"max difference ${diffs.max}")
    assert(diffs.sum.toDouble / diffs.length <= 1.5, s"mean difference ${diffs.sum.toDouble / diffs.length}")
  }

  test("bad files give rows with a null image and a reason, or are dropped with dropInvalid") {
    val dir = tempDir()
    TestImages.writeLossless(dir)
    TestImages.writeBroken(dir)
    val all = ImageReader.readImages(spark, dir.toString).collect()
    assert(all.length == 7)
    val bad = all.filter(_.isNullAt(0))
    assert(bad.length == 3)
    bad.foreach(r => assert(!r.isNullAt(1) && r.getString(1).nonEmpty))
    assert(all.filterNot(_.isNullAt(0)).forall(_.isNullAt(1)))
    val reasons = ImageReader.readImageFiles(spark, dir.toString)
      .transform(df => ImageReader.decode(df, "origin", "content"))
      .where(col("image").isNull).select("error").collect().map(_.getString(0)).mkString(" | ")
    assert(reasons.contains("empty"), reasons)
    assert(ImageReader.readImages(spark, dir.toString, dropInvalid = true).count() == 4)
  }

  test("recursive, numPartitions and sampleRatio") {
    val dir = tempDir()
    TestImages.writeLossless(dir)
    val sub = Files.createDirectory(dir.resolve("more"))
    TestImages.writeLossless(sub)
    assert(ImageReader.readImages(spark, dir.toString).count() == 4)
    assert(ImageReader.readImages(spark, dir.toString, recursive = true).count() == 8)
    assert(ImageReader.readImages(spark, dir.toString, recursive = true, numPartitions = 3).rdd.getNumPartitions == 3)
    val sampled = ImageReader.readImages(spark, dir.toString, recursive = true, sampleRatio = 0.5).count()
    assert(sampled > 0 && sampled < 8)
    assert(ImageReader.readImages(spark, s"$dir/*.png").count() == 3)
  }

  test("a folder of sub-folders read without recursive fails, naming recursive = true and the sub-folders") {
    val dir = tempDir()
    Seq("cats", "dogs").foreach(c => TestImages.writeLossless(Files.createDirectory(dir.resolve(c))))
    Files.createDirectory(dir.resolve(".thumbnails"))
    for (read <- Seq[() => Any](() => ImageReader.readImages(spark, dir.toString),
        () => ImageReader.readImageFiles(spark, dir.toString))) {
      val e = intercept[IllegalArgumentException](read())
      assert(e.getMessage.contains(s"$dir holds no files, only sub-folders (cats/, dogs/)"), e.getMessage)
      assert(e.getMessage.contains("recursive = true (Scala)") && e.getMessage.contains("recursive=True (Python)"))
    }
    assert(ImageReader.readImages(spark, dir.toString, recursive = true, dropInvalid = true).count() == 8)
    // Many sub-folders: a few are named.
    (1 to 5).foreach(i => Files.createDirectory(dir.resolve(s"more$i")))
    val e = intercept[IllegalArgumentException](ImageReader.readImages(spark, dir.toString))
    assert(e.getMessage.contains("(cats/, dogs/, more1/, more2/, more3/ and 2 more)"), e.getMessage)
    // A folder with a file next to its sub-folders reads that file; an empty folder reads no rows.
    TestImages.writeJpeg(dir)
    assert(ImageReader.readImages(spark, dir.toString).count() == 1)
    assert(ImageReader.readImages(spark, tempDir().toString).count() == 0)
  }

  test("wrong arguments fail at once with a message naming the parameter") {
    val e1 = intercept[IllegalArgumentException](ImageReader.readImages(spark, "/tmp", sampleRatio = 0.0))
    assert(e1.getMessage.contains("sampleRatio"))
    val e2 = intercept[IllegalArgumentException](ImageReader.readImages(spark, "/tmp", numPartitions = 0))
    assert(e2.getMessage.contains("numPartitions"))
    val e3 = intercept[java.io.FileNotFoundException](ImageReader.readImages(spark, "/no/such/folder"))
    assert(e3.getMessage.contains("/no/such/folder"))
  }

  test("the pixel limit refuses decompression bombs per row") {
    val dir = tempDir()
    TestImages.writeLossless(dir)
    spark.conf.set(SparkdlConf.MaxPixels.key, "60")
    try {
      val rows = ImageReader.readImages(spark, dir.toString).collect()
      val refused = rows.filter(_.isNullAt(0))
      // rgb.png 13x7=91, grey.png 9x11=99 and bgr.bmp 10x6=60 vs rgba.png 8x5=40.
      assert(refused.length == 2, rows.mkString("\n"))
      assert(refused.forall(_.getString(1).contains(SparkdlConf.MaxPixels.key)))
    } finally spark.conf.unset(SparkdlConf.MaxPixels.key)
  }

  test("1000 native batches leave no Arrow memory behind") {
    val dir = tempDir()
    (0 until 25).foreach(i => TestImages.writeLossless(Files.createDirectory(dir.resolve(s"d$i"))))
    spark.conf.set(SparkdlConf.DecodeBatchSize.key, "1")
    try {
      val before = NativeBatches.allocatedBytes
      var batches = 0L
      (0 until 10).foreach { _ =>
        batches += ImageReader.readImages(spark, dir.toString, recursive = true).where(col("image").isNotNull).count()
      }
      assert(batches == 1000)
      assert(NativeBatches.allocatedBytes == before)
    } finally spark.conf.unset(SparkdlConf.DecodeBatchSize.key)
  }

  test("the Hadoop configuration is broadcast once per configuration; a changed setting reaches the files read") {
    import org.apache.spark.sql.sparkdl.SparkdlBridge
    val first = SparkdlBridge.serializableHadoopConf(spark)
    assert(SparkdlBridge.serializableHadoopConf(spark) eq first)
    spark.conf.set("sparkdl.test.hadoop.setting", "on")
    try {
      val changed = SparkdlBridge.serializableHadoopConf(spark)
      assert(!(changed eq first))
      assert(changed.value.value.get("sparkdl.test.hadoop.setting") == "on")
      assert(SparkdlBridge.serializableHadoopConf(spark) eq changed)
    } finally spark.conf.unset("sparkdl.test.hadoop.setting")
    assert(SparkdlBridge.serializableHadoopConf(spark) eq first)
    // A path column read with the cached broadcast (and its cached UDF) still reads every file.
    val dir = tempDir()
    TestImages.writeLossless(dir)
    val files = Files.list(dir).toArray.map(_.toString).toSeq
    import spark.implicits._
    val paths = files.toDF("path")
    (0 until 2).foreach { _ =>
      val read = paths.select(ImageReader.readBytesColumn(col("path"), spark).as("bytes")).collect()
      assert(read.length == files.length && read.forall(r => r.getAs[Array[Byte]](0).nonEmpty))
    }
  }
}
