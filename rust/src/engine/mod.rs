//! The engine: what `ops/` runs models through, whatever runs them. A model
//! is a [`Model`] (a loaded, shareable session of one backend); its format
//! ([`ModelFormat`]) says which [`Backend`] loads it. Backends live beside
//! this module (`crate::backends::{tensorflow, onnx}`); `ops/` depends on this
//! module alone.
//!
//! - [`dtype`]: the element types sparkdl moves.
//! - [`tensor`]: tensors as plain data, and batch tensors rows are written into.
//! - [`info`]: what a model holds ([`info::ModelInfo`], JSON for the driver).
//! - [`config`]: the settings a model is loaded with.
//! - [`cache`]: one loaded model per model and settings, shared by a JVM's tasks.
//! - [`names`]: "did you mean" suggestions.
//!
//! Loading a model of some format is the backends' (`crate::backends::load`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::errors::{Result, SparkdlError};

pub mod cache;
pub mod config;
pub mod dtype;
pub mod info;
pub mod names;
pub mod tensor;

use dtype::DType;
use info::ModelInfo;
use tensor::{BatchTensor, Feed, TensorValue};

/// A model's format, as the JVM names it (`org.sparkdl.engine.ModelFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelFormat {
    /// A frozen TensorFlow GraphDef (bytes).
    GraphDef,
    /// A TensorFlow SavedModel (a folder).
    SavedModel,
    /// An ONNX model (bytes, or a folder with its external data files).
    Onnx,
}

impl ModelFormat {
    pub const ALL: [ModelFormat; 3] = [ModelFormat::GraphDef, ModelFormat::SavedModel, ModelFormat::Onnx];

    pub fn name(self) -> &'static str {
        match self {
            ModelFormat::GraphDef => "graphdef",
            ModelFormat::SavedModel => "savedmodel",
            ModelFormat::Onnx => "onnx",
        }
    }

    pub fn from_name(name: &str) -> Result<ModelFormat> {
        ModelFormat::ALL.into_iter().find(|f| f.name() == name).ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "unknown model format '{name}'; sparkdl runs {}",
                ModelFormat::ALL.map(ModelFormat::name).join(", ")
            ))
        })
    }

    pub fn backend(self) -> Backend {
        match self {
            ModelFormat::GraphDef | ModelFormat::SavedModel => Backend::TensorFlow,
            ModelFormat::Onnx => Backend::Onnx,
        }
    }
}

/// What runs a model: a library loaded at run time, when a model first needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    TensorFlow,
    Onnx,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::TensorFlow, Backend::Onnx];

    /// As the JVM and messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::TensorFlow => "tensorflow",
            Backend::Onnx => "onnx",
        }
    }

    /// The library's own name, for messages.
    pub fn title(self) -> &'static str {
        match self {
            Backend::TensorFlow => "TensorFlow",
            Backend::Onnx => "ONNX Runtime",
        }
    }

    pub fn from_name(name: &str) -> Result<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name).ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "unknown backend '{name}'; sparkdl has {}",
                Backend::ALL.map(Backend::name).join(", ")
            ))
        })
    }
}

/// One tensor of a model as a run names it: its canonical name, its type
/// (one sparkdl moves) and its shape (-1 where unknown, `None` when even the
/// rank is unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: DType,
    pub shape: Option<Vec<i64>>,
}

/// A loaded model: shared by every task of an executor, so `run` may be
/// called from several threads at once (a backend whose sessions cannot run
/// concurrently serialises its runs).
pub trait Model: Send + Sync + fmt::Debug {
    fn format(&self) -> ModelFormat;

    /// Every tensor a run can name, for the driver's checks.
    fn describe(&self) -> ModelInfo;

    /// Input `name` (a feed), found and checked to be of a type sparkdl feeds;
    /// otherwise an error naming the tensor and what the model has.
    fn input(&self, name: &str) -> Result<TensorSpec>;

    /// Output `name` (a fetch), likewise.
    fn output(&self, name: &str) -> Result<TensorSpec>;

    /// A float32 batch tensor of `dims` this model feeds without a copy.
    fn batch_tensor(&self, dims: &[u64]) -> Result<Box<dyn BatchTensor>>;

    /// Feeds `feeds` (input name, value), runs, and returns `fetches` in order,
    /// float16 outputs widened to float32. A failure about the fed values is
    /// [`SparkdlError::ModelRun`] with `about_rows`, which callers retry row by row.
    fn run(&self, feeds: &[(&str, Feed<'_>)], fetches: &[&str]) -> Result<Vec<TensorValue>>;

    /// For what only one backend does (TensorFlow's freezing), to reach its own type.
    fn as_any(&self) -> &dyn std::any::Any;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_backends_by_name() {
        for f in ModelFormat::ALL {
            assert_eq!(ModelFormat::from_name(f.name()).unwrap(), f);
            assert_eq!(serde_json::to_string(&f).unwrap(), format!("\"{}\"", f.name()));
        }
        assert_eq!(ModelFormat::Onnx.backend(), Backend::Onnx);
        assert_eq!(ModelFormat::SavedModel.backend(), Backend::TensorFlow);
        let err = ModelFormat::from_name("pt").unwrap_err().to_string();
        assert!(err.contains("graphdef, savedmodel, onnx"), "{err}");
        assert_eq!(Backend::from_name("onnx").unwrap(), Backend::Onnx);
        assert!(Backend::from_name("torch").unwrap_err().to_string().contains("tensorflow, onnx"));
    }
}
