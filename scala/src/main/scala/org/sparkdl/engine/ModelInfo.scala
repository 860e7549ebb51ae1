package org.sparkdl.tf

import org.json4s._
import org.json4s.jackson.JsonMethods

/** One output of an operation: its dtype ("float32", ...) and shape (-1: unknown; None: unknown rank). */
case class TensorInfo(name: String, dtype: String, shape: Option[Seq[Long]]) {
  def shapeText: String =
    shape.map(_.map(d => if (d < 0) "?" else d.toString).mkString("(", ", ", ")")).getOrElse("<unknown rank>")
}

/** What the native engine reports about a loaded model; used to validate Params on the driver. */
case class ModelInfo(tensors: Map[String, TensorInfo], signatures: Map[String, Map[String, Map[String, String]]]) {

  /**
   * `op` or `op:0`: the tensor, or an error naming close candidates. For a SavedModel, a
   * signature's argument name (e.g. `x`, or `output_0`) also names its tensor: looked up in
   * `serving_default` first, then in the only other signature that has it.
   */
  def tensor(name: String, param: String): TensorInfo = {
    val canonical = ModelInfo.canonical(name)
    tensors.get(canonical).orElse(signatureTensor(name)).getOrElse({
      val stem = canonical.takeWhile(_ != ':').toLowerCase
      val close =
        tensors.keys.toSeq.filter(_.toLowerCase.contains(stem.takeRight(math.min(stem.length, 6)))).sorted.take(8)
      val hint = if (close.nonEmpty) s" Similar names: ${close.mkString(", ")}."
      else
        s" The graph has ${tensors.size} tensors, e.g. ${tensors.keys.toSeq.sorted.take(8).mkString(", ")}."
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
    val root = JsonMethods.parse(json)
    val tensors = for {
      JArray(ops) <- Seq(root \ "operations")
      op <- ops
      name = (op \ "name").extract[String]
      (out, i) <- (op \ "outputs").extract[List[JValue]].zipWithIndex
    } yield {
      val shape = (out \ "shape") match {
        case JArray(dims) => Some(dims.map(_.extract[Long]))
        case _ => None
      }
      s"$name:$i" -> TensorInfo(s"$name:$i", (out \ "dtype").extract[String], shape)
    }
    val signatures = (root \ "signatures") match {
      case JObject(_) => (root \ "signatures").extract[Map[String, Map[String, Map[String, String]]]]
      case _ => Map.empty[String, Map[String, Map[String, String]]]
    }
    ModelInfo(tensors.toMap, signatures)
  }
}
