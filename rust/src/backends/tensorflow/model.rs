//! Loading a model into a TensorFlow session.
//!
//! - A (frozen) GraphDef: imported into a new graph, one session on it.
//! - A SavedModel folder: `SavedModelBundle::load` restores the variables into
//!   the bundle's session, which we keep; its signatures map argument names to
//!   tensor names. TF2 SavedModels (`tf.saved_model.save`, Keras `export`)
//!   keep their variables as resources used inside functions; they run as
//!   loaded and need no freezing ([`crate::backends::tensorflow::freeze`] is for TF1 graphs).
//!
//! A [`TfModel`] is `Send + Sync`: TensorFlow's `Session::Run` is
//! thread-safe, so one shared model serves all task threads of an executor.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tensorflow::{Graph, ImportGraphDefOptions, SavedModelBundle, Session};

use crate::backends::tensorflow::session_config::{device, session_options};
use crate::backends::tensorflow::tensor::TfBatch;
use crate::engine::config::EngineConfig;
use crate::engine::info::{ModelInfo, SignatureInfo};
use crate::engine::tensor::{BatchTensor, Feed, TensorValue};
use crate::engine::{Model, ModelFormat, TensorSpec};
use crate::errors::{Result, SparkdlError};

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
    pub fn format(&self) -> ModelFormat {
        match self {
            ModelSource::GraphDef { .. } => ModelFormat::GraphDef,
            ModelSource::SavedModel { .. } => ModelFormat::SavedModel,
        }
    }
}

/// A graph and the session that runs it (for a SavedModel: with its restored
/// variables).
pub struct TfModel {
    // Declared before `graph`: the session is closed and deleted first.
    pub(crate) session: Session,
    pub(crate) graph: Graph,
    source: ModelSource,
    signatures: BTreeMap<String, SignatureInfo>,
}

impl std::fmt::Debug for TfModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TfModel").field("source", &self.source).finish_non_exhaustive()
    }
}

impl TfModel {
    /// Imports a serialised (frozen) GraphDef and opens a session on it.
    pub fn from_graph_def(bytes: &[u8], cfg: &EngineConfig) -> Result<TfModel> {
        crate::backends::tensorflow::library::require()?;
        if bytes.is_empty() {
            return Err(SparkdlError::InvalidArgument(
                "the GraphDef is empty (0 bytes); pass the bytes of a .pb file written by tf.io.write_graph \
                 or graph.as_graph_def().SerializeToString()"
                    .into(),
            ));
        }
        let mut graph = Graph::new();
        let mut options = ImportGraphDefOptions::new();
        if let Some(device) = &device(cfg) {
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
        let session = Session::new(&session_options(cfg)?, &graph).map_err(|e| {
            SparkdlError::Backend(format!("TensorFlow: could not create a session for the GraphDef: {e}"))
        })?;
        Ok(TfModel {
            session,
            graph,
            source: ModelSource::GraphDef { bytes: bytes.len() },
            signatures: BTreeMap::new(),
        })
    }

    /// Loads the SavedModel in folder `dir` with the MetaGraph tagged `tags`
    /// (usually `["serve"]`).
    pub fn from_saved_model(dir: &str, tags: &[String], cfg: &EngineConfig) -> Result<TfModel> {
        crate::backends::tensorflow::library::require()?;
        if !Path::new(dir).join("saved_model.pb").is_file() {
            return Err(SparkdlError::InvalidArgument(format!(
                "'{dir}' is not a SavedModel folder: it has no saved_model.pb. Pass the folder that \
                 tf.saved_model.save (or model.export) wrote"
            )));
        }
        let mut graph = Graph::new();
        let bundle = SavedModelBundle::load(&session_options(cfg)?, tags, &mut graph, dir).map_err(|e| {
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
        Ok(TfModel { session: bundle.session, graph, source, signatures })
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
}

impl Model for TfModel {
    fn format(&self) -> ModelFormat {
        self.source.format()
    }

    /// Every operation with its outputs' dtypes and shapes, and the signatures.
    fn describe(&self) -> ModelInfo {
        crate::backends::tensorflow::info::of_graph(&self.graph, self.source.format().name(), self.signatures.clone())
    }

    fn input(&self, name: &str) -> Result<TensorSpec> {
        self.spec(name, "feed")
    }

    fn output(&self, name: &str) -> Result<TensorSpec> {
        self.spec(name, "fetch")
    }

    fn batch_tensor(&self, dims: &[u64]) -> Result<Box<dyn BatchTensor>> {
        Ok(Box::new(TfBatch(tensorflow::Tensor::new(dims))))
    }

    fn run(&self, feeds: &[(&str, Feed<'_>)], fetches: &[&str]) -> Result<Vec<TensorValue>> {
        self.run_feeds(feeds, fetches, &[])
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::tensorflow::test_graphs;
    use crate::engine::config::GpuPlacement;

    #[test]
    fn graph_def_loads_and_describes_its_tensors() {
        let model = test_graphs::dense_model();
        let info = model.describe();
        assert_eq!(info.format, "graphdef");
        assert_eq!(info.inputs.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["x:0", "any:0", "xi:0"]);
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
        test_graphs::ensure_loaded();
        let err = TfModel::from_graph_def(b"", &EngineConfig::default()).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err =
            TfModel::from_graph_def(b"\x0a\xff\xff not a graph", &EngineConfig::default()).unwrap_err().to_string();
        assert!(err.contains("could not import the GraphDef"), "{err}");
    }

    #[test]
    fn missing_saved_model_folder_is_explained() {
        test_graphs::ensure_loaded();
        let err = TfModel::from_saved_model("/nonexistent/model", &["serve".to_string()], &EngineConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no saved_model.pb"), "{err}");
    }

    #[test]
    fn saved_model_keeps_its_variables_and_signatures() {
        let dir = test_graphs::write_saved_model("keeps_variables");
        let model = TfModel::from_saved_model(&dir, &["serve".to_string()], &EngineConfig::default()).unwrap();
        let sig = model.signature("predict").unwrap().clone();
        assert_eq!(sig.inputs.get("x").map(String::as_str), Some("x:0"));
        assert_eq!(sig.outputs.get("y").map(String::as_str), Some("y:0"));
        let info = model.describe();
        assert_eq!(info.format, "savedmodel");
        assert_eq!(info.signatures.get("predict"), Some(&sig));
        let err = model.signature("serving_default").unwrap_err().to_string();
        assert!(err.contains("it has: predict"), "{err}");
        // The variables were restored from the checkpoint, not re-initialised.
        let x = crate::engine::tensor::TensorValue::f32(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        let out = model.run_values(&[("x", x)], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), test_graphs::dense_expected(&[1.0, 2.0, 3.0]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_graph_def_is_placed_on_the_tasks_device() {
        // The GPU of a task (an index into the executor's visible GPUs), on a machine with none:
        // every node asks for it, and soft placement runs them on the CPU.
        let gpu = GpuPlacement { visible_devices: "0,1".into(), index: 1, ordinal: 1 };
        let cfg = EngineConfig { gpu: Some(gpu), ..EngineConfig::default() };
        let model = TfModel::from_graph_def(&test_graphs::dense_graph_def(), &cfg).unwrap();
        for name in ["x", "xw", "y"] {
            let op = model.graph().operation_by_name_required(name).unwrap();
            assert_eq!(op.device().unwrap(), "/device:GPU:1", "node {name}");
        }
        let x = crate::engine::tensor::TensorValue::f32(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        let out = model.run_values(&[("x", x)], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), test_graphs::dense_expected(&[1.0, 2.0, 3.0]));
        // Without a device, TensorFlow places the nodes.
        let free = test_graphs::dense_model();
        assert_eq!(free.graph().operation_by_name_required("y").unwrap().device().unwrap(), "");
    }
}
