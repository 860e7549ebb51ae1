package org.sparkdl.models

import scala.io.Source

/** One class of a label set: its index in the model output, id (e.g. a WordNet id) and name. */
case class LabelClass(index: Int, id: String, name: String)

/** Label sets named by the registry ("imagenet1k"), read from the jar's resources. */
object Labels {
  private lazy val imagenet1k: IndexedSeq[LabelClass] = {
    val in = getClass.getResourceAsStream("/org/sparkdl/models/imagenet1k.tsv")
    require(in != null, "the sparkdl jar lacks org/sparkdl/models/imagenet1k.tsv")
    val src = Source.fromInputStream(in, "UTF-8")
    try {
      src.getLines().filterNot(_.startsWith("#")).map { line =>
        val Array(i, id, name) = line.split("\t", 3)
        LabelClass(i.toInt, id, name)
      }.toIndexedSeq
    } finally src.close()
  }

  /** The classes of label set `name`, in output order. */
  def apply(name: String): IndexedSeq[LabelClass] = name match {
    case "imagenet1k" => imagenet1k
    case other => throw new IllegalArgumentException(s"no label set '$other' (known: imagenet1k)")
  }
}
