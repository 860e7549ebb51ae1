//! Which files an ONNX model's external data is in, and whether such a name
//! is safe to open.

use std::collections::HashSet;

use prost::Message;

use super::{not_a_model, StringStringEntryProto, DATA_LOCATION_EXTERNAL};
use crate::errors::{Result, SparkdlError};

// Listing external data decodes into these instead of the messages of the
// parent module:
// they declare only the fields that can hold a tensor, so prost skips every
// inline weight (`raw_data`, `float_data`, ...) instead of copying it.

#[derive(Clone, PartialEq, Message)]
struct ModelTensors {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphTensors>,
    #[prost(message, repeated, tag = "20")]
    training_info: Vec<TrainingInfoTensors>,
    #[prost(message, repeated, tag = "25")]
    functions: Vec<FunctionTensors>,
}

/// `onnx.TrainingInfoProto`.
#[derive(Clone, PartialEq, Message)]
struct TrainingInfoTensors {
    #[prost(message, optional, tag = "1")]
    initialization: Option<GraphTensors>,
    #[prost(message, optional, tag = "2")]
    algorithm: Option<GraphTensors>,
}

/// `onnx.FunctionProto`: its nodes, and its attributes' default values.
#[derive(Clone, PartialEq, Message)]
struct FunctionTensors {
    #[prost(message, repeated, tag = "7")]
    node: Vec<NodeTensors>,
    #[prost(message, repeated, tag = "11")]
    attribute_proto: Vec<AttributeTensors>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphTensors {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeTensors>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorLocation>,
    #[prost(message, repeated, tag = "15")]
    sparse_initializer: Vec<SparseTensorLocation>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeTensors {
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeTensors>,
}

/// The tensors of an attribute: a `Constant`'s value, or the initializers
/// of the subgraphs of `If`, `Loop`, `Scan`, ...
#[derive(Clone, PartialEq, Message)]
struct AttributeTensors {
    #[prost(message, optional, tag = "5")]
    t: Option<TensorLocation>,
    #[prost(message, optional, tag = "6")]
    g: Option<GraphTensors>,
    #[prost(message, repeated, tag = "10")]
    tensors: Vec<TensorLocation>,
    #[prost(message, repeated, tag = "11")]
    graphs: Vec<GraphTensors>,
    #[prost(message, optional, tag = "22")]
    sparse_tensor: Option<SparseTensorLocation>,
    #[prost(message, repeated, tag = "23")]
    sparse_tensors: Vec<SparseTensorLocation>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorLocation {
    #[prost(string, tag = "8")]
    name: String,
    #[prost(message, repeated, tag = "13")]
    external_data: Vec<StringStringEntryProto>,
    #[prost(int32, optional, tag = "14")]
    data_location: Option<i32>,
}

/// `onnx.SparseTensorProto`.
#[derive(Clone, PartialEq, Message)]
struct SparseTensorLocation {
    #[prost(message, optional, tag = "1")]
    values: Option<TensorLocation>,
    #[prost(message, optional, tag = "2")]
    indices: Option<TensorLocation>,
}

/// The `location` of every tensor of the serialised ModelProto `model_bytes`
/// whose data is EXTERNAL, in the order they appear, each once: the
/// initializers of the main graph and of every subgraph (node attributes `g`
/// and `graphs`, as `If`, `Loop` and `Scan` have), and also tensors held by
/// attributes (`Constant`), sparse initializers, functions and training
/// graphs, since ONNX Runtime opens those files too.
///
/// The names are returned as written; check each one with
/// [`check_external_location`] before opening anything. Fails when the bytes
/// are not a ModelProto or an external tensor names no location.
pub fn external_data_locations(model_bytes: &[u8]) -> Result<Vec<String>> {
    let model = ModelTensors::decode(model_bytes).map_err(|e| not_a_model(model_bytes, e))?;
    let mut found = Locations::default();
    if let Some(graph) = &model.graph {
        found.graph(graph)?;
    }
    for info in &model.training_info {
        for graph in info.initialization.iter().chain(&info.algorithm) {
            found.graph(graph)?;
        }
    }
    for function in &model.functions {
        found.nodes(&function.node)?;
        for attribute in &function.attribute_proto {
            found.attribute(attribute)?;
        }
    }
    Ok(found.locations)
}

#[derive(Default)]
struct Locations {
    locations: Vec<String>,
    seen: HashSet<String>,
}

impl Locations {
    // Recursion is bounded: prost refuses messages nested more than 100 deep.
    fn graph(&mut self, graph: &GraphTensors) -> Result<()> {
        for tensor in &graph.initializer {
            self.tensor(tensor)?;
        }
        for sparse in &graph.sparse_initializer {
            self.sparse(sparse)?;
        }
        self.nodes(&graph.node)
    }

    fn nodes(&mut self, nodes: &[NodeTensors]) -> Result<()> {
        for attribute in nodes.iter().flat_map(|n| &n.attribute) {
            self.attribute(attribute)?;
        }
        Ok(())
    }

    fn attribute(&mut self, attribute: &AttributeTensors) -> Result<()> {
        for tensor in attribute.t.iter().chain(&attribute.tensors) {
            self.tensor(tensor)?;
        }
        for sparse in attribute.sparse_tensor.iter().chain(&attribute.sparse_tensors) {
            self.sparse(sparse)?;
        }
        for graph in attribute.g.iter().chain(&attribute.graphs) {
            self.graph(graph)?;
        }
        Ok(())
    }

    fn sparse(&mut self, sparse: &SparseTensorLocation) -> Result<()> {
        for tensor in sparse.values.iter().chain(&sparse.indices) {
            self.tensor(tensor)?;
        }
        Ok(())
    }

    fn tensor(&mut self, tensor: &TensorLocation) -> Result<()> {
        if tensor.data_location != Some(DATA_LOCATION_EXTERNAL) {
            return Ok(());
        }
        let location = tensor.external_data.iter().find(|e| e.key == "location").ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "ONNX tensor '{}' keeps its data in an external file but does not say which (no 'location' in its \
                 external_data)",
                tensor.name
            ))
        })?;
        if self.seen.insert(location.value.clone()) {
            self.locations.push(location.value.clone());
        }
        Ok(())
    }
}

/// Accepts `location`, an external-data file name read from an ONNX model,
/// only if it is a relative path that stays inside the model's folder
/// (`weights.bin`, `weights/part1.bin`). Refused, with
/// `SparkdlError::InvalidArgument` naming it: empty names, NUL bytes,
/// absolute paths, Windows drive prefixes (`C:`), any `..` component, and
/// names that end in a separator. `\` counts as a separator, as it does on
/// Windows, so `..\x` is refused too.
///
/// ```
/// use sparkdl::backends::onnx::proto::check_external_location;
///
/// assert!(check_external_location("weights/part1.bin").is_ok());
/// assert!(check_external_location("../secret.bin").is_err());
/// ```
pub fn check_external_location(location: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(SparkdlError::InvalidArgument(format!(
            "ONNX external data location '{}' is refused: {why}; external data must be a relative path inside the \
             model's folder, such as 'weights/part1.bin'",
            location.escape_debug()
        )))
    };
    let is_separator = |c: char| c == '/' || c == '\\';
    if location.is_empty() {
        return refuse("it is empty");
    }
    if location.contains('\0') {
        return refuse("it contains a NUL byte");
    }
    if location.starts_with(is_separator) {
        return refuse("it is an absolute path");
    }
    let bytes = location.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return refuse("it starts with a Windows drive");
    }
    if location.split(is_separator).any(|part| part == "..") {
        return refuse("it has a '..' component");
    }
    if location.ends_with(is_separator) || location.rsplit(is_separator).next() == Some(".") {
        return refuse("it names a folder, not a file");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, model, node_with};
    use super::super::*;
    use super::*;

    fn external(name: &str, location: &str) -> TensorProto {
        let entry = |key: &str, value: &str| StringStringEntryProto { key: key.into(), value: value.into() };
        TensorProto {
            dims: vec![2],
            data_type: data_type::FLOAT,
            name: name.into(),
            external_data: vec![entry("offset", "0"), entry("location", location), entry("length", "8")],
            data_location: Some(DATA_LOCATION_EXTERNAL),
            ..Default::default()
        }
    }

    /// A model with external weights in the main graph, in an `If`'s two
    /// branches (`g` attributes) and in a `Loop`-like `graphs` list, one
    /// file used twice, plus inline weights that are not listed.
    fn model_with_external_data() -> Vec<u8> {
        let then_branch = graph("then", vec![external("t", "branches/then.bin")], vec![]);
        let inner = graph("inner", vec![external("i", "main.bin")], vec![]);
        let else_branch = graph(
            "else",
            vec![external("e", "branches/else.bin")],
            vec![node_with(AttributeProto {
                name: "body".into(),
                r#type: attribute_type::GRAPHS,
                graphs: vec![inner],
                ..Default::default()
            })],
        );
        let attr = |name: &str, g: GraphProto| AttributeProto {
            name: name.into(),
            r#type: attribute_type::GRAPH,
            g: Some(g),
            ..Default::default()
        };
        let mut node = node_with(attr("then_branch", then_branch));
        node.attribute.push(attr("else_branch", else_branch));
        let inline = TensorProto::float("inline", &[2], &[1.0, 2.0]);
        model(graph("main", vec![external("a", "main.bin"), inline, external("b", "weights/part1.bin")], vec![node]))
    }

    #[test]
    fn lists_external_files_in_order_once_each() {
        let locations = external_data_locations(&model_with_external_data()).unwrap();
        assert_eq!(locations, ["main.bin", "weights/part1.bin", "branches/then.bin", "branches/else.bin"]);
        for location in &locations {
            check_external_location(location).unwrap();
        }
    }

    #[test]
    fn constants_sparse_and_function_tensors_are_listed_too() {
        let constant = AttributeProto {
            name: "value".into(),
            r#type: attribute_type::TENSOR,
            t: Some(external("c", "constant.bin")),
            ..Default::default()
        };
        let mut bytes = model(graph("main", vec![], vec![node_with(constant)]));
        // sparse_initializer (15) of the graph is not a field of GraphProto here:
        // append a second graph (7) holding one; protobuf merges the two.
        let sparse = SparseTensorLocation { values: Some(tensor_location("sparse.bin")), indices: None };
        let extra = ModelTensors {
            graph: Some(GraphTensors { sparse_initializer: vec![sparse], ..Default::default() }),
            functions: vec![FunctionTensors {
                node: vec![NodeTensors {
                    attribute: vec![AttributeTensors {
                        tensors: vec![tensor_location("function.bin")],
                        ..Default::default()
                    }],
                }],
                attribute_proto: vec![],
            }],
            ..Default::default()
        };
        bytes.extend(extra.encode_to_vec());
        assert_eq!(external_data_locations(&bytes).unwrap(), ["sparse.bin", "constant.bin", "function.bin"]);
    }

    fn tensor_location(location: &str) -> TensorLocation {
        TensorLocation {
            name: location.into(),
            external_data: vec![StringStringEntryProto { key: "location".into(), value: location.into() }],
            data_location: Some(DATA_LOCATION_EXTERNAL),
        }
    }

    #[test]
    fn models_without_external_data_list_nothing() {
        let inline = TensorProto::float("w", &[1], &[3.0]);
        assert!(external_data_locations(&model(graph("g", vec![inline], vec![]))).unwrap().is_empty());
        assert!(external_data_locations(&[]).unwrap().is_empty());
    }

    #[test]
    fn an_external_tensor_without_location_is_an_error() {
        let mut tensor = external("w", "x.bin");
        tensor.external_data.retain(|e| e.key != "location");
        let err = external_data_locations(&model(graph("g", vec![tensor], vec![]))).unwrap_err();
        assert!(matches!(err, SparkdlError::InvalidArgument(_)));
        assert!(err.to_string().contains("ONNX tensor 'w'") && err.to_string().contains("no 'location'"), "{err}");
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        let bytes = model_with_external_data();
        // Every truncation of a valid model: an error or a (shorter) list, never a panic.
        let mut errors = 0;
        for len in 0..bytes.len() {
            match external_data_locations(&bytes[..len]) {
                Err(e) => {
                    assert!(e.to_string().contains("not a serialised ONNX ModelProto"), "{e}");
                    errors += 1;
                }
                Ok(locations) => assert!(locations.len() <= 4),
            }
            let _ = ModelProto::decode_bytes(&bytes[..len]);
        }
        assert!(errors > bytes.len() / 2, "{errors} of {} truncations failed", bytes.len());
        // A length prefix running past the end, a bad wire type, invalid UTF-8 in a location.
        for bad in [&b"\x3a\xff\xff\xff\x0f"[..], b"\x3f", b"\x3a\x0a\x2a\x08\x6a\x06\x0a\x01x\x12\x01\xff"] {
            let err = external_data_locations(bad).unwrap_err().to_string();
            assert!(err.contains("not a serialised ONNX ModelProto"), "{err}");
            assert!(ModelProto::decode_bytes(bad).is_err());
        }
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let mut graph = graph("g", vec![external("w", "w.bin")], vec![]);
        graph.output.push(ValueInfoProto::tensor("y", data_type::FLOAT, vec![Dimension::param("batch")]));
        let mut bytes = model(graph);
        // Fields ModelProto does not declare here: 25 (functions, an empty
        // message), 1000 (a varint), 100 (a fixed64), 101 (a fixed32).
        bytes.extend([0xca, 0x01, 0x00, 0xc0, 0x3e, 0x05, 0xa1, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 0xad, 0x06, 1, 2, 3, 4]);
        // The graph again (merged into the first) with its doc_string (10), undeclared too.
        bytes.extend([0x3a, 0x03, 0x52, 0x01, b'd']);
        assert_eq!(external_data_locations(&bytes).unwrap(), ["w.bin"]);
        let decoded = ModelProto::decode_bytes(&bytes).unwrap();
        assert_eq!(decoded.graph.unwrap().output[0].name, "y");
    }

    #[test]
    fn safe_locations_are_accepted() {
        for ok in ["weights.bin", "weights/part1.bin", "./w.bin", "a/b/c.data", "model.onnx.data", "a..b", "...x"] {
            check_external_location(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn unsafe_locations_are_refused_with_the_reason() {
        for (bad, why) in [
            ("", "it is empty"),
            ("w\0.bin", "NUL byte"),
            ("/etc/passwd", "absolute path"),
            ("\\\\server\\share\\w.bin", "absolute path"),
            ("\\w.bin", "absolute path"),
            ("C:\\weights.bin", "Windows drive"),
            ("c:weights.bin", "Windows drive"),
            ("..", "'..' component"),
            ("../w.bin", "'..' component"),
            ("weights/../../w.bin", "'..' component"),
            ("weights\\..\\..\\w.bin", "'..' component"),
            ("weights/..", "'..' component"),
            ("weights/", "names a folder"),
            ("weights\\", "names a folder"),
            (".", "names a folder"),
            ("weights/.", "names a folder"),
        ] {
            let err = check_external_location(bad).unwrap_err();
            assert!(matches!(err, SparkdlError::InvalidArgument(_)), "{bad:?}");
            let text = err.to_string();
            assert!(text.contains(why), "{bad:?}: {text}");
            assert!(text.contains(&format!("'{}'", bad.escape_debug())), "{bad:?}: {text}");
        }
    }
}
