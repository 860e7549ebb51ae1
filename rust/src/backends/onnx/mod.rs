//! The ONNX Runtime backend: ONNX models (exported from PyTorch, TensorFlow,
//! Keras, scikit-learn, ...) through the `ort` crate, with the library loaded
//! at run time ([`library`]).
//!
//! - [`library`]: loading ONNX Runtime, once per process, and its environment.
//! - [`model`]: a session per model and settings, checked feeds, outputs read back.
//! - [`proto`]: the ONNX protobuf messages sparkdl writes (its own models) and
//!   reads (the external-data files a model names, checked before any load).

pub mod library;
pub mod model;
pub mod proto;

#[cfg(test)]
pub(crate) mod test_models;
