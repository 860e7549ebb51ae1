import org.apache.spark.sql.SparkSession

import org.sparkdl.sql.ModelFunctions
import org.sparkdl.transformers.ONNXTransformer

/**
 * make test-publish's Scala job, compiled against the published jar and run by
 * `spark-submit --packages org.sparkdl:sparkdl-spark<minor>_2.13:<version>`: an ONNX model
 * (y = 2x + 1, made by publish_suite.py) as a DataFrame stage and as a SQL function, then saved
 * for the suite's SQL query (`spark.sparkdl.sql.models`). The session has no
 * `spark.sql.extensions`: the stage and the registered function install what they need.
 * Args: the .onnx file, where to save.
 */
object MavenJob {
  private val input = Seq(Seq(1f, 2f, 3f), Seq(-1f, 0f, 0.5f))
  private val expected = Seq(Seq(3f, 5f, 7f), Seq(-1f, 1f, 2f))

  private def check(got: Seq[Seq[Float]], what: String): Unit =
    if (got != expected) throw new IllegalStateException(s"MavenJob: $what gave $got, expected $expected")

  def main(args: Array[String]): Unit = {
    val Array(onnxFile, stageDir) = args
    val spark = SparkSession.builder().appName("sparkdl-maven-job").getOrCreate()
    import spark.implicits._
    val rows = input.toDF("x")
    val model = new ONNXTransformer().setModelFile(onnxFile)
      .setInputMapping(Map("x" -> "x")).setOutputMapping(Map("y" -> "y"))
    check(model.transform(rows).select("y").as[Seq[Float]].collect().toSeq, "ONNXTransformer.transform")

    ModelFunctions.register(spark, "twice_plus_one", model)
    rows.createOrReplaceTempView("rows")
    check(spark.sql("SELECT twice_plus_one(x) FROM rows").as[Seq[Float]].collect().toSeq, "SQL twice_plus_one(x)")

    model.write.overwrite().save(stageDir)
    println(s"MavenJob: ok on Spark ${spark.version}: transform and SQL gave $expected; saved to $stageDir")
    spark.stop()
  }
}
