//! Output types that are safe to ask for, reference types included.
//!
//! `Operation::output_type` goes through `TF_OperationOutputType`, whose
//! result the bindings read as a Rust enum; a reference type (a
//! `VariableV2`'s `float32_ref`, code 101) is no valid value of it, and the
//! crate then returns a wrong type. So for an op whose `OpDef` declares a
//! reference output we work the type out from the `OpDef` and the node's
//! attributes, and mark it as reference (code + 100, as TensorFlow does).

use std::collections::HashMap;

use prost::Message;
use tensorflow::{DataType, Graph, Operation};

use crate::backends::tensorflow::dtype::{as_ref_type, from_code};

/// The parts of `tensorflow.OpDef` we read.
#[derive(Clone, PartialEq, Message)]
struct OpDef {
    #[prost(message, repeated, tag = "3")]
    output_arg: Vec<ArgDef>,
}

/// The parts of `tensorflow.OpDef.ArgDef` we read.
#[derive(Clone, PartialEq, Message)]
struct ArgDef {
    #[prost(int32, tag = "3")]
    r#type: i32,
    #[prost(string, tag = "4")]
    type_attr: String,
    #[prost(string, tag = "5")]
    number_attr: String,
    #[prost(string, tag = "6")]
    type_list_attr: String,
    #[prost(bool, tag = "16")]
    is_ref: bool,
}

/// Output types of a graph's operations, with the OpDefs read once per op type.
pub(crate) struct OutputTypes<'g> {
    graph: &'g Graph,
    /// Per op type: its output args when one of them is a reference, else None.
    defs: HashMap<String, Option<Vec<ArgDef>>>,
}

/// Stands for a type that could not be worked out.
const UNKNOWN: DataType = DataType::UnrecognizedEnumValue(0);

impl<'g> OutputTypes<'g> {
    pub(crate) fn new(graph: &'g Graph) -> Self {
        OutputTypes { graph, defs: HashMap::new() }
    }

    /// The type of output `index` of `op`; reference types as code + 100.
    pub(crate) fn of(&mut self, op: &Operation, index: usize) -> DataType {
        let op_type = op.op_type().unwrap_or_default();
        let graph = self.graph;
        let args = self.defs.entry(op_type.clone()).or_insert_with(|| {
            let def = graph.get_op_def(&op_type).ok().and_then(|b| OpDef::decode(b.as_slice()).ok())?;
            def.output_arg.iter().any(|a| a.is_ref).then_some(def.output_arg)
        });
        match args {
            None => op.output_type(index),
            Some(args) => ref_aware_type(op, args, index).unwrap_or(UNKNOWN),
        }
    }
}

/// The type of output `index` of `op` (one-off; see [`OutputTypes`]).
pub(crate) fn output_type(graph: &Graph, op: &Operation, index: usize) -> DataType {
    OutputTypes::new(graph).of(op, index)
}

fn ref_aware_type(op: &Operation, args: &[ArgDef], index: usize) -> Option<DataType> {
    let mut start = 0usize;
    for arg in args {
        let list =
            if arg.type_list_attr.is_empty() { None } else { Some(op.get_attr_type_list(&arg.type_list_attr).ok()?) };
        let count = if !arg.number_attr.is_empty() {
            usize::try_from(op.get_attr_int(&arg.number_attr).ok()?).ok()?
        } else if let Some(l) = &list {
            l.len()
        } else {
            1
        };
        if index < start + count {
            let base = if arg.r#type != 0 {
                from_code(u32::try_from(arg.r#type).ok()?)
            } else if !arg.type_attr.is_empty() {
                op.get_attr_type(&arg.type_attr).ok()?
            } else {
                *list?.get(index - start)?
            };
            return Some(if arg.is_ref { as_ref_type(base) } else { base });
        }
        start += count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::tensorflow::dtype::type_name;
    use crate::backends::tensorflow::test_graphs::variable_graph_def;
    use tensorflow::ImportGraphDefOptions;

    #[test]
    fn variables_are_reference_types() {
        crate::backends::tensorflow::test_graphs::ensure_loaded();
        let mut g = Graph::new();
        g.import_graph_def(&variable_graph_def(), &ImportGraphDefOptions::new()).unwrap();
        let mut types = OutputTypes::new(&g);
        let name = |types: &mut OutputTypes, op: &str| {
            let op = g.operation_by_name_required(op).unwrap();
            type_name(types.of(&op, 0))
        };
        assert_eq!(name(&mut types, "W"), "float32_ref");
        assert_eq!(name(&mut types, "W/Assign"), "float32_ref");
        assert_eq!(name(&mut types, "W/read"), "float32");
        assert_eq!(name(&mut types, "y"), "float32");
        assert_eq!(name(&mut types, "xi"), "int32");
    }
}
