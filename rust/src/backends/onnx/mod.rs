//! The ONNX Runtime backend: ONNX models (exported from PyTorch, TensorFlow,
//! Keras, scikit-learn, ...) through the `ort` crate, with the library loaded
//! at run time ([`library`]).
//!
//! - [`library`]: loading ONNX Runtime, once per process, and its environment.
//! - [`model`]: a session per model and settings, checked feeds, outputs read back.

pub mod library;
pub mod model;
