//! Freezing a TF1-style graph: keep only what the requested outputs need, and
//! make every variable a `Const` holding its current value.
//!
//! - Kept: the outputs' operations and everything they reach through data and
//!   control inputs.
//! - `VariableV2`/`Variable` nodes become `Const`s with the value the session
//!   holds; so does a `ReadVariableOp` of a `VarHandleOp` (the handle itself
//!   is then dropped). A kept op that uses a resource variable any other way,
//!   or that assigns a variable, is an error naming it.
//! - Assigns, initialisers and savers the outputs do not need are dropped.
//! - The GraphDef's versions and function library are kept as they were.
//!   `_class` colocation attributes are removed (they may name dropped nodes).
//! - The result is checked by importing it into a new graph.
//!
//! TF2 SavedModels keep their variables inside functions
//! (`StatefulPartitionedCall`); they need no freezing: load them with
//! [`TfModel::from_saved_model`] and run them as they are.

use std::collections::{HashMap, HashSet, VecDeque};

use tensorflow::{Graph, ImportGraphDefOptions};

use crate::backends::tensorflow::graph_def::{GraphDef, NodeDef};
use crate::backends::tensorflow::model::{ModelSource, TfModel};
use crate::backends::tensorflow::names::{input_op, TensorName};
use crate::engine::names::did_you_mean;
use crate::engine::tensor::TensorValue;
use crate::errors::{Result, SparkdlError};

const VARIABLE_OPS: [&str; 3] = ["VariableV2", "Variable", "VarHandleOp"];

/// Ops that change variables: an output that depends on one cannot be frozen.
fn mutates_variables(op: &str) -> bool {
    ["Assign", "Scatter", "ResourceScatter", "Apply", "ResourceApply", "ResourceSparseApply", "SparseApply"]
        .iter()
        .any(|p| op.starts_with(p))
}

/// How a kept node ends up in the frozen graph.
enum Fate {
    Keep,
    /// Becomes a Const with the session's value of its output 0.
    Constant,
}

/// Strips `graph_def` to what `outputs` (`op` or `op:index`) need and
/// replaces variables by constants whose values `session_values(tensor name)`
/// provides; returns the serialised frozen GraphDef.
pub fn strip_and_freeze(
    graph_def: &[u8],
    session_values: impl Fn(&str) -> Result<TensorValue>,
    outputs: &[&str],
) -> Result<Vec<u8>> {
    if outputs.is_empty() {
        return Err(SparkdlError::InvalidArgument(
            "freeze: name at least one output tensor to keep (e.g. [\"predictions\"])".into(),
        ));
    }
    let mut graph = GraphDef::decode_bytes(graph_def)?;
    let index: HashMap<String, usize> = graph.node.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
    let op_of = |name: &str| index.get(name).map(|i| graph.node[*i].op.as_str());

    // Which kept nodes turn into constants.
    let fate = |node: &NodeDef| -> Fate {
        let reads_handle = node.op == "ReadVariableOp"
            && node.input.first().is_some_and(|i| op_of(input_op(i)) == Some("VarHandleOp"));
        if reads_handle || (VARIABLE_OPS.contains(&node.op.as_str()) && node.op != "VarHandleOp") {
            Fate::Constant
        } else {
            Fate::Keep
        }
    };

    // Walk back from the outputs; a node becoming a constant needs no inputs.
    let mut kept: HashSet<usize> = HashSet::new();
    let mut reached_from: HashMap<usize, String> = HashMap::new();
    for out in outputs {
        let t = TensorName::parse(out).map_err(|e| SparkdlError::InvalidArgument(format!("freeze: output {e}")))?;
        let start = *index.get(&t.op).ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "freeze: the graph has no operation '{}' (requested output '{out}').{}",
                t.op,
                did_you_mean(&t.op, graph.node.iter().map(|n| n.name.as_str()))
            ))
        })?;
        let mut queue = VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            if !kept.insert(i) {
                continue;
            }
            reached_from.entry(i).or_insert_with(|| out.to_string());
            let node = &graph.node[i];
            if let Fate::Constant = fate(node) {
                continue;
            }
            for input in &node.input {
                let name = input_op(input);
                let j = *index.get(name).ok_or_else(|| {
                    SparkdlError::InvalidArgument(format!(
                        "freeze: node '{}' has input '{input}', which is not in the graph; the GraphDef is incomplete",
                        node.name
                    ))
                })?;
                queue.push_back(j);
            }
        }
    }

    // Check everything the outputs need before reading any value.
    for (i, node) in graph.node.iter().enumerate().filter(|(i, _)| kept.contains(i)) {
        let output = reached_from.get(&i).map(String::as_str).unwrap_or("?");
        if node.op == "VarHandleOp" {
            return Err(SparkdlError::InvalidArgument(format!(
                "freeze: output '{output}' uses resource variable '{}' other than through ReadVariableOp \
                 (e.g. in a function call or a ResourceGather), which cannot be made a constant. For a TF2 \
                 SavedModel, run the SavedModel itself: it needs no freezing",
                node.name
            )));
        }
        if mutates_variables(&node.op) {
            return Err(SparkdlError::InvalidArgument(format!(
                "freeze: output '{output}' depends on '{}' ({}), which changes a variable; freeze the inference \
                 outputs only, not training or initialisation ops",
                node.name, node.op
            )));
        }
    }
    // The frozen nodes, in graph order.
    let mut nodes = Vec::with_capacity(kept.len());
    for (_, node) in graph.node.iter().enumerate().filter(|(i, _)| kept.contains(i)) {
        match fate(node) {
            Fate::Constant => {
                let value = session_values(&format!("{}:0", node.name)).map_err(|e| {
                    SparkdlError::InvalidArgument(format!(
                        "freeze: could not read the value of variable '{}' from the session (was it initialised \
                         or restored?): {e}",
                        node.name
                    ))
                })?;
                nodes.push(NodeDef::constant(&node.name, &value));
            }
            Fate::Keep => {
                let mut n = node.clone();
                n.attr.remove("_class");
                nodes.push(n);
            }
        }
    }
    graph.node = nodes;
    let bytes = graph.to_bytes();

    let mut check = Graph::new();
    check
        .import_graph_def(&bytes, &ImportGraphDefOptions::new())
        .map_err(|e| SparkdlError::InvalidArgument(format!("freeze: the frozen graph does not import: {e}")))?;
    Ok(bytes)
}

/// Freezes a loaded TF1 graph (a GraphDef with variables, or a TF1
/// SavedModel) to `outputs`, reading variable values from its session.
///
/// A GraphDef carries no variable values, only initialisers: a variable the
/// session has not initialised yet is first given its initial value by running
/// its initialiser (`<variable>/Assign`, as TF1 names it, or the one assign of
/// that variable), so a graph freezes to the values it was built with.
pub fn freeze_loaded(model: &TfModel, outputs: &[&str]) -> Result<Vec<u8>> {
    let graph_def = model
        .graph()
        .graph_def()
        .map_err(|e| SparkdlError::Backend(format!("TensorFlow: serialising the model's graph: {e}")))?;
    let from_graph_def = matches!(model.source(), ModelSource::GraphDef { .. });
    let nodes = if from_graph_def { GraphDef::decode_bytes(&graph_def)?.node } else { Vec::new() };
    let read = |tensor: &str| -> Result<TensorValue> {
        model
            .run_values(&[], &[tensor])?
            .pop()
            .ok_or_else(|| SparkdlError::Internal(format!("no value for '{tensor}'")))
    };
    strip_and_freeze(
        &graph_def,
        |tensor| match read(tensor) {
            Err(first) if from_graph_def => match initialiser_of(&nodes, tensor) {
                Some(init) => {
                    model.run_with_targets(&[], &[], &[init])?;
                    read(tensor)
                }
                None => Err(first),
            },
            other => other,
        },
        outputs,
    )
}

/// The op that initialises the variable behind `tensor` (a variable's output,
/// or a `ReadVariableOp` of a resource variable), if the graph has one.
fn initialiser_of<'a>(nodes: &'a [NodeDef], tensor: &str) -> Option<&'a str> {
    let by_name = |name: &str| nodes.iter().find(|n| n.name == name);
    let mut var = by_name(input_op(tensor))?;
    if var.op == "ReadVariableOp" {
        var = by_name(input_op(var.input.first()?))?;
    }
    if !VARIABLE_OPS.contains(&var.op.as_str()) {
        return None;
    }
    let assigns: Vec<&NodeDef> = nodes
        .iter()
        .filter(|n| {
            (n.op == "Assign" || n.op == "AssignVariableOp")
                && n.input.first().map(|i| input_op(i)) == Some(var.name.as_str())
        })
        .collect();
    let conventional = format!("{}/Assign", var.name);
    assigns
        .iter()
        .find(|n| n.name == conventional)
        .or(if assigns.len() == 1 { assigns.first() } else { None })
        .map(|n| n.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::tensorflow::test_graphs::{
        dense_expected, resource_graph_def, variable_graph_def, write_saved_model,
    };
    use crate::engine::config::EngineConfig;

    fn cfg() -> EngineConfig {
        EngineConfig::default()
    }

    fn initialised(graph_def: &[u8]) -> TfModel {
        let m = TfModel::from_graph_def(graph_def, &cfg()).unwrap();
        m.run_with_targets(&[], &[], &["init"]).unwrap();
        m
    }

    fn check_frozen(frozen: &[u8]) {
        let g = GraphDef::decode_bytes(frozen).unwrap();
        for n in &g.node {
            assert!(
                !VARIABLE_OPS.contains(&n.op.as_str()) && !n.op.starts_with("Assign") && n.op != "ReadVariableOp",
                "{} ({}) left in the frozen graph",
                n.name,
                n.op
            );
        }
        let names: HashSet<&str> = g.node.iter().map(|n| n.name.as_str()).collect();
        assert!(!names.contains("init") && !names.contains("train") && !names.contains("step"), "{names:?}");
        assert!(!names.contains("yi"), "outputs not asked for are dropped");
        assert!(g.versions.is_some(), "versions are kept");
        // A new graph and session, no initialiser run.
        let m = TfModel::from_graph_def(frozen, &cfg()).unwrap();
        let x = TensorValue::f32(&[2, 3], vec![1.0, 2.0, 3.0, 0.5, -1.0, 4.0]).unwrap();
        let y = m.run_values(&[("x", x)], &["y"]).unwrap();
        let mut expected = dense_expected(&[1.0, 2.0, 3.0]);
        expected.extend(dense_expected(&[0.5, -1.0, 4.0]));
        assert_eq!(y[0].to_f64_vec(), expected);
    }

    #[test]
    fn variables_become_constants() {
        let m = initialised(&variable_graph_def());
        check_frozen(&freeze_loaded(&m, &["y"]).unwrap());
    }

    #[test]
    fn resource_variables_become_constants() {
        let m = initialised(&resource_graph_def());
        let frozen = freeze_loaded(&m, &["y:0"]).unwrap();
        check_frozen(&frozen);
        let g = GraphDef::decode_bytes(&frozen).unwrap();
        assert!(g.node.iter().any(|n| n.name == "W/Read" && n.op == "Const"));
    }

    #[test]
    fn tf1_saved_model_freezes_from_its_restored_variables() {
        let dir = write_saved_model("freeze");
        let m = TfModel::from_saved_model(&dir, &["serve".to_string()], &cfg()).unwrap();
        check_frozen(&freeze_loaded(&m, &["y"]).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_requests_are_explained() {
        let m = initialised(&variable_graph_def());
        let err = freeze_loaded(&m, &["yy"]).unwrap_err().to_string();
        assert!(err.contains("no operation 'yy'") && err.contains("Did you mean: y"), "{err}");
        let err = freeze_loaded(&m, &["train"]).unwrap_err().to_string();
        assert!(err.contains("'train' (AssignAdd), which changes a variable"), "{err}");
        let err = freeze_loaded(&m, &[]).unwrap_err().to_string();
        assert!(err.contains("at least one output"), "{err}");
    }

    #[test]
    fn a_graph_def_freezes_to_its_initial_values() {
        for graph_def in [variable_graph_def(), resource_graph_def()] {
            let uninitialised = TfModel::from_graph_def(&graph_def, &cfg()).unwrap();
            check_frozen(&freeze_loaded(&uninitialised, &["y"]).unwrap());
        }
        // A variable without an initialiser cannot be read: the error says so.
        let mut g = GraphDef::decode_bytes(&variable_graph_def()).unwrap();
        g.node.retain(|n| n.name != "W/Assign" && n.name != "init");
        let m = TfModel::from_graph_def(&g.to_bytes(), &cfg()).unwrap();
        let err = freeze_loaded(&m, &["y"]).unwrap_err().to_string();
        assert!(err.contains("could not read the value of variable 'W'"), "{err}");
    }
}
