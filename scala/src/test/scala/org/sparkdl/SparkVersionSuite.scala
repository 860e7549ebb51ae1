package org.sparkdl

import org.scalatest.funsuite.AnyFunSuite

class SparkVersionSuite extends AnyFunSuite {

  private val all = Seq("4.0", "4.1", "4.2", "4.3")

  test("the jar under test is built for the Spark it runs on, with that Spark's Arrow") {
    assert(SparkVersion.builtFor == SparkVersion.minorOf(org.apache.spark.SPARK_VERSION))
    assert(SparkVersion.artifact == s"sparkdl-spark${SparkVersion.builtFor}_2.13")
    assert(SparkVersion.supported.contains(SparkVersion.builtFor))
    assert(SparkVersion.compiledAgainst == org.apache.spark.SPARK_VERSION)
    SparkVersion.check()
    // arrow-c-data is bundled at exactly the Arrow version Spark brings (arrow-vector's).
    val vector = classOf[org.apache.arrow.vector.VectorSchemaRoot].getProtectionDomain.getCodeSource.getLocation.getPath
    assert(vector.endsWith(s"arrow-vector-${SparkVersion.arrowVersion}.jar"), vector)
  }

  test("patch releases of the same minor are accepted") {
    assert(SparkVersion.minorOf("4.2.1") == "4.2")
    assert(SparkVersion.minorOf("4.3.0-SNAPSHOT") == "4.3")
    assert(SparkVersion.mismatch("4.2.0", "4.2", "4.2.0", "sparkdl-spark4.2_2.13", all).isEmpty)
    assert(SparkVersion.mismatch("4.2.7", "4.2", "4.2.0", "sparkdl-spark4.2_2.13", all).isEmpty)
  }

  test("another supported minor is refused, naming the jar to use") {
    val message = SparkVersion.mismatch("4.3.0", "4.2", "4.2.0", "sparkdl-spark4.2_2.13", all).get
    assert(message.contains("(sparkdl-spark4.2_2.13) is built for Spark 4.2.x from 4.2.0"), message)
    assert(message.contains("this is Spark 4.3.0"), message)
    assert(message.contains("org.sparkdl:sparkdl-spark4.3_2.13"), message)
  }

  test("a patch release older than the one compiled against is refused (Spark 4.0.0)") {
    assert(SparkVersion.mismatch("4.0.1", "4.0", "4.0.1", "sparkdl-spark4.0_2.13", all).isEmpty)
    assert(SparkVersion.mismatch("4.0.5", "4.0", "4.0.1", "sparkdl-spark4.0_2.13", all).isEmpty)
    val message = SparkVersion.mismatch("4.0.0", "4.0", "4.0.1", "sparkdl-spark4.0_2.13", all).get
    assert(message.contains("this is Spark 4.0.0"), message)
    assert(message.contains("sparkdl needs Spark 4.0.1 or a later 4.0 release"), message)
  }

  test("an unsupported Spark is refused, naming the supported ones") {
    val message = SparkVersion.mismatch("3.5.4", "4.2", "4.2.0", "sparkdl-spark4.2_2.13", all).get
    assert(message.contains("this is Spark 3.5.4"), message)
    assert(message.contains("sparkdl is built for Spark 4.0, 4.1, 4.2, 4.3"), message)
  }
}
