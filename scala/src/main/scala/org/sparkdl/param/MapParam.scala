package org.sparkdl.param

import org.apache.spark.ml.param.{Param, Params}
import org.json4s.DefaultFormats
import org.json4s.jackson.{JsonMethods, Serialization}

/** A `Map[String, String]` param saved as a JSON object (e.g. column -> tensor mappings). */
class StringMapParam(parent: Params, name: String, doc: String) extends Param[Map[String, String]](parent, name, doc) {

  override def jsonEncode(value: Map[String, String]): String = Serialization.write(value)(DefaultFormats)

  override def jsonDecode(json: String): Map[String, String] =
    JsonMethods.parse(json).extract[Map[String, String]](DefaultFormats, implicitly)
}
