package org.sparkdl

/** What only the TensorFlow backend has; models of every format are [[org.sparkdl.engine.NativeModel]]s. */
package object tf {

  /** The name TensorFlow stages' `setModel` used before a model could be of any format. */
  type TFModel = org.sparkdl.engine.NativeModel
}
