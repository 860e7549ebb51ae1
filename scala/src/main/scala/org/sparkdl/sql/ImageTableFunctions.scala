package org.sparkdl.sql

import org.apache.spark.sql.SparkSession
import org.apache.spark.sql.catalyst.FunctionIdentifier
import org.apache.spark.sql.catalyst.expressions.{Expression, ExpressionInfo}
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan
import org.apache.spark.sql.sparkdl.SparkdlBridge
import org.apache.spark.sql.types._

import org.sparkdl.image.ImageReader

/**
 * `readImages` and `readImageFiles` as table-valued functions, for clients without a JVM
 * (Spark Connect, JDBC):
 * {{{
 *   SELECT * FROM sparkdl_read_images('/data/photos', true)            -- image, error
 *   SELECT * FROM sparkdl_read_image_files('/data/photos', true)       -- origin, content
 * }}}
 * Arguments: path [, recursive [, numPartitions [, dropInvalid [, sampleRatio]]]] (read_images)
 * and path [, recursive [, numPartitions [, sampleRatio]]] (read_image_files), as the Scala API.
 */
object ImageTableFunctions {

  /** One argument of a table function: its name, type, and default (null: required). */
  private[sql] case class Arg(name: String, kind: DataType, default: Any)

  private val readImagesArgs = Seq(Arg("path", StringType, null), Arg("recursive", BooleanType, false),
    Arg("numPartitions", IntegerType, -1), Arg("dropInvalid", BooleanType, false), Arg("sampleRatio", DoubleType, 1.0))
  private val readFilesArgs = Seq(Arg("path", StringType, null), Arg("recursive", BooleanType, false),
    Arg("numPartitions", IntegerType, -1), Arg("sampleRatio", DoubleType, 1.0))

  /** The constant values of `args` (defaults filled in), or an error naming the argument. */
  private[sql] def values(function: String, spec: Seq[Arg], args: Seq[Expression]): Seq[Any] = {
    val required = spec.count(_.default == null)
    if (args.length < required || args.length > spec.length) {
      val which = if (required == 1) "the first is required" else s"the first $required are required"
      throw new IllegalArgumentException(
        s"$function takes (${spec.map(a => s"${a.name} ${a.kind.simpleString}").mkString(", ")}); $which")
    }
    spec.zipWithIndex.map { case (a, i) =>
      args.lift(i) match {
        case None => a.default
        case Some(e) =>
          val ok =
            e.foldable && (e.dataType == a.kind || (a.kind == DoubleType && e.dataType.isInstanceOf[NumericType]) ||
              (a.kind == IntegerType && e.dataType == LongType) || e.dataType == NullType)
          if (!ok) throw new IllegalArgumentException(
            s"$function: argument ${i + 1} (${a.name}) must be a constant ${a.kind.simpleString}, got ${e.sql}")
          (e.eval(), a.kind) match {
            case (null, _) if a.default == null => throw new IllegalArgumentException(s"$function: ${a.name} is null")
            case (null, _) => a.default
            case (n: Number, DoubleType) => n.doubleValue()
            case (n: Number, IntegerType) => n.intValue()
            case (v, StringType) => v.toString
            case (v, _) => v
          }
      }
    }
  }

  private def readImages(args: Seq[Expression]): LogicalPlan = {
    val Seq(path, recursive, parts, drop, ratio) = values("sparkdl_read_images", readImagesArgs, args)
    SparkdlBridge.analyzed(ImageReader.readImages(SparkSession.active, path.toString, recursive.asInstanceOf[Boolean],
        parts.asInstanceOf[Int], drop.asInstanceOf[Boolean], ratio.asInstanceOf[Double]))
  }

  private def readFiles(args: Seq[Expression]): LogicalPlan = {
    val Seq(path, recursive, parts, ratio) = values("sparkdl_read_image_files", readFilesArgs, args)
    SparkdlBridge.analyzed(ImageReader.readImageFiles(SparkSession.active, path.toString,
        recursive.asInstanceOf[Boolean], parts.asInstanceOf[Int], ratio.asInstanceOf[Double]))
  }

  private[sql] def info(name: String, usage: String): ExpressionInfo =
    new ExpressionInfo(getClass.getName, null, name, usage, "", "", "", "", "", "", "")

  val all: Seq[(FunctionIdentifier, ExpressionInfo, Seq[Expression] => LogicalPlan)] = Seq(
    (FunctionIdentifier("sparkdl_read_images"),
      info("sparkdl_read_images",
        "_FUNC_(path[, recursive[, numPartitions[, dropInvalid[, sampleRatio]]]]) - images as Spark's image struct, with an error column."),
      readImages _),
    (FunctionIdentifier("sparkdl_read_image_files"),
      info("sparkdl_read_image_files",
        "_FUNC_(path[, recursive[, numPartitions[, sampleRatio]]]) - image files' origin and bytes."),
      readFiles _))
}
