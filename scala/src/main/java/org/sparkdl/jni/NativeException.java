package org.sparkdl.jni;

/** A failure inside sparkdl's native library; the message carries the native reason. */
public class NativeException extends RuntimeException {
  public NativeException(String message) {
    super(message);
  }

  public NativeException(String message, Throwable cause) {
    super(message, cause);
  }
}
