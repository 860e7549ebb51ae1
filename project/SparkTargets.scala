import java.io.File

import sbt.IO

/** One supported Spark minor: a row of build/spark-versions.tsv (its header says what each column means). */
case class SparkTarget(
    minor: String,
    spark: String,
    scala: String,
    arrow: String,
    smoke: String,
    jars: String,
    isDefault: Boolean) {

  /** The sbt project: spark42. */
  def id: String = "spark" + minor.replace(".", "")

  /** The artifact name; with Scala's suffix it is the Maven coordinate sparkdl-spark4.2_2.13. */
  def artifact: String = s"sparkdl-spark$minor"
}

object SparkTargets {

  /** The rows of `tsv` (build/spark-versions.tsv), in order. */
  def read(tsv: File): Seq[SparkTarget] = {
    val targets = IO.readLines(tsv).map(_.trim).filterNot(l => l.isEmpty || l.startsWith("#")).map { line =>
      line.split("\t").toSeq match {
        case Seq(minor, spark, scala, arrow, smoke, jars, rest @ _*) if Set("maven", "wheel")(jars) =>
          SparkTarget(minor, spark, scala, arrow, smoke, jars, rest.headOption.contains("default"))
        case _ =>
          sys.error(s"$tsv: cannot read the line '$line' (tab-separated: minor spark scala arrow smoke jars [default])")
      }
    }
    if (targets.count(_.isDefault) != 1) sys.error(s"$tsv: exactly one line must be marked default")
    targets
  }
}
