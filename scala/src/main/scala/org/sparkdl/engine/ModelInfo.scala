package org.sparkdl.engine

import org.json4s._

/**
 * One tensor of a model: its dtype (the backend's name: "float32", "int64", "string", ...), its
 * shape (-1: unknown; None: unknown rank) and, for ONNX, the names of its symbolic dims.
 */
case class TensorInfo(name: String, dtype: String, shape: Option[Seq[Long]], dimNames: Seq[String] = Nil) {
  def shapeText: String = shape.map(_.zipWithIndex.map { case (d, i) =>
    if (d >= 0) d.toString else dimNames.lift(i).filter(_.nonEmpty).getOrElse("?")
  }.mkString("(", ", ", ")")).getOrElse("<unknown rank>")
}

/**
 * What the native engine reports about a loaded model (`engine::info::ModelInfo`), used to
 * validate Params on the driver: an ONNX model's inputs and outputs; a TensorFlow graph's tensors
 * (any of them can be fed or fetched) and a SavedModel's signatures.
 */
case class ModelInfo(
    format: ModelFormat,
    inputs: Seq[TensorInfo],
    outputs: Seq[TensorInfo],
    tensors: Map[String, TensorInfo],
    signatures: Map[String, Map[String, Map[String, String]]]) {

  /** A model input the stage feeds, by `name`, or an error naming `param` and the names there are. */
  def input(name: String, param: String): TensorInfo = format match {
    case ModelFormat.Onnx => named(inputs, name, param, "input")
    case _ => tensor(name, param)
  }

  /** A model output the stage reads, by `name`, likewise. */
  def output(name: String, param: String): TensorInfo = format match {
    case ModelFormat.Onnx => named(outputs, name, param, "output")
    case _ => tensor(name, param)
  }

  private def named(all: Seq[TensorInfo], name: String, param: String, kind: String): TensorInfo =
    all.find(_.name == name).getOrElse(throw new IllegalArgumentException(
        s"$param: the model has no $kind '$name'; its ${kind}s are: " +
          all.map(t => s"${t.name} ${t.dtype}${t.shapeText}").mkString(", ")))

  /**
   * TensorFlow: `op` or `op:0`: the tensor, or an error naming close candidates. For a SavedModel,
   * a signature's argument name (e.g. `x`, or `output_0`) also names its tensor: looked up in
   * `serving_default` first, then in the only other signature that has it.
   */
  def tensor(name: String, param: String): TensorInfo = {
    val canonical = ModelInfo.canonical(name)
    tensors.get(canonical).orElse(signatureTensor(name)).getOrElse({
      val stem = canonical.takeWhile(_ != ':').toLowerCase
      val close =
        tensors.keys.toSeq.filter(_.toLowerCase.contains(stem.takeRight(math.min(stem.length, 6)))).sorted.take(8)
      val hint =
        if (close.nonEmpty) s" Similar names: ${close.mkString(", ")}."
        else s" The graph has ${tensors.size} tensors, e.g. ${tensors.keys.toSeq.sorted.take(8).mkString(", ")}."
      val args = signatures.toSeq.sortBy(_._1).flatMap { case (sig, io) =>
        io.values.flatMap(_.keys).filterNot(_.startsWith("__")).toSeq.sorted.map(a => s"$a ($sig)")
      }
      val sigHint = if (args.isEmpty) "" else s" Signature arguments: ${args.take(12).mkString(", ")}."
      throw new IllegalArgumentException(s"$param: the graph has no tensor '$name'.$hint$sigHint")
    })
  }

  private def signatureTensor(arg: String): Option[TensorInfo] = {
    if (arg.contains(":")) return None
    def in(sig: String) = signatures.get(sig).toSeq.flatMap(_.values).flatMap(_.get(arg)).headOption
    val found = in("serving_default").orElse {
      val hits = signatures.keys.toSeq.sorted.flatMap(in)
      if (hits.distinct.size == 1) hits.headOption else None
    }
    found.flatMap(t => tensors.get(ModelInfo.canonical(t)))
  }
}

object ModelInfo {
  def canonical(name: String): String = if (name.contains(":")) name else s"$name:0"

  /** Parses the JSON of `NativeLib.describeModel`. */
  def parse(json: String): ModelInfo = {
    implicit val formats: Formats = DefaultFormats
    val root = Contract.parseValue(json)
    def tensorInfo(v: JValue): TensorInfo = TensorInfo(
      (v \ "name").extract[String],
      (v \ "dtype").extract[String],
      (v \ "shape") match {
        case JArray(dims) => Some(dims.map(_.extract[Long]))
        case _ => None
      },
      (v \ "dimNames").extractOpt[List[String]].getOrElse(Nil))
    val tensors = for {
      JArray(ops) <- Seq(root \ "operations")
      op <- ops
      out <- (op \ "outputs").extract[List[JValue]]
    } yield {
      val t = tensorInfo(out)
      t.name -> t
    }
    val signatures = (root \ "signatures") match {
      case o: JObject => o.extract[Map[String, Map[String, Map[String, String]]]]
      case _ => Map.empty[String, Map[String, Map[String, String]]]
    }
    def list(field: String): Seq[TensorInfo] = (root \ field) match {
      case JArray(items) => items.map(tensorInfo)
      case _ => Nil
    }
    ModelInfo(ModelFormat.fromName((root \ "format").extract[String]), list("inputs"), list("outputs"), tensors.toMap,
      signatures)
  }
}
