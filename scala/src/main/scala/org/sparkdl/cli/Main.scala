package org.sparkdl.cli

import org.apache.spark.sql.SparkSession

/**
 * The command-line jobs for clusters without sparkdl's Python package:
 * {{{
 *   spark-submit --class org.sparkdl.cli.Main sparkdl-spark4.2_2.13.jar train --images DIR --model MobileNetV2 --out MODEL_DIR
 *   spark-submit --class org.sparkdl.cli.Main sparkdl-spark4.2_2.13.jar predict --model MODEL_DIR --images DIR --output out.parquet
 *   spark-submit --class org.sparkdl.cli.Main sparkdl-spark4.2_2.13.jar predict --pretrained MobileNetV2 --images DIR --output out.csv
 *   spark-submit --class org.sparkdl.cli.Main sparkdl-spark4.2_2.13.jar featurize --model MobileNetV2 --images DIR --output f.parquet
 * }}}
 * The master and confs come from spark-submit. Exit codes: 0 done, 2 bad arguments or inputs,
 * 1 the job failed.
 */
object Main {

  val usage: String =
    """usage: Main train --images DIR [--labels CSV] --model NAME --out MODEL_DIR [--classifier logistic|random_forest|linear_svc]
      |                 [--reg-param 0.01] [--validation 0.2] [--seed 42] [--weights PATH]
      |       Main predict (--model MODEL_DIR|MODEL.onnx | --pretrained NAME) --images DIR|GLOB --output FILE(.parquet|.csv|.jsonl)
      |         [--top-k 5] [--image-size H,W --scale S --mean R,G,B --std R,G,B (for an .onnx model)]
      |       Main featurize --model NAME --images DIR|GLOB --output FILE(.parquet|.jsonl)""".stripMargin

  def main(args: Array[String]): Unit = {
    val code =
      try {
        run(args)
        0
      } catch {
        case e: JobException =>
          System.err.println(s"sparkdl: error: ${e.getMessage}")
          e.exitCode
      }
    if (code != 0) sys.exit(code)
  }

  /** Parses `--key value` pairs after the command. */
  private[cli] def options(args: Seq[String]): Map[String, String] = {
    if (args.length % 2 != 0 || args.grouped(2).exists(p => !p.head.startsWith("--"))) {
      throw new JobException(s"arguments must be --option value pairs\n$usage", 2)
    }
    args.grouped(2).map(p => p.head.stripPrefix("--") -> p(1)).toMap
  }

  def run(args: Array[String]): Unit = {
    if (args.isEmpty) throw new JobException(usage, 2)
    val opts = options(args.tail.toSeq)
    def need(k: String) = opts.getOrElse(k, throw new JobException(s"${args.head}: --$k is required\n$usage", 2))
    def num(k: String, default: Double) =
      opts.get(k).map(v =>
        v.toDoubleOption.getOrElse(throw new JobException(s"--$k: '$v' is not a number", 2))).getOrElse(default)
    val spark = SparkSession.builder().appName(s"sparkdl ${args.head}").getOrCreate()
    args.head match {
      case "train" =>
        val data = Jobs.labelledImages(spark, need("images"), opts.get("labels"))
        val r = Jobs.train(spark, data, need("model"), opts.get("weights"), opts.getOrElse("classifier", "logistic"),
          num("reg-param", 0.01), num("validation", 0.2), num("seed", 42).toLong)
        Jobs.saveModel(r.model, need("out"))
        println(f"classes: ${r.labels.mkString(", ")}; train ${r.trainCount}, validation ${r.validationCount}")
        println(
          f"accuracy ${r.accuracy}%.4f  precision ${r.weightedPrecision}%.4f  recall ${r.weightedRecall}%.4f  f1 ${r.f1}%.4f")
        println(s"model saved to ${need("out")}")
      case "predict" =>
        val out = (opts.get("model"), opts.get("pretrained")) match {
          case (Some(m), None) =>
            val preprocess = Seq("image-size", "scale", "mean", "std").flatMap(k => opts.get(k).map(k -> _)).toMap
            Jobs.predictWithModel(spark, m, need("images"), preprocess)
          case (None, Some(p)) => Jobs.predictPretrained(spark, p, need("images"), num("top-k", 5).toInt)
          case _ => throw new JobException("predict: give exactly one of --model MODEL_DIR or --pretrained NAME", 2)
        }
        Jobs.write(out, need("output"))
        println(s"predictions written to ${need("output")}")
      case "featurize" =>
        Jobs.write(Jobs.featurize(spark, need("model"), need("images")), need("output"))
        println(s"features written to ${need("output")}")
      case other => throw new JobException(s"unknown command '$other'\n$usage", 2)
    }
  }
}
