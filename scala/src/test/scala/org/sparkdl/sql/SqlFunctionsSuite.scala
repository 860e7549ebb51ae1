package org.sparkdl.sql

import java.io.File
import java.nio.file.{Files, Path}

import org.apache.spark.ml.Pipeline
import org.apache.spark.ml.linalg.Vector
import org.apache.spark.sql.{AnalysisException, Row, SparkSession}
import org.apache.spark.sql.types.{ArrayType, FloatType}
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark
import org.sparkdl.image.{ImageReader, TestImages}
import org.sparkdl.jni.NativeLoader
import org.sparkdl.plan.NativeEval
import org.sparkdl.similarity.NearestNeighbors
import org.sparkdl.transformers.{DeepImageFeaturizer, TFImageTransformer, TinyGraphs}

/** The SQL functions, in a session with the sparkdl extension (sharing the tests' SparkContext). */
class SqlFunctionsSuite extends AnyFunSuite with SharedSpark {

  private lazy val sql: SparkSession = {
    SharedSpark.spark // the SparkContext first
    SparkSession.builder().withExtensions(new SparkdlExtensions).create()
  }

  /** coffee.png (an espresso), four lossless images, and a text file named .jpg. */
  private lazy val dir: Path = {
    val skimage = NativeLoader.pythonPackageDir("skimage").getOrElse(
      fail("scikit-image is not installed for the Python Spark uses (make venv installs it)"))
    val d = Files.createTempDirectory("sparkdl-sql-")
    Files.copy(new File(skimage, "data/coffee.png").toPath, d.resolve("coffee.png"))
    TestImages.writeLossless(d)
    Files.write(d.resolve("notes.jpg"), "not an image".getBytes("UTF-8"))
    d
  }

  private def files = s"binaryFile.`$dir`"

  test("sparkdl_decode_image gives readImages' structs, null for a bad file") {
    val rows = sql.sql(s"SELECT path, sparkdl_decode_image(content, path) AS image FROM $files").collect()
    assert(rows.length == 6)
    val byPath = rows.map(r => new File(new java.net.URI(r.getString(0))).getName -> r.getStruct(1)).toMap
    assert(byPath("notes.jpg") == null)
    val expected = ImageReader.readImages(spark, dir.toString).where("image IS NOT NULL").collect()
      .map(r => new File(new java.net.URI(r.getStruct(0).getString(0))).getName -> r.getStruct(0)).toMap
    assert(expected.size == 5)
    expected.foreach { case (name, img) =>
      val got = byPath(name)
      assert((got.getInt(1), got.getInt(2), got.getInt(3), got.getInt(4)) == (img.getInt(1), img.getInt(2),
        img.getInt(3), img.getInt(4)))
      assert(got.getAs[Array[Byte]](5).sameElements(img.getAs[Array[Byte]](5)), name)
    }
    // One argument: the origin is empty.
    val origins =
      sql.sql(s"SELECT sparkdl_decode_image(content).origin FROM $files WHERE path NOT LIKE '%notes.jpg'").collect()
    assert(origins.length == 5 && origins.forall(r => r.isNullAt(0) || r.getString(0).isEmpty), origins.toSeq)
  }

  test("sparkdl_predict knows the espresso from bytes, paths and image structs, in batches of the native node") {
    val q = sql.sql(
      s"SELECT path, sparkdl_predict(content, 'MobileNetV2', 3) AS top FROM $files WHERE path LIKE '%coffee.png'")
    val optimized = q.queryExecution.optimizedPlan
    assert(optimized.collect { case e: NativeEval => e }.nonEmpty, optimized.treeString)
    assert(optimized.expressions.forall(!_.exists(_.isInstanceOf[ModelCall])))
    assert(q.queryExecution.explainString(org.apache.spark.sql.execution.SimpleMode).contains("NativeEval"))
    val top = q.head().getSeq[Row](1)
    assert(top.length == 3 && top.head.getString(1) == "espresso" && top.head.getString(0) == "n07920052", top)
    val byPath =
      sql.sql(s"SELECT sparkdl_predict(path, 'MobileNetV2')[0].description FROM $files WHERE path LIKE '%coffee.png'")
    assert(byPath.head().getString(0) == "espresso")
    ImageReader.readImages(sql, dir.toString).createOrReplaceTempView("images")
    val byStruct = sql.sql("SELECT sparkdl_predict(image, 'MobileNetV2', 1)[0].description FROM images " +
      "WHERE image.origin LIKE '%coffee.png'")
    assert(byStruct.head().getString(0) == "espresso")
    // In WHERE too: the call is computed once, below the filter.
    val filtered =
      sql.sql(s"SELECT path FROM $files WHERE sparkdl_predict(content, 'MobileNetV2', 1)[0].description = 'espresso'")
    assert(filtered.collect().map(_.getString(0)).toSeq.exists(_.endsWith("coffee.png")))
  }

  test("sparkdl_featurize gives array<float>, equal to DeepImageFeaturizer's vectors, for each feature layer") {
    val q = sql.sql(s"SELECT path, sparkdl_featurize(content, 'MobileNetV2') AS f, " +
      s"sparkdl_featurize(content, 'MobileNetV2', 'multiscale') AS m FROM $files WHERE path LIKE '%coffee.png'")
    assert(q.schema("f").dataType == ArrayType(FloatType, containsNull = false))
    val row = q.head()
    val f = row.getSeq[Float](1)
    assert(f.length == 1280 && row.getSeq[Float](2).length == 1536)
    val v = new DeepImageFeaturizer().setInputCol("content").setOutputCol("v").setModelName("MobileNetV2")
      .transform(sql.read.format("binaryFile").load(dir.toString).where("path LIKE '%coffee.png'"))
      .head().getAs[Vector]("v")
    assert(v.size == 1280 && f.zip(v.toArray).forall { case (a, b) => math.abs(a - b) <= 1e-5 * (1 + math.abs(b)) })
  }

  test("bad input: nulls and non-images give null; wrong types and unknown models fail analysis naming the function") {
    val nulls = sql.sql("SELECT sparkdl_predict(CAST(NULL AS BINARY), 'MobileNetV2'), " +
      "sparkdl_featurize(X'00010203', 'MobileNetV2'), sparkdl_decode_image(X'FFD8FF00')").head()
    assert(nulls.isNullAt(0) && nulls.isNullAt(1) && nulls.isNullAt(2))
    def analysisError(q: String): String = intercept[AnalysisException](sql.sql(q).collect()).getMessage
    val wrongType = analysisError(s"SELECT sparkdl_predict(length, 'MobileNetV2') FROM $files")
    assert(wrongType.contains("sparkdl_predict: the first argument (input) is bigint") && wrongType.contains(
        "image struct"), wrongType)
    val unknown = analysisError(s"SELECT sparkdl_featurize(content, 'AlexNet') FROM $files")
    assert(unknown.contains("sparkdl_featurize: the second argument (modelName) is 'AlexNet'") && unknown.contains(
        "MobileNetV2"), unknown)
    val notConstant = analysisError(s"SELECT sparkdl_predict(content, path) FROM $files")
    assert(notConstant.contains("argument 2 (modelName) must be a constant string"), notConstant)
    val layer = analysisError(s"SELECT sparkdl_featurize(content, 'MobileNetV2', 'nope') FROM $files")
    assert(layer.contains("sparkdl_featurize") && layer.contains("multiscale"), layer)
    // Inside an aggregate or a sort: refused at analysis, naming the call (computed in a
    // subquery, it works).
    val aggregate = analysisError(s"SELECT count(sparkdl_predict(content, 'MobileNetV2')) FROM $files")
    assert(aggregate.contains("sparkdl_predict(content, 'MobileNetV2', 5)"), aggregate)
    val sorted =
      analysisError(s"SELECT path FROM $files ORDER BY sparkdl_predict(content, 'MobileNetV2')[0].probability")
    assert(sorted.contains("sparkdl_predict(content, 'MobileNetV2', 5)"), sorted)
    assert(sql.sql(s"SELECT count(p) FROM (SELECT sparkdl_predict(content, 'MobileNetV2') AS p FROM $files)")
      .head().getLong(0) == 5)
    // The session goes on.
    assert(
      sql.sql(s"SELECT count(*) FROM $files WHERE sparkdl_decode_image(content) IS NOT NULL").head().getLong(0) == 5)
  }

  test(
    "sparkdl_nearest_neighbors gives each query's top k from an index table; the features fit vector_cosine_similarity") {
    sql.sql(s"SELECT path AS id, sparkdl_featurize(content, 'MobileNetV2') AS features FROM $files " +
      "WHERE sparkdl_decode_image(content) IS NOT NULL").createOrReplaceTempView("photo_index")
    sql.sql("SELECT id AS qid, features FROM photo_index").createOrReplaceTempView("photo_queries")
    val got = sql.sql("SELECT qid, neighbors FROM sparkdl_nearest_neighbors('photo_index', 'photo_queries', 3)")
      .collect().map(r => r.getString(0) -> r.getSeq[Row](1).map(n => (n.getString(0), n.getFloat(1)))).toMap
    assert(got.size == 5 && got.values.forall(_.length == 3), got)
    // Each image is its own best match.
    got.foreach { case (q, n) => assert(n.head._2 >= 1 - 1e-5f && n.map(_._1).contains(q), s"$q: $n") }
    // The same lists as the DataFrame API.
    val api = new NearestNeighbors().setK(3).fit(sql.table("photo_index")).transform(sql.table("photo_queries"))
      .collect().map(r => r.getString(0) -> r.getSeq[Row](2).map(n => (n.getString(0), n.getFloat(1)))).toMap
    assert(api.keySet == got.keySet)
    api.foreach { case (q, want) =>
      assert(got(q).map(_._1) == want.map(_._1), q)
      got(q).zip(want).foreach { case ((_, a), (_, b)) => assert(math.abs(a - b) <= 1e-5, q) }
    }
    // Flattened the SQL way; the optional arguments by position.
    val flat = sql.sql("SELECT qid, n.id, n.score FROM sparkdl_nearest_neighbors('photo_index', 'photo_queries', 2, " +
      "'l2', 'features', 'id') LATERAL VIEW explode(neighbors) AS n WHERE qid <> n.id").collect()
    assert(flat.length == 5 && flat.forall(_.getFloat(2) < 0), flat.toSeq)
    // Mistakes are named.
    def error(q: String): String = intercept[Exception](sql.sql(q).collect()).getMessage
    val missing = error("SELECT * FROM sparkdl_nearest_neighbors('no_such_table', 'photo_queries')")
    assert(missing.contains("sparkdl_nearest_neighbors: the index table 'no_such_table'"), missing)
    val one = error("SELECT * FROM sparkdl_nearest_neighbors('photo_index')")
    assert(one.contains("the first 2 are required"), one)
    val badK = error("SELECT * FROM sparkdl_nearest_neighbors('photo_index', 'photo_queries', 'ten')")
    assert(badK.contains("argument 3 (k) must be a constant int"), badK)
    // Spark 4.2's vector functions take the features as they are, and agree with the scores.
    val Array(major, minor) = org.apache.spark.SPARK_VERSION.split("\\.").take(2).map(_.toInt)
    if (major > 4 || minor >= 2) {
      val cosine = sql.sql("SELECT q.qid, i.id, vector_cosine_similarity(q.features, i.features) " +
        "FROM photo_queries q CROSS JOIN photo_index i").collect()
        .map(r => (r.getString(0), r.getString(1)) -> r.getAs[Number](2).floatValue()).toMap
      assert(cosine.size == 25)
      got.foreach { case (q, n) =>
        n.foreach { case (id, score) => assert(math.abs(cosine((q, id)) - score) <= 1e-4, s"$q, $id") }
      }
    }
  }

  test("users' models by name: registered at run time, or saved and named in spark.sparkdl.sql.models") {
    val means = new TFImageTransformer().setInputCol("image").setOutputCol("means")
      .setGraph(TinyGraphs.channelMean(4, 4)).setInputTensor("x:0").setOutputTensor("y:0").setOutputMode("array")
    ModelFunctions.register(sql, "channel_means", means)
    ImageReader.readImages(sql, dir.toString).createOrReplaceTempView("images")
    val rows = sql.sql("SELECT channel_means(image) AS m FROM images WHERE image IS NOT NULL").collect()
    assert(rows.length == 5 && rows.forall(r => r.getSeq[Float](0).length == 3))
    // A saved PipelineModel, loaded by the function the conf names.
    val saved = Files.createTempDirectory("sparkdl-sql-model-").resolve("m").toString
    new Pipeline().setStages(Array(means)).fit(sql.table("images")).save(saved)
    ModelFunctions.fromConf(s"saved_means=$saved").foreach { case (id, info, builder) =>
      org.apache.spark.sql.sparkdl.SparkdlBridge.registerFunction(sql, id, info, builder)
    }
    val again = sql.sql("SELECT saved_means(image) AS m FROM images WHERE image IS NOT NULL").collect()
    assert(again.map(_.getSeq[Float](0)).toSet == rows.map(_.getSeq[Float](0)).toSet)
    val bad = intercept[IllegalArgumentException](ModelFunctions.fromConf("no-equals-sign"))
    assert(bad.getMessage.contains("spark.sparkdl.sql.models: 'no-equals-sign' is not name=path"))
  }

  test("a model function over a column named like its stage's input, beside a column named like its output") {
    // The stage reads `path` and writes `m`; the query's table has both, and keeps them.
    val means = new TFImageTransformer().setInputCol("path").setOutputCol("m").setImageSize(Array(4, 4))
      .setGraph(TinyGraphs.channelMean(4, 4)).setInputTensor("x:0").setOutputTensor("y:0").setOutputMode("array")
    ModelFunctions.register(sql, "path_means", means)
    val s = sql
    import s.implicits._
    val pngs = Seq("rgb.png", "bgr.bmp").map(f => dir.resolve(f).toUri.toString)
    pngs.zipWithIndex.toDF("path", "m").cache().createOrReplaceTempView("paths")
    val rows = sql.sql("SELECT path, m, path_means(path) AS r FROM paths ORDER BY m").collect()
    assert(rows.map(r => (r.getString(0), r.getInt(1))).toSeq == pngs.zipWithIndex)
    assert(rows.forall(r => r.getSeq[Float](2).length == 3), rows.mkString(", "))
    // The same as a one-stage PipelineModel, and inside a WHERE clause.
    ModelFunctions.register(sql, "path_means_pipeline",
      new Pipeline().setStages(Array(means)).fit(sql.table("paths").drop("m")))
    val filtered = sql.sql("SELECT path FROM paths WHERE size(path_means_pipeline(path)) = 3").collect()
    assert(filtered.map(_.getString(0)).toSet == pngs.toSet)
  }
}
