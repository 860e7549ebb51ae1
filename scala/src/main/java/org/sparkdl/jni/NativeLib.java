package org.sparkdl.jni;

/**
 * The JNI seam: every native method of sparkdl, nothing else. Implemented in
 * Rust ({@code rust/src/jni_api.rs}). Call {@link NativeLoader#ensureLoaded()}
 * before any of these; the Scala API does that for you.
 *
 * <p>Conventions: batches cross as Arrow C Data Interface structs (addresses of
 * {@code ArrowArray}/{@code ArrowSchema} allocated by the JVM), configuration as
 * a UTF-8 JSON string. Native failures arrive as {@link NativeException} (or
 * {@link IllegalArgumentException} for bad arguments) with the reason.
 */
public final class NativeLib {
  private NativeLib() {}

  /**
   * Installs logging and the panic hook, sizes the decode pool and the session reaper
   * ({@code InitConfig} JSON); returns a JSON description of the library.
   */
  public static native String init(String initConfigJson);

  /**
   * Loads a model runtime ("tensorflow": the folder with its two libraries; "onnx": the ONNX
   * Runtime library file) unless loaded; returns its version. The library needs neither until a
   * model of that backend is used.
   */
  public static native String initBackend(String backend, String libPath);

  /** The version of a backend this process has loaded, or null. */
  public static native String backendVersion(String backend);

  /**
   * Decodes a batch of encoded images. Input: a struct batch with string
   * {@code origin} and binary {@code content}; output: {@code image} (Spark's
   * image struct, null when the file does not decode) and {@code error}.
   *
   * @return the number of rows written to the output structs
   */
  public static native long decodeImages(
      long inArray, long inSchema, long outArray, long outSchema, String decodeConfigJson);

  /**
   * Loads a model of any format ({@code LoadSpec} JSON: format, key, settings, and for a folder
   * model its folder), from {@code bytes} (null for a folder model), or reuses this JVM's session
   * for the same key and settings; returns a handle that must be given back with {@link
   * #releaseModel}. A folder is read only during the call.
   */
  public static native long loadModel(String loadSpecJson, byte[] bytes);

  /**
   * This JVM's session for the spec's key and settings when it is loaded already (a handle as
   * from {@link #loadModel}), else 0: lets a caller skip preparing files for a load.
   */
  public static native long acquireLoaded(String loadSpecJson);

  /** JSON description of the model: its inputs, outputs, operations (TensorFlow) and signatures. */
  public static native String describeModel(long handle);

  /**
   * What a model's bytes name without loading it: for ONNX, {@code {"externalData": [...]}}, the
   * external data files (each checked to stay inside the model's folder).
   */
  public static native String inspectModel(String format, byte[] bytes);

  /**
   * Runs the model on one Arrow batch as the JSON run spec says (inputs: column -> tensor,
   * outputs: tensor -> column); the output batch has one column per output and an error column.
   */
  public static native long runModel(
      long handle, long inArray, long inSchema, long outArray, long outSchema, String runSpecJson);

  /** Gives a model handle back; the session goes when no handle uses it and it has idled. */
  public static native void releaseModel(long handle);

  /** A frozen GraphDef of a loaded TensorFlow model, stripped to what {@code outputs} (JSON list) need. */
  public static native byte[] freezeGraph(long handle, String outputsJson);

  /**
   * The pretrained model {@code name} (only "MobileNetV2" for now), built natively from the
   * PyTorch weights file at {@code weightsPath}, as {@code format}: "graphdef" (a frozen
   * TensorFlow graph; TensorFlow must be loaded) or "onnx".
   */
  public static native byte[] buildModel(String name, String format, String weightsPath);

  /**
   * Parses {@code json} as the native side's structure {@code kind} ("init", "engine", "load",
   * "run", "decode") and writes it back: the JVM's tests check each structure round-trips.
   */
  public static native String echoConfig(String kind, String json);

  /**
   * Exact nearest neighbours of one block pair: for each row of {@code queries} (row-major,
   * {@code dim} floats a row), the best {@code k} rows of {@code index} by {@code metric}
   * ("cosine" or "l2", scores higher is better), named by position ({@code indexOffset} + row),
   * ties to the smaller position. Query q's list is written to {@code outPositions} and
   * {@code outScores} from q * k, best first, {@code outCounts[q]} long.
   */
  public static native void searchNeighbors(
      float[] queries, float[] index, int dim, long indexOffset, int k, String metric,
      long[] outPositions, float[] outScores, int[] outCounts);

  /**
   * Every pair of a row of {@code queries} and a row of {@code index} (row-major, {@code dim}
   * floats a row) whose cosine similarity is at least {@code threshold}, exactly scored:
   * {@code {int[] queryRows, long[] positions (indexOffset + row), float[] scores}}.
   */
  public static native Object[] searchAbove(float[] queries, float[] index, int dim, long indexOffset, float threshold);

  /**
   * The copy-detection signature of one 8-bit image, as Spark's image struct holds it
   * ({@code channels} 1, 3 for BGR or 4 for BGRA, rows top to bottom): 576 floats of unit norm,
   * compared by cosine (all zero for a flat image). docs/SIMILARITY-SIGNATURE.md has the method.
   */
  public static native float[] imageSignature(byte[] data, int height, int width, int channels);

  /** Fails on purpose ("error" or "panic"), for tests of the exception path. */
  public static native void failForTest(String kind);
}
