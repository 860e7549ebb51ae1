package org.sparkdl

import java.util.Properties

/**
 * The Spark minor this jar is built for, and the check that the running Spark is that minor.
 *
 * sparkdl ships one jar per Spark minor (`org.sparkdl:sparkdl-spark4.2_2.13`, ...): each is
 * compiled against its Spark, whose internal APIs change between minors, and bundles
 * `arrow-c-data` at exactly that Spark's Arrow version. A jar on the wrong Spark would fail
 * later with a `NoSuchMethodError` deep in a task; [[check]] fails at once instead, naming the
 * jar to use. It runs when the session extension is applied and when a stage first builds a plan.
 * What the jar is built for is in `org/sparkdl/build.properties`, written by build.sbt.
 */
object SparkVersion {

  private lazy val props: Properties = {
    val p = new Properties()
    val in = getClass.getResourceAsStream("/org/sparkdl/build.properties")
    if (in == null) throw new IllegalStateException("org/sparkdl/build.properties is missing from the sparkdl jar")
    try p.load(in)
    finally in.close()
    p
  }

  private def prop(key: String): String = Option(props.getProperty(key)).getOrElse(
    throw new IllegalStateException(s"org/sparkdl/build.properties has no $key"))

  /** The Spark minor this jar is built for, e.g. "4.2". */
  def builtFor: String = prop("spark.minor")

  /** This jar's artifact, e.g. "sparkdl-spark4.2_2.13". */
  def artifact: String = prop("artifact")

  /** Every Spark minor sparkdl has a jar for, e.g. Seq("4.0", "4.1", "4.2", "4.3"). */
  def supported: Seq[String] = prop("spark.supported").split(",").toSeq.map(_.trim).filter(_.nonEmpty)

  /** The Arrow Java version of the Spark this jar is built for (that of its arrow-c-data). */
  def arrowVersion: String = prop("arrow.version")

  /** The Spark release this jar is compiled against, the oldest of its minor it runs on, e.g. "4.0.1". */
  def compiledAgainst: String = prop("spark.compiled")

  /** "4.2" for "4.2.1" (or "4.2.0-SNAPSHOT"). */
  def minorOf(version: String): String = version.split("[.-]").take(2).mkString(".")

  /** (major, minor, patch) of "4.0.1", "4.3.0-SNAPSHOT", "4.1.0.dev0"; missing parts are 0. */
  private def numbers(version: String): Seq[Int] =
    version.split("[.-]").take(3).map(p => scala.util.Try(p.takeWhile(_.isDigit).toInt).getOrElse(0)).toSeq.padTo(3, 0)

  /**
   * Why a jar built for `builtFor` (compiled against `compiled`) cannot run on Spark `running`, or
   * None when it can: the same minor, at `compiled` or a later patch release (patch releases keep
   * the APIs sparkdl uses; Spark 4.0.0 is the exception, see build/spark-versions.tsv).
   */
  def mismatch(running: String, builtFor: String = builtFor, compiled: String = compiledAgainst,
      artifact: String = artifact, supported: Seq[String] = supported): Option[String] = {
    val minor = minorOf(running)
    val olderPatch = minor == builtFor &&
      numbers(running).zip(numbers(compiled)).find { case (r, c) => r != c }.exists { case (r, c) => r < c }
    if (minor == builtFor && !olderPatch) None
    else {
      val use =
        if (olderPatch) s"sparkdl needs Spark $compiled or a later $builtFor release"
        else if (supported.contains(minor))
          s"use the jar built for it, org.sparkdl:${artifact.replace(s"spark$builtFor", s"spark$minor")}"
        else s"sparkdl is built for Spark ${supported.mkString(", ")}"
      Some(
        s"this sparkdl jar ($artifact) is built for Spark $builtFor.x from $compiled, but this is Spark $running: $use " +
          "(Python: sparkdl.session() picks the jar of the installed pyspark).")
    }
  }

  private lazy val checked: Option[String] = mismatch(org.apache.spark.SPARK_VERSION)

  /** Fails (once per call, cheaply) when the running Spark is not the minor this jar is built for. */
  def check(): Unit = checked.foreach(m => throw new UnsupportedOperationException(m))
}
