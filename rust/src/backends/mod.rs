//! The backends that run models, beside the neutral engine (`crate::engine`):
//! each turns a model of its formats into an `engine::Model`. Adding a third
//! is a folder here, a [`ModelFormat`] and a [`Backend`] variant, and the two
//! `match`es below.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::engine::cache::SharedModel;
use crate::engine::config::EngineConfig;
use crate::engine::{Backend, ModelFormat};
use crate::errors::{Result, SparkdlError};

pub mod onnx;
pub mod tensorflow;

/// What to load (JSON from the JVM's `org.sparkdl.engine.LoadSpec`): a model
/// of `format`, by its `key` in the session cache, from the bytes passed
/// beside it or from the folder `dir` (a SavedModel; an ONNX model with its
/// external data files, `file` being the model's), read only while it loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadSpec {
    pub format: ModelFormat,
    pub key: String,
    #[serde(default)]
    pub dir: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    /// A SavedModel's MetaGraph tags.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub config: EngineConfig,
}

impl LoadSpec {
    pub fn from_json(json: &str) -> Result<LoadSpec> {
        let spec: LoadSpec = serde_json::from_str(json)?;
        spec.config.validate()?;
        Ok(spec)
    }
}

/// Loads `backend`'s library from `path` (TensorFlow: the folder with its two
/// libraries; ONNX Runtime: the library file) unless loaded; its version.
pub fn init(backend: Backend, path: &Path) -> Result<String> {
    match backend {
        Backend::TensorFlow => tensorflow::library::load(path),
        Backend::Onnx => onnx::library::load(path),
    }
}

/// The version of `backend`'s library if this process has loaded it.
pub fn version(backend: Backend) -> Option<String> {
    match backend {
        Backend::TensorFlow => tensorflow::library::version(),
        Backend::Onnx => onnx::library::version(),
    }
}

/// A new model of `spec.format` from `bytes` or `spec.dir`.
pub fn load(spec: &LoadSpec, bytes: Option<&[u8]>) -> Result<SharedModel> {
    let dir = spec.dir.as_deref().map(Path::new);
    let need =
        |what: &str| SparkdlError::InvalidArgument(format!("loading a {} model: give {what}", spec.format.name()));
    Ok(match spec.format {
        ModelFormat::GraphDef => {
            Arc::new(tensorflow::model::TfModel::from_graph_def(bytes.ok_or_else(|| need("its bytes"))?, &spec.config)?)
        }
        ModelFormat::SavedModel => {
            let dir = spec.dir.as_deref().ok_or_else(|| need("its folder (dir)"))?;
            Arc::new(tensorflow::model::TfModel::from_saved_model(dir, &spec.tags, &spec.config)?)
        }
        ModelFormat::Onnx => match (bytes, dir) {
            (_, Some(dir)) => {
                let file = spec.file.as_deref().ok_or_else(|| need("the model's file name in its folder (file)"))?;
                Arc::new(onnx::model::OnnxModel::from_file(&dir.join(file), &spec.config)?)
            }
            (Some(b), None) => Arc::new(onnx::model::OnnxModel::from_bytes(b, &spec.config)?),
            (None, None) => return Err(need("its bytes or its folder")),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_specs_round_trip() {
        let json = r#"{"format":"onnx","key":"abc","dir":"/tmp/m","file":"model.onnx","tags":[],"config":{"intraOpThreads":2,"interOpThreads":0,"threadSpinning":true,"precision":"float32","gpu":null,"tensorflow":{"xlaJit":false,"allowGrowth":true},"onnx":{"optimizationLevel":"all","sessions":1}}}"#;
        let spec = LoadSpec::from_json(json).unwrap();
        assert_eq!(serde_json::to_string(&spec).unwrap(), json);
        let min = LoadSpec::from_json(r#"{"format":"graphdef","key":"k"}"#).unwrap();
        assert_eq!((min.dir, min.config), (None, EngineConfig::default()));
        assert!(LoadSpec::from_json(r#"{"format":"onnx","key":"k","extra":1}"#).is_err());
    }

    #[test]
    fn a_load_without_its_source_is_explained() {
        let spec = LoadSpec::from_json(r#"{"format":"onnx","key":"k"}"#).unwrap();
        let err = load(&spec, None).unwrap_err().to_string();
        assert!(err.contains("give its bytes or its folder"), "{err}");
        let spec = LoadSpec::from_json(r#"{"format":"savedmodel","key":"k"}"#).unwrap();
        assert!(load(&spec, None).unwrap_err().to_string().contains("its folder"));
    }
}
