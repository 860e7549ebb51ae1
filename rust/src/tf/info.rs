//! What a loaded model holds, as the JVM reads it on the driver to check
//! tensor names, dtypes and shapes before a job runs.
//!
//! JSON (`serde_json::to_string(&model.describe())`):
//! ```json
//! {"format": "graphdef",
//!  "operations": [{"name": "x", "type": "Placeholder",
//!                  "outputs": [{"name": "x:0", "dtype": "float32", "shape": [-1, 3]}]}],
//!  "signatures": {"serving_default": {"inputs": {"x": "serving_default_x:0"},
//!                                     "outputs": {"y": "StatefulPartitionedCall:0"}}}}
//! ```
//! `shape` is `null` when even the rank is unknown; `-1` marks an unknown
//! dimension. `signatures` is empty for a GraphDef.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tensorflow::{Graph, Operation, Output};

use crate::tf::dtype::type_name;
use crate::tf::op_def::OutputTypes;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// "graphdef" or "savedmodel" (the JVM's `TFModel.format`).
    pub format: String,
    pub operations: Vec<OpInfo>,
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
pub struct TensorInfo {
    /// `op:index`.
    pub name: String,
    /// Python's name for the type: "float32", "int64", "resource", "float32_ref", ...
    pub dtype: String,
    /// Dims, -1 where unknown; `None` when the rank is unknown.
    pub shape: Option<Vec<i64>>,
}

/// A SavedModel signature: its argument names to tensor names (`op:index`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SignatureInfo {
    pub inputs: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
}

impl ModelInfo {
    /// Every operation of `graph`, in graph order.
    pub(crate) fn of_graph(graph: &Graph, format: &str, signatures: BTreeMap<String, SignatureInfo>) -> ModelInfo {
        let mut types = OutputTypes::new(graph);
        let operations = graph.operation_iter().map(|op| op_info(graph, &mut types, &op)).collect();
        ModelInfo { format: format.to_string(), operations, signatures }
    }

    /// The operation named `name`.
    pub fn operation(&self, name: &str) -> Option<&OpInfo> {
        self.operations.iter().find(|o| o.name == name)
    }

    /// The operations of type `Placeholder`: a GraphDef's inputs.
    pub fn placeholders(&self) -> impl Iterator<Item = &OpInfo> {
        self.operations.iter().filter(|o| o.op_type == "Placeholder" || o.op_type == "PlaceholderWithDefault")
    }
}

fn op_info(graph: &Graph, types: &mut OutputTypes, op: &Operation) -> OpInfo {
    let name = op.name().unwrap_or_default();
    let outputs = (0..op.num_outputs()).map(|i| tensor_info(graph, types, op, &name, i)).collect();
    OpInfo { op_type: op.op_type().unwrap_or_default(), name, outputs }
}

pub(crate) fn tensor_info(
    graph: &Graph,
    types: &mut OutputTypes,
    op: &Operation,
    op_name: &str,
    index: usize,
) -> TensorInfo {
    TensorInfo {
        name: format!("{op_name}:{index}"),
        dtype: type_name(types.of(op, index)),
        shape: known_shape(graph, op, index),
    }
}

/// The static shape TensorFlow inferred for output `index` of `op`.
pub(crate) fn known_shape(graph: &Graph, op: &Operation, index: usize) -> Option<Vec<i64>> {
    let output = Output { operation: op.clone(), index: index as i32 };
    let shape = graph.tensor_shape(output).ok()?;
    let rank = shape.dims()?;
    Some((0..rank).map(|i| shape[i].unwrap_or(-1)).collect())
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
        let info = ModelInfo {
            format: "graphdef".into(),
            operations: vec![OpInfo {
                name: "x".into(),
                op_type: "Placeholder".into(),
                outputs: vec![TensorInfo { name: "x:0".into(), dtype: "float32".into(), shape: Some(vec![-1, 3]) }],
            }],
            signatures: BTreeMap::new(),
        };
        let json = serde_json::to_string(&info).unwrap();
        assert_eq!(
            json,
            r#"{"format":"graphdef","operations":[{"name":"x","type":"Placeholder","outputs":[{"name":"x:0","dtype":"float32","shape":[-1,3]}]}],"signatures":{}}"#
        );
        assert_eq!(info.placeholders().count(), 1);
    }
}
