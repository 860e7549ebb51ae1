package org.sparkdl

import java.nio.file.{Files, Path, Paths}

import scala.jdk.CollectionConverters._

import org.scalatest.funsuite.AnyFunSuite

/**
 * Spark's internal APIs (Catalyst, physical planning, `private[spark]` utilities) are used only
 * in the Spark-internals layer that docs/ARCHITECTURE.md lists ("Spark versions"): those are the
 * files to re-check, and to move into scala/src/main/spark-<minor>/ where they differ, when a
 * Spark minor is added. Everything else uses Spark's public API, or the layer's bridges.
 */
class SparkInternalsSuite extends AnyFunSuite {

  private val repo = Paths.get(sys.props.getOrElse("sparkdl.repo", sys.props("user.dir")))
  private val main = repo.resolve("scala/src/main")

  /** Folders (under scala/src/main) that make up the layer. */
  private val layer = Seq(
    "scala/org/apache/spark/sql/sparkdl/", // SparkdlBridge: private[sql] members
    "scala/org/apache/spark/ml/sparkdl/", // MLBridge: private[ml] persistence
    "scala/org/sparkdl/plan/", // the native node, its rules, operator and strategy
    "scala/org/sparkdl/sql/", // SQL functions: expression, extraction rule, registry, extensions
    "scala/org/sparkdl/arrow/") // Spark rows to and from Arrow

  private val internalPackages = Seq(
    "org.apache.spark.sql.catalyst", "org.apache.spark.sql.execution", "org.apache.spark.sql.classic",
    "org.apache.spark.sql.internal", "org.apache.spark.internal", "org.apache.spark.unsafe",
    "org.apache.spark.util", "org.apache.spark.network")

  private def sources(dir: Path): Seq[Path] =
    if (!Files.isDirectory(dir)) Nil
    else Files.walk(dir).iterator().asScala.filter(p =>
      p.toString.endsWith(".scala") || p.toString.endsWith(".java")).toSeq

  test("only the Spark-internals layer uses Spark's internal packages") {
    val all = sources(main)
    assert(all.size > 30, s"no sources under $main")
    def inLayer(p: Path): Boolean = {
      val rel = main.relativize(p).toString
      rel.startsWith("spark-") || layer.exists(rel.startsWith)
    }
    val offenders = for {
      file <- all if !inLayer(file)
      (line, n) <- Files.readAllLines(file).asScala.zipWithIndex
      pkg <- internalPackages if line.contains(pkg + ".") && !line.trim.startsWith("//") && !line.trim.startsWith("*")
    } yield s"${repo.relativize(file)}:${n + 1}: $pkg"
    assert(offenders.isEmpty,
      "Spark internals outside the layer (go through SparkdlBridge/SparkdlPlanner, " +
        s"or move the code into the layer and list it in docs/ARCHITECTURE.md):\n${offenders.mkString("\n")}")
  }

  test("every file of the layer is listed in docs/ARCHITECTURE.md") {
    val doc = new String(Files.readAllBytes(repo.resolve("docs/ARCHITECTURE.md")), "UTF-8")
    val files = layer.flatMap(d => sources(main.resolve(d))) ++
      sources(main).filter(p => main.relativize(p).toString.startsWith("spark-"))
    val missing = files.map(_.getFileName.toString.stripSuffix(".scala").stripSuffix(".java"))
      .filterNot(n => n == "package" || doc.contains(s"`$n`"))
    assert(missing.isEmpty,
      s"docs/ARCHITECTURE.md does not name these Spark-internals files: ${missing.mkString(", ")}")
  }
}
