//! sparkdl's native library, loaded into Spark's JVMs through JNI.
//!
//! - [`jni_api`]: the only `Java_*` entry points (the seam).
//! - [`errors`]: every entry point turns errors and panics into Java exceptions.
//! - [`arrow_io`]: Arrow C Data Interface import/export of batches.
//! - [`ops`]: the batch operations (image decoding, running a model, ...).
//! - [`engine`]: what ops run models through, whatever the backend.
//! - [`backends`]: TensorFlow and ONNX Runtime, each loaded at run time.
//! - [`image`]: decoding files into Spark's image struct layout.
//! - [`models`]: pretrained models built natively from PyTorch weights files.
//! - [`similarity`]: exact nearest-neighbour scoring of vector blocks (top-k per query).

pub mod arrow_io;
pub mod backends;
pub mod engine;
pub mod errors;
pub mod image;
pub mod jni_api;
pub mod logging;
pub mod models;
pub mod ops;
pub mod similarity;
