//! The protobuf messages of a GraphDef that freezing edits, written by hand
//! for `prost` (field numbers from `tensorflow/core/framework/*.proto`).
//! What we do not edit stays raw bytes, so it survives a decode/encode round
//! trip unchanged: the function library, versions, debug info, and every
//! node's attribute values.

use std::collections::BTreeMap;

use prost::Message;

use crate::engine::dtype::DType;
use crate::engine::tensor::TensorValue;
use crate::errors::{Result, SparkdlError};

/// `tensorflow.GraphDef`.
#[derive(Clone, PartialEq, Message)]
pub struct GraphDef {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeDef>,
    /// `FunctionDefLibrary`, raw.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub library: Option<Vec<u8>>,
    /// Deprecated single version number.
    #[prost(int32, tag = "3")]
    pub version: i32,
    /// `VersionDef`, raw.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub versions: Option<Vec<u8>>,
    /// `GraphDebugInfo`, raw.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub debug_info: Option<Vec<u8>>,
}

/// `tensorflow.NodeDef`; attribute values are raw `AttrValue` bytes.
#[derive(Clone, PartialEq, Message)]
pub struct NodeDef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub op: String,
    #[prost(string, repeated, tag = "3")]
    pub input: Vec<String>,
    #[prost(string, tag = "4")]
    pub device: String,
    #[prost(btree_map = "string, bytes", tag = "5")]
    pub attr: BTreeMap<String, Vec<u8>>,
    /// `NodeDef.ExperimentalDebugInfo`, raw.
    #[prost(bytes = "vec", optional, tag = "6")]
    pub experimental_debug_info: Option<Vec<u8>>,
    /// `FullTypeDef`, raw.
    #[prost(bytes = "vec", optional, tag = "7")]
    pub experimental_type: Option<Vec<u8>>,
}

/// The two `AttrValue` cases a `Const` needs (`type` = 6, `tensor` = 8).
#[derive(Clone, PartialEq, Message)]
pub struct AttrValue {
    #[prost(int32, optional, tag = "6")]
    pub r#type: Option<i32>,
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
}

/// `tensorflow.TensorProto` with its values as `tensor_content`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    pub tensor_shape: Option<TensorShapeProto>,
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<Dim>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Dim {
    #[prost(int64, tag = "1")]
    pub size: i64,
}

/// The `DataType` enum value of `dtype` in `types.proto`.
pub fn proto_dtype(dtype: DType) -> i32 {
    match dtype {
        DType::Float32 => 1,
        DType::Float64 => 2,
        DType::Int32 => 3,
        DType::Uint8 => 4,
        DType::Int64 => 9,
        DType::Bool => 10,
        DType::Float16 => 19,
    }
}

impl GraphDef {
    pub fn decode_bytes(bytes: &[u8]) -> Result<GraphDef> {
        GraphDef::decode(bytes).map_err(|e| {
            SparkdlError::InvalidArgument(format!("the bytes ({}) are not a serialised GraphDef: {e}", bytes.len()))
        })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }
}

impl NodeDef {
    /// A `Const` node named `name` holding `value`.
    pub fn constant(name: &str, value: &TensorValue) -> NodeDef {
        let dtype = proto_dtype(value.dtype());
        let shape = TensorShapeProto { dim: value.dims().iter().map(|d| Dim { size: *d as i64 }).collect() };
        let tensor = TensorProto { dtype, tensor_shape: Some(shape), tensor_content: value.to_le_bytes() };
        let mut attr = BTreeMap::new();
        attr.insert("dtype".to_string(), AttrValue { r#type: Some(dtype), tensor: None }.encode_to_vec());
        attr.insert("value".to_string(), AttrValue { r#type: None, tensor: Some(tensor) }.encode_to_vec());
        NodeDef { name: name.to_string(), op: "Const".to_string(), attr, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::tensorflow::test_graphs::dense_graph_def;
    use tensorflow::{Graph, ImportGraphDefOptions, Session, SessionOptions, SessionRunArgs};

    #[test]
    fn decode_encode_keeps_the_graph() {
        let bytes = dense_graph_def();
        let g = GraphDef::decode_bytes(&bytes).unwrap();
        assert!(g.node.iter().any(|n| n.name == "y" && n.op == "Relu" && n.input == vec!["z"]));
        assert!(g.versions.is_some());
        assert_eq!(g.to_bytes().len(), bytes.len());
        assert_eq!(GraphDef::decode_bytes(&g.to_bytes()).unwrap(), g);
        let err = GraphDef::decode_bytes(b"\x0a\xff\xff").unwrap_err().to_string();
        assert!(err.contains("not a serialised GraphDef"), "{err}");
    }

    #[test]
    fn const_nodes_import_and_evaluate() {
        let values = [
            TensorValue::f32(&[2, 2], vec![1.5, -2.0, 0.0, 7.25]).unwrap(),
            TensorValue::f64(&[], vec![3.5]).unwrap(),
            TensorValue::i64(&[3], vec![-1, 0, 1 << 40]).unwrap(),
            TensorValue::u8(&[0], vec![]).unwrap(),
        ];
        let g = GraphDef {
            node: values.iter().enumerate().map(|(i, v)| NodeDef::constant(&format!("c{i}"), v)).collect(),
            ..Default::default()
        };
        crate::backends::tensorflow::test_graphs::ensure_loaded();
        let mut graph = Graph::new();
        graph.import_graph_def(&g.to_bytes(), &ImportGraphDefOptions::new()).unwrap();
        let session = Session::new(&SessionOptions::new(), &graph).unwrap();
        let c0 = graph.operation_by_name_required("c0").unwrap();
        let c2 = graph.operation_by_name_required("c2").unwrap();
        let mut args = SessionRunArgs::new();
        let t0 = args.request_fetch(&c0, 0);
        let t2 = args.request_fetch(&c2, 0);
        session.run(&mut args).unwrap();
        let v0: tensorflow::Tensor<f32> = args.fetch(t0).unwrap();
        assert_eq!((v0.dims(), &v0[..]), (&[2u64, 2][..], &[1.5f32, -2.0, 0.0, 7.25][..]));
        let v2: tensorflow::Tensor<i64> = args.fetch(t2).unwrap();
        assert_eq!(&v2[..], &[-1, 0, 1 << 40]);
    }
}
