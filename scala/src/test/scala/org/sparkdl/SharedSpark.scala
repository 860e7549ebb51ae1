package org.sparkdl

import org.apache.spark.sql.SparkSession
import org.scalatest.{BeforeAndAfterAll, Suite}

/** One local Spark session for the whole test JVM (suites run one after another). */
object SharedSpark {
  lazy val spark: SparkSession = SparkSession.builder()
    .master("local[2]")
    .appName("sparkdl-tests")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("spark.sql.session.timeZone", "UTC")
    // A fresh model cache: named models are built from their weight sources in the tests.
    .config("spark.sparkdl.models.cacheDir",
      java.nio.file.Files.createTempDirectory("sparkdl-model-cache-").toString)
    .getOrCreate()
}

trait SharedSpark extends BeforeAndAfterAll { self: Suite =>
  lazy val spark: SparkSession = SharedSpark.spark
}
