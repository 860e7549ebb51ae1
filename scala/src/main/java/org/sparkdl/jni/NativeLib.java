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

  /** Installs logging and the panic hook; returns a JSON description of the library. */
  public static native String init(String confJson);

  /** The version of the libtensorflow loaded into this JVM. */
  public static native String tensorflowVersion();

  /**
   * Decodes a batch of encoded images. Input: a struct batch with string
   * {@code origin} and binary {@code content}; output: {@code image} (Spark's
   * image struct, null when the file does not decode) and {@code error}.
   *
   * @return the number of rows written to the output structs
   */
  public static native long decodeImages(
      long inArray, long inSchema, long outArray, long outSchema, String optionsJson);

  /**
   * Loads a frozen GraphDef, or reuses this JVM's session for {@code key}; returns a handle
   * that must be given back with {@link #releaseModel}.
   */
  public static native long loadGraphDef(String key, byte[] graphDef, String sessionConfigJson);

  /**
   * This JVM's session for {@code key} under these settings when it is loaded already (a handle
   * as from {@link #loadGraphDef}), else 0: lets a caller skip preparing files for a load.
   */
  public static native long acquireLoaded(String key, String sessionConfigJson);

  /**
   * Loads a SavedModel folder with comma-separated {@code tags}; like {@link #loadGraphDef}. The
   * folder is read only during the call: the session keeps what it needs in memory.
   */
  public static native long loadSavedModel(
      String key, String dir, String tags, String sessionConfigJson);

  /** JSON description of the model's operations, their outputs' dtypes and shapes, and signatures. */
  public static native String describeModel(long handle);

  /**
   * Runs the model on one Arrow batch as the JSON run spec says (inputs: column -> tensor,
   * outputs: tensor -> column); the output batch has one column per output and an error column.
   */
  public static native long runModel(
      long handle, long inArray, long inSchema, long outArray, long outSchema, String runSpecJson);

  /** Gives a model handle back; the session goes when no handle uses it and it has idled. */
  public static native void releaseModel(long handle);

  /** A frozen GraphDef of the loaded model, stripped to what {@code outputs} (JSON list) need. */
  public static native byte[] freezeGraph(long handle, String outputsJson);

  /**
   * The frozen GraphDef of the pretrained model {@code name} (only "MobileNetV2" for now), built
   * natively from the PyTorch weights file at {@code weightsPath}.
   */
  public static native byte[] buildModelGraph(String name, String weightsPath);

  /** Fails on purpose ("error" or "panic"), for tests of the exception path. */
  public static native void failForTest(String kind);
}
