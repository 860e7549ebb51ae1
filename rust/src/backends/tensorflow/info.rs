//! A TensorFlow graph described for the driver ([`ModelInfo`]): every
//! operation with its outputs' dtypes and shapes, the placeholders as the
//! inputs, and a SavedModel's signatures.

use std::collections::BTreeMap;

use tensorflow::{Graph, Operation, Output};

use crate::backends::tensorflow::dtype::type_name;
use crate::backends::tensorflow::op_def::OutputTypes;
use crate::engine::info::{ModelInfo, OpInfo, SignatureInfo, TensorInfo};

/// Every operation of `graph`, in graph order.
pub(crate) fn of_graph(graph: &Graph, format: &str, signatures: BTreeMap<String, SignatureInfo>) -> ModelInfo {
    let mut types = OutputTypes::new(graph);
    let operations: Vec<OpInfo> = graph.operation_iter().map(|op| op_info(graph, &mut types, &op)).collect();
    let inputs = operations
        .iter()
        .filter(|o| o.op_type == "Placeholder" || o.op_type == "PlaceholderWithDefault")
        .flat_map(|o| o.outputs.iter().cloned())
        .collect();
    ModelInfo { format: format.to_string(), inputs, outputs: Vec::new(), operations, signatures }
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
        dim_names: Vec::new(),
    }
}

/// The static shape TensorFlow inferred for output `index` of `op`.
pub(crate) fn known_shape(graph: &Graph, op: &Operation, index: usize) -> Option<Vec<i64>> {
    let output = Output { operation: op.clone(), index: index as i32 };
    let shape = graph.tensor_shape(output).ok()?;
    let rank = shape.dims()?;
    Some((0..rank).map(|i| shape[i].unwrap_or(-1)).collect())
}
