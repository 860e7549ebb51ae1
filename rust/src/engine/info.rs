//! What a loaded model holds, as the JVM reads it on the driver to check
//! tensor names, dtypes and shapes before a job runs, whatever the backend.
//!
//! JSON (`serde_json::to_string(&model.describe())`):
//! ```json
//! {"format": "onnx",
//!  "inputs": [{"name": "input", "dtype": "float32", "shape": [-1, 3, -1, -1],
//!              "dimNames": ["batch", "", "height", "width"]}],
//!  "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 1000]}],
//!  "operations": [],
//!  "signatures": {}}
//! ```
//! `dtype` is the backend's own name for the type (`float32`, `string`,
//! `resource`, ...: types sparkdl cannot move are listed too, so messages can
//! name them). `shape` is `null` when even the rank is unknown; `-1` marks an
//! unknown dimension, and `dimNames` (ONNX) the symbolic names, empty where a
//! dimension has none. A TensorFlow graph declares no outputs: any tensor of
//! its `operations` can be fetched, and `inputs` are its placeholders;
//! `signatures` are a SavedModel's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// The model's format: "graphdef", "savedmodel" or "onnx".
    pub format: String,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    /// TensorFlow: every operation, in graph order.
    pub operations: Vec<OpInfo>,
    /// TensorFlow SavedModels: each signature's argument names to tensor names.
    pub signatures: BTreeMap<String, SignatureInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub op_type: String,
    pub outputs: Vec<TensorInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TensorInfo {
    /// The name the run spec uses (TensorFlow: `op:index`).
    pub name: String,
    pub dtype: String,
    /// Dims, -1 where unknown; `None` when the rank is unknown.
    pub shape: Option<Vec<i64>>,
    /// Symbolic names of the dims (ONNX), "" where a dim has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dim_names: Vec<String>,
}

/// A SavedModel signature: its argument names to tensor names (`op:index`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SignatureInfo {
    pub inputs: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

impl ModelInfo {
    /// The operation named `name`.
    pub fn operation(&self, name: &str) -> Option<&OpInfo> {
        self.operations.iter().find(|o| o.name == name)
    }
}

/// `[2, -1]` as "(2, ?)"; `None` as "<unknown rank>".
pub fn shape_text(shape: Option<&[i64]>) -> String {
    match shape {
        None => "<unknown rank>".to_string(),
        Some(dims) => {
            let parts: Vec<String> = dims.iter().map(|d| if *d < 0 { "?".into() } else { d.to_string() }).collect();
            if parts.len() == 1 {
                format!("({},)", parts[0])
            } else {
                format!("({})", parts.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_read_like_python() {
        assert_eq!(shape_text(Some(&[-1, 3])), "(?, 3)");
        assert_eq!(shape_text(Some(&[5])), "(5,)");
        assert_eq!(shape_text(Some(&[])), "()");
        assert_eq!(shape_text(None), "<unknown rank>");
    }

    #[test]
    fn json_has_the_documented_keys() {
        let x = TensorInfo { name: "x:0".into(), dtype: "float32".into(), shape: Some(vec![-1, 3]), dim_names: vec![] };
        let info = ModelInfo {
            format: "graphdef".into(),
            inputs: vec![x.clone()],
            outputs: vec![],
            operations: vec![OpInfo { name: "x".into(), op_type: "Placeholder".into(), outputs: vec![x] }],
            signatures: BTreeMap::new(),
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"format":"graphdef","inputs":[{"name":"x:0","dtype":"float32","shape":[-1,3]}],"outputs":[],"operations":[{"name":"x","type":"Placeholder","outputs":[{"name":"x:0","dtype":"float32","shape":[-1,3]}]}],"signatures":{}}"#
        );
        let onnx = TensorInfo {
            name: "input".into(),
            dtype: "float32".into(),
            shape: Some(vec![-1, 3]),
            dim_names: vec!["batch".into(), String::new()],
        };
        assert_eq!(
            serde_json::to_string(&onnx).unwrap(),
            r#"{"name":"input","dtype":"float32","shape":[-1,3],"dimNames":["batch",""]}"#
        );
    }
}
