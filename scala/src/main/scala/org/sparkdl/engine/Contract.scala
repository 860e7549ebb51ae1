package org.sparkdl.engine

import org.json4s.{CustomSerializer, DefaultFormats, Extraction, Formats, JNothing, JNull, JObject, JString, JValue}
import org.json4s.jackson.{JsonMethods, Serialization}

/**
 * The JSON that crosses JNI, as typed values: each structure here has a Rust twin with the same
 * fields (`rust/src/...`, named in each doc), read with unknown fields refused. [[Contract.json]]
 * is the one way they are written; `ContractSuite` sends each through the native side and back
 * (`NativeLib.echoConfig`), so a renamed field fails a test, not a task on an executor.
 */
object Contract {

  /** `jni_api.rs` `InitConfig`: what `NativeLib.init` takes, once per JVM. */
  final case class InitConfig(logLevel: Option[String], sessionIdleSeconds: Option[Double], executorCores: Int)

  /** `engine/config.rs` `GpuPlacement`. */
  final case class GpuPlacement(visibleDevices: String, index: Int, ordinal: Int)

  /** `engine/config.rs` `TensorFlowOptions`. */
  final case class TensorFlowOptions(xlaJit: Boolean = false, allowGrowth: Boolean = true)

  /** `engine/config.rs` `OnnxOptions`. */
  final case class OnnxOptions(optimizationLevel: String = "all", sessions: Int = 1)

  /** `engine/config.rs` `EngineConfig`: the settings a model is loaded with. */
  final case class EngineConfig(
      intraOpThreads: Int = 0,
      interOpThreads: Int = 0,
      threadSpinning: Boolean = true,
      precision: String = "float32",
      gpu: Option[GpuPlacement] = None,
      tensorflow: TensorFlowOptions = TensorFlowOptions(),
      onnx: OnnxOptions = OnnxOptions())

  /** `backends/mod.rs` `LoadSpec`: which model to load, from bytes or a folder. */
  final case class LoadSpec(
      format: String,
      key: String,
      dir: Option[String] = None,
      file: Option[String] = None,
      tags: Seq[String] = Nil,
      config: EngineConfig = EngineConfig())

  /** `ops/preprocess.rs` `ImageSpec`: how an image column becomes a model input. */
  final case class ImageSpec(
      kind: String,
      height: Option[Int],
      width: Option[Int],
      channelOrder: String,
      resize: String,
      scale: Double,
      mean: Seq[Double],
      std: Seq[Double],
      layout: String)

  /** `ops/run_model.rs` `InputSpec`. */
  final case class InputSpec(column: String, tensor: String, image: Option[ImageSpec] = None)

  /** `ops/run_model/outputs.rs` `OutputFormat` (tagged by `kind`). */
  sealed trait OutputFormat
  object OutputFormat {
    case object List extends OutputFormat
    case object Vector extends OutputFormat
    final case class ImageData(channels: Int, swapRgb: Boolean) extends OutputFormat
    final case class TopK(k: Int, labels: Option[Seq[(String, String)]]) extends OutputFormat
  }

  /** `ops/run_model.rs` `OutputSpec`. */
  final case class OutputSpec(tensor: String, column: String, format: OutputFormat = OutputFormat.List)

  /** `ops/run_model.rs` `RunSpec`: which columns feed which tensors, and how outputs come back. */
  final case class RunSpec(inputs: Seq[InputSpec], outputs: Seq[OutputSpec], batchSize: Option[Int] = None)

  /** `ops/decode_images.rs` `DecodeConfig`. */
  final case class DecodeConfig(maxPixels: Long, applyOrientation: Boolean = true)

  private object OutputFormatSerializer extends CustomSerializer[OutputFormat](implicit formats =>
        (
          {
            case o: JObject => (o \ "kind") match {
                case JString("list") => OutputFormat.List
                case JString("vector") => OutputFormat.Vector
                case JString("imageData") =>
                  OutputFormat.ImageData((o \ "channels").extract[Int], (o \ "swapRgb").extract[Boolean])
                case JString("topK") =>
                  val labels = (o \ "labels") match {
                    case JNothing | JNull => None
                    case l => Some(l.extract[Seq[Seq[String]]].map {
                        case Seq(id, name) => (id, name)
                        case other => throw new IllegalArgumentException(s"a label is [id, name], got $other")
                      })
                  }
                  OutputFormat.TopK((o \ "k").extract[Int], labels)
                case other => throw new IllegalArgumentException(s"unknown output format kind $other")
              }
          },
          {
            case OutputFormat.List => JObject("kind" -> JString("list"))
            case OutputFormat.Vector => JObject("kind" -> JString("vector"))
            case OutputFormat.ImageData(c, swap) =>
              JObject("kind" -> JString("imageData"), "channels" -> Extraction.decompose(c),
                "swapRgb" -> Extraction.decompose(swap))
            case OutputFormat.TopK(k, labels) =>
              val base = List("kind" -> JString("topK"), "k" -> Extraction.decompose(k))
              JObject(base ++ labels.map(l => "labels" -> Extraction.decompose(l.map { case (a, b) => Seq(a, b) })))
          }))

  implicit val formats: Formats = DefaultFormats + OutputFormatSerializer

  /** The JSON of one of these structures (None fields left out, as the native side defaults them). */
  def json(value: AnyRef): String = Serialization.write(value)

  /** Parses what [[json]] wrote (or the native side echoed) back into `T`. */
  def parse[T: Manifest](json: String): T = JsonMethods.parse(json).extract[T]

  private[sparkdl] def parseValue(json: String): JValue = JsonMethods.parse(json)
}
