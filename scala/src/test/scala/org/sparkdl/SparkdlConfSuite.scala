package org.sparkdl

import java.nio.file.{Files, Paths}

import org.apache.spark.SparkConf
import org.scalatest.funsuite.AnyFunSuite

class SparkdlConfSuite extends AnyFunSuite {

  test("the README's configuration table is the one the entries write") {
    val readme = new String(Files.readAllBytes(Paths.get("README.md")), "UTF-8")
    val table = SparkdlConf.markdownTable
    assert(readme.contains(table + "\n"),
      s"README.md's configuration table differs from SparkdlConf's entries; replace it with:\n$table")
    // No other spark.sparkdl key is documented anywhere in the README's tables.
    val documented = "\\| `(spark\\.sparkdl\\.[A-Za-z.]+)`".r.findAllMatchIn(readme).map(_.group(1)).toSet
    assert(documented == SparkdlConf.entries.map(_.key).toSet)
  }

  test("every entry is read one way: its value checked, older names and the environment after it") {
    val conf = new SparkConf(false).set("spark.sparkdl.tensorflow.sessionIdleSeconds", "5")
    assert(SparkdlConf.SessionIdleSeconds.read(conf).contains(5.0))
    conf.set(SparkdlConf.SessionIdleSeconds.key, "7")
    assert(SparkdlConf.SessionIdleSeconds.read(conf).contains(7.0), "the new name wins")
    assert(SparkdlConf.BatchMaxBytes.read(new SparkConf(false).set(SparkdlConf.BatchMaxBytes.key, "2m"))
        .contains(2L << 20))
    assert(SparkdlConf.BatchMaxBytes.read(new SparkConf(false)).contains(1L << 30))
    val bad = intercept[IllegalArgumentException] {
      SparkdlConf.MaxPixels.read(new SparkConf(false).set(SparkdlConf.MaxPixels.key, "lots"))
    }.getMessage
    assert(bad == "spark.sparkdl.image.maxPixels must be a whole number of at least 1, got 'lots'", bad)
    assert(SparkdlConf.find("spark.sparkdl.tensorflow.precision").contains(SparkdlConf.Precision))
    assert(SparkdlConf.entries.map(_.key).distinct.size == SparkdlConf.entries.size)
  }
}
