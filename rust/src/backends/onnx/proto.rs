//! The part of the ONNX IR (`onnx.proto`) that sparkdl writes, as
//! hand-written `prost` messages (field numbers of onnx/onnx.proto), plus a
//! reader that lists the files a model's external data lives in
//! ([`external_data_locations`]) and a check of those names
//! ([`check_external_location`]).
//!
//! `onnx.proto` is proto2: the scalar attribute values are `Option`s so that a
//! zero (`keepdims = 0`) is still written, and the repeated integers that
//! proto2 does not pack (`dims`, `floats`, `ints`) are written unpacked, as
//! the official serialiser does. Fields not declared here are skipped when
//! reading.

use prost::Message;

use crate::errors::{Result, SparkdlError};
use tensor_shape_proto::{dimension, Dimension};

mod external_data;
pub use external_data::{check_external_location, external_data_locations};

/// `onnx.ModelProto`.
#[derive(Clone, PartialEq, Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    pub producer_version: String,
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "14")]
    pub metadata_props: Vec<StringStringEntryProto>,
}

/// `onnx.OperatorSetIdProto`; the empty domain is the standard `ai.onnx` set.
#[derive(Clone, PartialEq, Message)]
pub struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    pub domain: String,
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `onnx.GraphProto`.
#[derive(Clone, PartialEq, Message)]
pub struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "13")]
    pub value_info: Vec<ValueInfoProto>,
}

/// `onnx.NodeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    #[prost(string, tag = "3")]
    pub name: String,
    #[prost(string, tag = "4")]
    pub op_type: String,
    #[prost(string, tag = "7")]
    pub domain: String,
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `onnx.AttributeProto`: `r#type` (an [`attribute_type`]) says which value
/// field is set.
#[derive(Clone, PartialEq, Message)]
pub struct AttributeProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int32, tag = "20")]
    pub r#type: i32,
    #[prost(float, optional, tag = "2")]
    pub f: Option<f32>,
    #[prost(int64, optional, tag = "3")]
    pub i: Option<i64>,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub s: Option<Vec<u8>>,
    #[prost(message, optional, tag = "5")]
    pub t: Option<TensorProto>,
    #[prost(message, optional, tag = "6")]
    pub g: Option<GraphProto>,
    #[prost(float, repeated, packed = "false", tag = "7")]
    pub floats: Vec<f32>,
    #[prost(int64, repeated, packed = "false", tag = "8")]
    pub ints: Vec<i64>,
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub strings: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "10")]
    pub tensors: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    pub graphs: Vec<GraphProto>,
}

/// Values of `AttributeProto.AttributeType`.
pub mod attribute_type {
    pub const FLOAT: i32 = 1;
    pub const INT: i32 = 2;
    pub const STRING: i32 = 3;
    pub const TENSOR: i32 = 4;
    pub const GRAPH: i32 = 5;
    pub const FLOATS: i32 = 6;
    pub const INTS: i32 = 7;
    pub const STRINGS: i32 = 8;
    pub const TENSORS: i32 = 9;
    pub const GRAPHS: i32 = 10;
}

/// `onnx.TensorProto`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    pub dims: Vec<i64>,
    /// A [`data_type`].
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    #[prost(int64, repeated, tag = "7")]
    pub int64_data: Vec<i64>,
    #[prost(string, tag = "8")]
    pub name: String,
    /// Fixed-width little-endian elements.
    #[prost(bytes = "vec", tag = "9")]
    pub raw_data: Vec<u8>,
    /// `location` (relative to the model's folder), `offset`, `length`, `checksum`.
    #[prost(message, repeated, tag = "13")]
    pub external_data: Vec<StringStringEntryProto>,
    /// [`DATA_LOCATION_EXTERNAL`] or the default (inside the message).
    #[prost(int32, optional, tag = "14")]
    pub data_location: Option<i32>,
}

/// Values of `TensorProto.DataType` that sparkdl writes.
pub mod data_type {
    pub const FLOAT: i32 = 1;
    pub const INT64: i32 = 7;
}

/// `TensorProto.DataLocation.EXTERNAL`: the data is in the file that
/// `external_data` names.
pub const DATA_LOCATION_EXTERNAL: i32 = 1;

/// `onnx.StringStringEntryProto`.
#[derive(Clone, PartialEq, Message)]
pub struct StringStringEntryProto {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `onnx.ValueInfoProto`.
#[derive(Clone, PartialEq, Message)]
pub struct ValueInfoProto {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `onnx.TypeProto`, tensors only (sequences, maps, ... are skipped when read).
#[derive(Clone, PartialEq, Message)]
pub struct TypeProto {
    #[prost(oneof = "type_proto::Value", tags = "1")]
    pub value: Option<type_proto::Value>,
}

pub mod type_proto {
    use super::TensorShapeProto;

    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        #[prost(message, tag = "1")]
        TensorType(Tensor),
    }

    /// `onnx.TypeProto.Tensor`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tensor {
        /// A [`data_type`](super::data_type).
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<TensorShapeProto>,
    }
}

/// `onnx.TensorShapeProto`.
#[derive(Clone, PartialEq, Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<tensor_shape_proto::Dimension>,
}

pub mod tensor_shape_proto {
    /// `onnx.TensorShapeProto.Dimension`: a size, a symbol, or (neither) unknown.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(oneof = "dimension::Value", tags = "1, 2")]
        pub value: Option<dimension::Value>,
    }

    pub mod dimension {
        #[derive(Clone, PartialEq, prost::Oneof)]
        pub enum Value {
            #[prost(int64, tag = "1")]
            DimValue(i64),
            #[prost(string, tag = "2")]
            DimParam(String),
        }
    }
}

impl ModelProto {
    pub fn decode_bytes(bytes: &[u8]) -> Result<ModelProto> {
        ModelProto::decode(bytes).map_err(|e| not_a_model(bytes, e))
    }
}

fn not_a_model(bytes: &[u8], e: prost::DecodeError) -> SparkdlError {
    SparkdlError::InvalidArgument(format!("the bytes ({}) are not a serialised ONNX ModelProto: {e}", bytes.len()))
}

impl AttributeProto {
    pub fn int(name: &str, value: i64) -> AttributeProto {
        AttributeProto { name: name.to_string(), r#type: attribute_type::INT, i: Some(value), ..Default::default() }
    }

    pub fn ints(name: &str, values: &[i64]) -> AttributeProto {
        AttributeProto {
            name: name.to_string(),
            r#type: attribute_type::INTS,
            ints: values.to_vec(),
            ..Default::default()
        }
    }

    pub fn float(name: &str, value: f32) -> AttributeProto {
        AttributeProto { name: name.to_string(), r#type: attribute_type::FLOAT, f: Some(value), ..Default::default() }
    }
}

impl TensorProto {
    /// A float32 tensor of shape `dims` holding `values` as raw little-endian bytes.
    pub fn float(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
        TensorProto {
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: data_type::FLOAT,
            name: name.to_string(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        }
    }
}

impl Dimension {
    pub fn value(size: i64) -> Dimension {
        Dimension { value: Some(dimension::Value::DimValue(size)) }
    }

    pub fn param(symbol: &str) -> Dimension {
        Dimension { value: Some(dimension::Value::DimParam(symbol.to_string())) }
    }
}

impl ValueInfoProto {
    /// A tensor of element type `elem_type` (a [`data_type`]) and shape `dims`.
    pub fn tensor(name: &str, elem_type: i32, dims: Vec<Dimension>) -> ValueInfoProto {
        let tensor = type_proto::Tensor { elem_type, shape: Some(TensorShapeProto { dim: dims }) };
        ValueInfoProto {
            name: name.to_string(),
            r#type: Some(TypeProto { value: Some(type_proto::Value::TensorType(tensor)) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn graph(name: &str, initializer: Vec<TensorProto>, node: Vec<NodeProto>) -> GraphProto {
        GraphProto { name: name.into(), initializer, node, ..Default::default() }
    }

    pub(super) fn node_with(attribute: AttributeProto) -> NodeProto {
        NodeProto { op_type: "If".into(), attribute: vec![attribute], ..Default::default() }
    }

    pub(super) fn model(graph: GraphProto) -> Vec<u8> {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
            producer_name: "sparkdl-test".into(),
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn written_models_read_back() {
        let mut attrs = vec![AttributeProto::int("keepdims", 0), AttributeProto::ints("axes", &[2, 3])];
        attrs.push(AttributeProto::float("alpha", 0.0));
        let node = NodeProto {
            input: vec!["x".into()],
            output: vec!["y".into()],
            name: "pool".into(),
            op_type: "ReduceMean".into(),
            attribute: attrs,
            ..Default::default()
        };
        let bytes = model(graph("g", vec![TensorProto::float("w", &[2, 1], &[1.5, -2.0])], vec![node.clone()]));
        let decoded = ModelProto::decode_bytes(&bytes).unwrap();
        let g = decoded.graph.unwrap();
        assert_eq!(g.node, [node]);
        // Zero values are written, since proto2 readers tell "0" from "absent".
        assert_eq!(g.node[0].attribute[0].i, Some(0));
        assert_eq!(g.node[0].attribute[2].f, Some(0.0));
        assert_eq!(g.initializer[0].raw_data, [1.5f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat());
        assert_eq!(g.initializer[0].dims, [2, 1]);
    }

    #[test]
    fn repeated_integers_are_unpacked_as_in_proto2() {
        // dims = [2, 3]: field 1, varint, twice (08 02 08 03), not one packed run (0a 02 02 03).
        let t = TensorProto { dims: vec![2, 3], data_type: data_type::FLOAT, ..Default::default() };
        assert_eq!(t.encode_to_vec()[..4], [0x08, 0x02, 0x08, 0x03]);
        let packed = [0x0a, 0x02, 0x02, 0x03, 0x10, 0x01];
        assert_eq!(TensorProto::decode(&packed[..]).unwrap().dims, [2, 3]);
    }
}
