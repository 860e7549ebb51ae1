//! Tiny ONNX models built in Rust for the tests (with [`super::proto`]), and
//! ONNX Runtime loaded from `$SPARKDL_ONNXRUNTIME_LIB` (build/engine-env.sh).

use prost::Message;

use super::model::OnnxModel;
use super::proto::tensor_shape_proto::Dimension;
use super::proto::{GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto, ValueInfoProto};
use crate::engine::config::EngineConfig;

/// ONNX's element type codes the tests use.
pub const FLOAT: i32 = 1;
pub const UINT8: i32 = 2;
pub const INT32: i32 = 6;
pub const INT64: i32 = 7;
pub const BOOL: i32 = 9;
pub const FLOAT16: i32 = 10;
pub const DOUBLE: i32 = 11;

pub fn ensure_loaded() {
    let lib = std::env::var_os("SPARKDL_ONNXRUNTIME_LIB")
        .expect("SPARKDL_ONNXRUNTIME_LIB is not set: source build/engine-env.sh before cargo test");
    super::library::load(std::path::Path::new(&lib)).expect("loading ONNX Runtime");
}

pub const W: [f32; 6] = [1.0, -1.0, 0.5, 2.0, -2.0, 0.25];
pub const B: [f32; 2] = [0.5, -1.0];

/// x·W + b for one example of 3 values, in f32.
pub fn affine_expected(x: &[f32]) -> Vec<f64> {
    (0..2).map(|j| f64::from(x[0] * W[j] + x[1] * W[2 + j] + x[2] * W[4 + j] + B[j])).collect()
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: outputs[0].to_string(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// A dimension: `Err(name)` symbolic, `Ok(n)` fixed.
pub fn dims(d: &[std::result::Result<i64, &str>]) -> Vec<Dimension> {
    d.iter().map(|d| d.map_or_else(Dimension::param, Dimension::value)).collect()
}

pub fn model(graph: GraphProto) -> Vec<u8> {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 17 }],
        producer_name: "sparkdl-tests".into(),
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

/// x: float [batch, 3] -> y = x·W + b: float [batch, 2].
pub fn affine_bytes() -> Vec<u8> {
    model(GraphProto {
        name: "affine".into(),
        node: vec![node("MatMul", &["x", "W"], &["xw"]), node("Add", &["xw", "B"], &["y"])],
        initializer: vec![TensorProto::float("W", &[3, 2], &W), TensorProto::float("B", &[2], &B)],
        input: vec![ValueInfoProto::tensor("x", FLOAT, dims(&[Err("batch"), Ok(3)]))],
        output: vec![ValueInfoProto::tensor("y", FLOAT, dims(&[Err("batch"), Ok(2)]))],
        ..Default::default()
    })
}

/// x of element type `elem`, shape [batch, n] -> y = `op`(x) (or `op`(x, x)
/// for a binary op) of type `out_elem`.
pub fn unary_bytes(elem: i32, op: &str, binary: bool, out_elem: i32) -> Vec<u8> {
    let inputs: &[&str] = if binary { &["x", "x"] } else { &["x"] };
    model(GraphProto {
        name: op.into(),
        node: vec![node(op, inputs, &["y"])],
        input: vec![ValueInfoProto::tensor("x", elem, dims(&[Err("batch"), Err("n")]))],
        output: vec![ValueInfoProto::tensor("y", out_elem, dims(&[Err("batch"), Err("n")]))],
        ..Default::default()
    })
}

pub fn affine_model() -> OnnxModel {
    ensure_loaded();
    OnnxModel::from_bytes(&affine_bytes(), &EngineConfig::default()).unwrap()
}
