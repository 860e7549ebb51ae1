package org.sparkdl.transformers

import java.nio.file.Files

import org.apache.spark.ml.{Pipeline, PipelineModel}
import org.apache.spark.ml.linalg.Vectors
import org.apache.spark.sql.Row
import org.apache.spark.sql.types._
import org.scalatest.funsuite.AnyFunSuite

import org.sparkdl.SharedSpark

class TFTransformerSuite extends AnyFunSuite with SharedSpark {

  private def expected(x: Seq[Double]): Seq[Double] =
    (0 until 2).map(j => x.indices.map(i => x(i) * TinyGraphs.W(i)(j)).sum)

  private def transformer(batch: Int = 64) = new TFTransformer()
    .setGraph(TinyGraphs.matMul)
    .setInputMapping(Map("x" -> "x:0"))
    .setOutputMapping(Map("y:0" -> "y"))
    .setBatchSize(batch)

  private def inputs(n: Int): Seq[Seq[Double]] = (0 until n).map(i => Seq(i * 0.5, 1.0 - i, i % 7 * 0.25))

  test("outputs equal x.W for batch sizes 1, 7, 64 over uneven partitions, order and columns kept") {
    val rows = inputs(101).zipWithIndex.map { case (x, i) => Row(i, s"r$i", x) }
    val schema = StructType(Seq(StructField("id", IntegerType), StructField("name", StringType),
        StructField("x", ArrayType(DoubleType))))
    val df = spark.createDataFrame(spark.sparkContext.parallelize(rows, 3), schema)
      .union(spark.createDataFrame(spark.sparkContext.parallelize(Seq.empty[Row], 1), schema))
    for (batch <- Seq(1, 7, 64)) {
      val t = transformer(batch)
      assert(t.transformSchema(df.schema)("y").dataType == ArrayType(FloatType, containsNull = false))
      val out = t.transform(df).collect()
      assert(out.length == 101)
      out.zipWithIndex.foreach { case (r, i) =>
        assert(r.getInt(0) == i && r.getString(1) == s"r$i")
        val y = r.getSeq[Float](3)
        assert(y.length == 2, s"row $i: $y")
        expected(inputs(101)(i)).zip(y).foreach { case (e, g) => assert(math.abs(e - g) < 1e-5, s"row $i: $y") }
        assert(r.isNullAt(4))
      }
    }
  }

  test("vector inputs work, bad rows get a null output and a reason, the job goes on") {
    import spark.implicits._
    val df = Seq(
      (1, Vectors.dense(1.0, 2.0, 3.0)),
      (2, Vectors.dense(1.0, 2.0)),
      (3, null)).toDF("id", "x")
    val out = transformer().transform(df).orderBy("id").collect()
    val y0 = out(0).getSeq[Float](2)
    assert(y0.length == 2 && y0.zip(expected(Seq(1.0, 2.0, 3.0))).forall { case (a, b) => math.abs(a - b) < 1e-5 }, y0)
    assert(out(1).isNullAt(2) && out(1).getString(3).contains("3"), out(1).getString(3))
    assert(out(2).isNullAt(2) && out(2).getString(3).nonEmpty)
  }

  test("wrong params fail on the driver with a message naming the column or tensor") {
    import spark.implicits._
    val df = Seq((1, Seq(1.0, 2.0, 3.0))).toDF("id", "x")
    val noCol = intercept[IllegalArgumentException](transformer().setInputMapping(Map("nope" -> "x:0")).transform(df))
    assert(noCol.getMessage.contains("no input column 'nope'"))
    val badType = intercept[IllegalArgumentException](transformer().setInputMapping(Map("id" -> "x:0")).transform(df))
    assert(badType.getMessage.contains("'id' is int"))
    val noTensor = intercept[IllegalArgumentException](transformer().setOutputMapping(Map("yy:0" -> "y")).transform(df))
    assert(noTensor.getMessage.contains("no tensor 'yy:0'"))
  }

  test("saved in a PipelineModel with the graph, reloaded and used where nothing else has it") {
    import spark.implicits._
    val df = inputs(10).toDF("x")
    val model = new Pipeline().setStages(Array(transformer(3))).fit(df)
    val dir = Files.createTempDirectory("sparkdl-pipeline-").resolve("m").toString
    model.save(dir)
    val reloaded = PipelineModel.load(dir)
    val a = model.transform(df).select("y").collect().map(_.getSeq[Float](0))
    val b = reloaded.transform(df).select("y").collect().map(_.getSeq[Float](0))
    assert(a.length == 10 && a.forall(_.length == 2) && a.toSeq == b.toSeq)
    assert(reloaded.stages.head.asInstanceOf[TFTransformer].getBatchSize == 3)
  }
}
