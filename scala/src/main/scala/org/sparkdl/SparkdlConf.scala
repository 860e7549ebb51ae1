package org.sparkdl

/** Spark conf keys read by sparkdl. Set them like any Spark conf (`--conf k=v`). */
object SparkdlConf {

  /** Folder with libtensorflow_cc.so.2 and libtensorflow_framework.so.2. */
  val TensorFlowLibDir = "spark.sparkdl.tensorflow.libDir"

  /** Images with more pixels than this are refused as decompression bombs. */
  val MaxPixels = "spark.sparkdl.image.maxPixels"
  val DefaultMaxPixels: Long = 178956970L

  /** Rows per Arrow batch handed to native image decoding. */
  val DecodeBatchSize = "spark.sparkdl.image.decodeBatchSize"
  val DefaultDecodeBatchSize: Int = 32

  /**
   * A native batch ends before `batchSize` rows once its input (encoded files, image pixels)
   * reaches this size, e.g. "1g": large images in a big batch are split, never over 2 GiB.
   */
  val BatchMaxBytes = "spark.sparkdl.batch.maxBytes"
  val DefaultBatchMaxBytes: String = "1g"

  /**
   * Native batches one task keeps in flight. 2 (the default): while one batch is decoded and run
   * on an executor-wide pool (two threads per executor core), the task writes the next one, which
   * starts as soon as it is written, so one batch's decoding overlaps another's inference; the
   * task holds at most two batches. 1: each batch runs on the task's own thread, one at a time.
   */
  val BatchesInFlight = "spark.sparkdl.batch.inFlight"
  val DefaultBatchesInFlight: Int = 2

  /** Users' saved models as SQL functions: `name=path,...` (read when a session starts). */
  val SqlModels = "spark.sparkdl.sql.models"

  /** Seconds an unused TensorFlow session stays open in an executor (default 60). */
  val SessionIdleSeconds = "spark.sparkdl.tensorflow.sessionIdleSeconds"

  /** Log level of the native library: off, error, warn (default), info, debug, trace. */
  val NativeLogLevel = "spark.sparkdl.native.logLevel"
}
