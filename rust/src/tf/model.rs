//! Loading a model into a TensorFlow session.
//!
//! - A (frozen) GraphDef: imported into a new graph, one session on it.
//! - A SavedModel folder: `SavedModelBundle::load` restores the variables into
//!   the bundle's session, which we keep; its signatures map argument names to
//!   tensor names. TF2 SavedModels (`tf.saved_model.save`, Keras `export`)
//!   keep their variables as resources used inside functions; they run as
//!   loaded and need no freezing ([`crate::tf::freeze`] is for TF1 graphs).
//!
//! A [`LoadedModel`] is `Send + Sync`: TensorFlow's `Session::Run` is
//! thread-safe, so one shared model serves all task threads of an executor.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tensorflow::{Graph, ImportGraphDefOptions, SavedModelBundle, Session};

use crate::errors::{Result, SparkdlError};
use crate::tf::info::{ModelInfo, SignatureInfo};
use crate::tf::session_config::SessionConfig;

/// Where a loaded model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum ModelSource {
    /// A serialised GraphDef of `bytes` bytes.
    GraphDef { bytes: usize },
    /// A SavedModel folder loaded with `tags`.
    SavedModel { dir: String, tags: Vec<String> },
}

impl ModelSource {
    /// "graphdef" or "savedmodel", as the JVM's `TFModel.format`.
    pub fn format(&self) -> &'static str {
        match self {
            ModelSource::GraphDef { .. } => "graphdef",
            ModelSource::SavedModel { .. } => "savedmodel",
        }
    }
}

/// A graph and the session that runs it (for a SavedModel: with its restored
/// variables).
pub struct LoadedModel {
    // Declared before `graph`: the session is closed and deleted first.
    pub(crate) session: Session,
    pub(crate) graph: Graph,
    source: ModelSource,
    signatures: BTreeMap<String, SignatureInfo>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel").field("source", &self.source).finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Imports a serialised (frozen) GraphDef and opens a session on it.
    pub fn from_graph_def(bytes: &[u8], cfg: &SessionConfig) -> Result<LoadedModel> {
        if bytes.is_empty() {
            return Err(SparkdlError::InvalidArgument(
                "the GraphDef is empty (0 bytes); pass the bytes of a .pb file written by tf.io.write_graph \
                 or graph.as_graph_def().SerializeToString()"
                    .into(),
            ));
        }
        let mut graph = Graph::new();
        let mut options = ImportGraphDefOptions::new();
        if let Some(device) = &cfg.device {
            // Nodes that name no device of their own go to the task's.
            options
                .set_default_device(device)
                .map_err(|e| SparkdlError::InvalidArgument(format!("device '{device}': {e}")))?;
        }
        graph.import_graph_def(bytes, &options).map_err(|e| {
            SparkdlError::InvalidArgument(format!(
                "could not import the GraphDef ({} bytes): {e}. It must be a serialised tf.compat.v1.GraphDef \
                 (a frozen graph .pb), not a SavedModel's saved_model.pb or a Keras file",
                bytes.len()
            ))
        })?;
        let session = Session::new(&cfg.session_options()?, &graph)
            .map_err(|e| SparkdlError::TensorFlow(format!("could not create a session for the GraphDef: {e}")))?;
        Ok(LoadedModel {
            session,
            graph,
            source: ModelSource::GraphDef { bytes: bytes.len() },
            signatures: BTreeMap::new(),
        })
    }

    /// Loads the SavedModel in folder `dir` with the MetaGraph tagged `tags`
    /// (usually `["serve"]`).
    pub fn from_saved_model(dir: &str, tags: &[String], cfg: &SessionConfig) -> Result<LoadedModel> {
        if !Path::new(dir).join("saved_model.pb").is_file() {
            return Err(SparkdlError::InvalidArgument(format!(
                "'{dir}' is not a SavedModel folder: it has no saved_model.pb. Pass the folder that \
                 tf.saved_model.save (or model.export) wrote"
            )));
        }
        let mut graph = Graph::new();
        let bundle = SavedModelBundle::load(&cfg.session_options()?, tags, &mut graph, dir).map_err(|e| {
            SparkdlError::InvalidArgument(format!(
                "could not load the SavedModel in '{dir}' with tags {tags:?}: {e}. Check the tags with \
                 `saved_model_cli show --dir {dir}` (most models use [\"serve\"])"
            ))
        })?;
        let signatures = bundle
            .meta_graph_def()
            .signatures()
            .iter()
            .map(|(key, sig)| {
                let names = |m: &std::collections::HashMap<String, tensorflow::TensorInfo>| {
                    m.iter().map(|(k, t)| (k.clone(), t.name().to_string())).collect::<BTreeMap<_, _>>()
                };
                (key.clone(), SignatureInfo { inputs: names(sig.inputs()), outputs: names(sig.outputs()) })
            })
            .collect();
        let source = ModelSource::SavedModel { dir: dir.to_string(), tags: tags.to_vec() };
        Ok(LoadedModel { session: bundle.session, graph, source, signatures })
    }

    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// The graph, e.g. to serialise it (`graph().graph_def()`).
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// All signatures of a SavedModel (empty for a GraphDef).
    pub fn signatures(&self) -> &BTreeMap<String, SignatureInfo> {
        &self.signatures
    }

    /// The signature `name` (e.g. "serving_default"), or an error listing them.
    pub fn signature(&self, name: &str) -> Result<&SignatureInfo> {
        self.signatures.get(name).ok_or_else(|| {
            let have: Vec<&str> = self.signatures.keys().map(String::as_str).collect();
            SparkdlError::InvalidArgument(if have.is_empty() {
                format!("the model has no signature '{name}': it has no signatures at all (only SavedModels do); name tensors directly")
            } else {
                format!("the model has no signature '{name}'; it has: {}", have.join(", "))
            })
        })
    }

    /// Every operation with its outputs' dtypes and shapes, and the signatures.
    pub fn describe(&self) -> ModelInfo {
        ModelInfo::of_graph(&self.graph, self.source.format(), self.signatures.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::test_graphs;

    #[test]
    fn graph_def_loads_and_describes_its_tensors() {
        let model = LoadedModel::from_graph_def(&test_graphs::dense_graph_def(), &SessionConfig::default()).unwrap();
        let info = model.describe();
        assert_eq!(info.format, "graphdef");
        let x = info.operation("x").unwrap();
        assert_eq!(x.op_type, "Placeholder");
        assert_eq!(x.outputs[0].dtype, "float32");
        assert_eq!(x.outputs[0].shape, Some(vec![-1, 3]));
        let y = info.operation("y").unwrap();
        assert_eq!((y.op_type.as_str(), y.outputs[0].shape.clone()), ("Relu", Some(vec![-1, 2])));
        let any = info.operation("any").unwrap();
        assert_eq!(any.outputs[0].shape, None, "a placeholder without a shape has unknown rank");
        assert!(info.signatures.is_empty());
        let err = model.signature("serving_default").unwrap_err().to_string();
        assert!(err.contains("no signatures at all"), "{err}");
    }

    #[test]
    fn bad_graph_defs_are_explained() {
        let err = LoadedModel::from_graph_def(b"", &SessionConfig::default()).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = LoadedModel::from_graph_def(b"\x0a\xff\xff not a graph", &SessionConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("could not import the GraphDef"), "{err}");
    }

    #[test]
    fn missing_saved_model_folder_is_explained() {
        let err =
            LoadedModel::from_saved_model("/nonexistent/model", &["serve".to_string()], &SessionConfig::default())
                .unwrap_err()
                .to_string();
        assert!(err.contains("no saved_model.pb"), "{err}");
    }

    #[test]
    fn saved_model_keeps_its_variables_and_signatures() {
        let dir = test_graphs::write_saved_model("keeps_variables");
        let model = LoadedModel::from_saved_model(&dir, &["serve".to_string()], &SessionConfig::default()).unwrap();
        let sig = model.signature("predict").unwrap().clone();
        assert_eq!(sig.inputs.get("x").map(String::as_str), Some("x:0"));
        assert_eq!(sig.outputs.get("y").map(String::as_str), Some("y:0"));
        let info = model.describe();
        assert_eq!(info.format, "savedmodel");
        assert_eq!(info.signatures.get("predict"), Some(&sig));
        let err = model.signature("serving_default").unwrap_err().to_string();
        assert!(err.contains("it has: predict"), "{err}");
        // The variables were restored from the checkpoint, not re-initialised.
        let x = crate::tf::tensor::TensorValue::f32(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        let out = model.run(&[("x", x)], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), test_graphs::dense_expected(&[1.0, 2.0, 3.0]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_graph_def_is_placed_on_the_tasks_device() {
        // The GPU of a task (an index into the executor's visible GPUs), on a machine with none:
        // every node asks for it, and soft placement runs them on the CPU.
        let cfg = SessionConfig { device: Some("/device:GPU:1".into()), ..SessionConfig::default() };
        let model = LoadedModel::from_graph_def(&test_graphs::dense_graph_def(), &cfg).unwrap();
        for name in ["x", "xw", "y"] {
            let op = model.graph().operation_by_name_required(name).unwrap();
            assert_eq!(op.device().unwrap(), "/device:GPU:1", "node {name}");
        }
        let x = crate::tf::tensor::TensorValue::f32(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        let out = model.run(&[("x", x)], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), test_graphs::dense_expected(&[1.0, 2.0, 3.0]));
        // Without a device, TensorFlow places the nodes.
        let free = LoadedModel::from_graph_def(&test_graphs::dense_graph_def(), &SessionConfig::default()).unwrap();
        assert_eq!(free.graph().operation_by_name_required("y").unwrap().device().unwrap(), "");
    }
}
