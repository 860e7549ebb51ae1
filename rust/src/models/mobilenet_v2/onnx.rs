//! The ONNX writer of [`Network`]: a ModelProto (IR version 8, opset 17) in
//! NCHW layout, computed as PyTorch computes it, so kernels keep PyTorch's
//! layout and padding: `Conv` with `pads` `[1, 1, 1, 1]` for the 3x3 layers
//! and `group` = channels when depthwise, `Clip(0, 6)` for ReLU6, `Add` for
//! residuals, `ReduceMean` over height and width for the pooling, `Gemm`
//! (`transB`) for the classifier.
//!
//! The input [`INPUT`](super::INPUT) is float32 `[batch, 3, height, width]` with symbolic
//! dimensions `batch`, `height` and `width`; the outputs are [`OUTPUTS`],
//! float32 `[batch, width]`. A layer with scope `s` has initializers
//! `s/weights` and `s/bias` and nodes `s/Conv` and `s/Relu6`; every node's
//! one output has the node's name. Initializers are stored inline as
//! little-endian `raw_data`.

use std::collections::BTreeMap;

use prost::Message;

use super::{Conv, Emit, Linear, Network, TorchTensor, IMAGENET_MEAN, IMAGENET_STD, OUTPUTS};
use crate::backends::onnx::proto::{
    data_type, tensor_shape_proto::Dimension, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, ValueInfoProto,
};
use crate::errors::Result;

/// The ONNX IR version written: 8, which ONNX Runtime 1.10 and later read.
pub const IR_VERSION: i64 = 8;
/// The version of the standard operator set (`ai.onnx`) the nodes use.
pub const OPSET_VERSION: i64 = 17;
/// The symbolic dimensions of the input, in NCHW order (3 is the channels).
pub const BATCH_DIM: &str = "batch";
pub const HEIGHT_DIM: &str = "height";
pub const WIDTH_DIM: &str = "width";

/// The initializers that `Clip` takes as ReLU6's bounds.
const RELU6_MIN: &str = "relu6/min";
const RELU6_MAX: &str = "relu6/max";

/// Builds torchvision's MobileNetV2 with `weights` (its `state_dict()`, e.g.
/// from `mobilenet_v2-b0353104.pth`) and returns the serialised ONNX
/// ModelProto, about 14 MB. Fails, with the same messages as
/// [`mobilenet_v2_graph_def`](super::mobilenet_v2_graph_def), when the
/// weights are not those of torchvision's MobileNetV2 (width 1.0).
pub fn mobilenet_v2_onnx(weights: &BTreeMap<String, TorchTensor>) -> Result<Vec<u8>> {
    let network = Network::from_state_dict(weights)?;
    let mut writer = OnnxWriter::new();
    network.emit(&mut writer)?;
    Ok(writer.into_model().encode_to_vec())
}

/// An ONNX graph under construction.
struct OnnxWriter {
    graph: GraphProto,
}

impl OnnxWriter {
    fn new() -> Self {
        let mut graph = GraphProto { name: "MobileNetV2".to_string(), ..Default::default() };
        graph.initializer.push(TensorProto::float(RELU6_MIN, &[], &[0.0]));
        graph.initializer.push(TensorProto::float(RELU6_MAX, &[], &[6.0]));
        OnnxWriter { graph }
    }

    /// Adds node `name` (its output has the same name) and returns its output.
    fn node(&mut self, op_type: &str, name: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.graph.node.push(NodeProto {
            input: inputs.iter().map(|i| i.to_string()).collect(),
            output: vec![name.to_string()],
            name: name.to_string(),
            op_type: op_type.to_string(),
            attribute,
            ..Default::default()
        });
        name.to_string()
    }

    fn initializer(&mut self, name: String, dims: &[usize], values: &[f32]) -> String {
        self.graph.initializer.push(TensorProto::float(&name, dims, values));
        name
    }

    fn into_model(mut self) -> ModelProto {
        for (name, width) in OUTPUTS {
            let dims = vec![Dimension::param(BATCH_DIM), Dimension::value(width as i64)];
            self.graph.output.push(ValueInfoProto::tensor(name, data_type::FLOAT, dims));
        }
        let entry = |key: &str, value: String| StringStringEntryProto { key: key.to_string(), value };
        let input_spec = format!(
            "RGB, NCHW, float32: x / 255, then (x - {IMAGENET_MEAN:?}) / {IMAGENET_STD:?} per channel, as torchvision"
        );
        ModelProto {
            ir_version: IR_VERSION,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET_VERSION }],
            producer_name: "sparkdl".to_string(),
            producer_version: env!("CARGO_PKG_VERSION").to_string(),
            graph: Some(self.graph),
            metadata_props: vec![
                entry("model", "torchvision mobilenet_v2 (width 1.0, ImageNet-1k), BatchNorm folded".to_string()),
                entry("input", input_spec),
            ],
        }
    }
}

impl Emit for OnnxWriter {
    type Value = String;

    fn input(&mut self, name: &str, channels: usize) -> Result<String> {
        let dims = vec![
            Dimension::param(BATCH_DIM),
            Dimension::value(channels as i64),
            Dimension::param(HEIGHT_DIM),
            Dimension::param(WIDTH_DIM),
        ];
        self.graph.input.push(ValueInfoProto::tensor(name, data_type::FLOAT, dims));
        Ok(name.to_string())
    }

    fn conv(&mut self, x: String, conv: &Conv) -> Result<String> {
        let scope = &conv.scope;
        let weights = self.initializer(format!("{scope}/weights"), &conv.weight_dims(), &conv.weight);
        let bias = self.initializer(format!("{scope}/bias"), &[conv.out_ch], &conv.bias);
        let (k, s, p) = (conv.kernel as i64, conv.stride as i64, conv.padding() as i64);
        let group = if conv.depthwise { conv.out_ch as i64 } else { 1 };
        let attributes = vec![
            AttributeProto::ints("dilations", &[1, 1]),
            AttributeProto::int("group", group),
            AttributeProto::ints("kernel_shape", &[k, k]),
            AttributeProto::ints("pads", &[p, p, p, p]),
            AttributeProto::ints("strides", &[s, s]),
        ];
        let y = self.node("Conv", &format!("{scope}/Conv"), &[&x, &weights, &bias], attributes);
        if conv.relu6 {
            Ok(self.node("Clip", &format!("{scope}/Relu6"), &[&y, RELU6_MIN, RELU6_MAX], vec![]))
        } else {
            Ok(y)
        }
    }

    fn add(&mut self, name: &str, a: String, b: String) -> Result<String> {
        Ok(self.node("Add", name, &[&a, &b], vec![]))
    }

    /// The mean of `x` (`[batch, c, h, w]`) over height and width: `[batch, c]`.
    fn global_average_pool(&mut self, name: &str, x: String) -> Result<String> {
        // ReduceMean (axes an attribute until opset 18) rather than
        // GlobalAveragePool + Flatten: one node, and shape inference keeps
        // the symbolic batch dimension.
        let attributes = vec![AttributeProto::ints("axes", &[2, 3]), AttributeProto::int("keepdims", 0)];
        Ok(self.node("ReduceMean", name, &[&x], attributes))
    }

    fn concat(&mut self, name: &str, parts: &[String]) -> Result<String> {
        let inputs: Vec<&str> = parts.iter().map(String::as_str).collect();
        Ok(self.node("Concat", name, &inputs, vec![AttributeProto::int("axis", 1)]))
    }

    fn linear(&mut self, name: &str, x: String, linear: &Linear) -> Result<String> {
        let weights = self.initializer(format!("{name}/weights"), &[linear.outputs, linear.inputs], &linear.weight);
        let bias = self.initializer(format!("{name}/bias"), &[linear.outputs], &linear.bias);
        // PyTorch's [outputs, inputs] matrix as it is: Gemm transposes it.
        Ok(self.node("Gemm", name, &[&x, &weights, &bias], vec![AttributeProto::int("transB", 1)]))
    }

    fn softmax(&mut self, name: &str, x: String) -> Result<String> {
        Ok(self.node("Softmax", name, &[&x], vec![AttributeProto::int("axis", 1)]))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::OnceLock;

    use super::super::{FEATURE_DIM, INPUT, MULTISCALE_FEATURES, NUM_CLASSES};
    use super::*;
    use crate::backends::onnx::proto::{
        attribute_type, external_data_locations, tensor_shape_proto::dimension, type_proto, GraphProto,
    };
    use crate::models::test_support;
    use crate::models::torch_pickle::read_legacy_state_dict;

    /// The model built from the real weights, once for all tests.
    fn model_bytes() -> &'static [u8] {
        static MODEL: OnceLock<Vec<u8>> = OnceLock::new();
        MODEL.get_or_init(|| {
            let weights = read_legacy_state_dict(&test_support::mobilenet_v2_weights()).unwrap();
            mobilenet_v2_onnx(&weights).unwrap()
        })
    }

    fn graph() -> GraphProto {
        ModelProto::decode_bytes(model_bytes()).unwrap().graph.unwrap()
    }

    /// A value's element type and dimensions, symbols as `Err(name)`.
    fn shape(info: &ValueInfoProto) -> (i32, Vec<std::result::Result<i64, String>>) {
        let Some(type_proto::Value::TensorType(tensor)) = info.r#type.as_ref().and_then(|t| t.value.clone()) else {
            panic!("{} is not a tensor", info.name);
        };
        let dims = tensor
            .shape
            .unwrap()
            .dim
            .into_iter()
            .map(|d| match d.value {
                Some(dimension::Value::DimValue(v)) => Ok(v),
                Some(dimension::Value::DimParam(p)) => Err(p),
                None => panic!("{}: unknown dimension", info.name),
            })
            .collect();
        (tensor.elem_type, dims)
    }

    #[test]
    fn the_model_declares_its_version_input_and_outputs() {
        let model = ModelProto::decode_bytes(model_bytes()).unwrap();
        assert_eq!(model.ir_version, 8);
        assert_eq!(model.opset_import, [OperatorSetIdProto { domain: String::new(), version: 17 }]);
        assert_eq!(model.producer_name, "sparkdl");
        let graph = model.graph.unwrap();
        let batch = || Err("batch".to_string());
        assert_eq!(graph.input.len(), 1);
        assert_eq!(graph.input[0].name, "input");
        let symbols = vec![batch(), Ok(3), Err("height".to_string()), Err("width".to_string())];
        assert_eq!(shape(&graph.input[0]), (data_type::FLOAT, symbols));
        let outputs: Vec<(String, (i32, Vec<_>))> = graph.output.iter().map(|o| (o.name.clone(), shape(o))).collect();
        let expected: Vec<(String, (i32, Vec<_>))> =
            [("features", 1280), ("features_multiscale", 1536), ("logits", 1000), ("probabilities", 1000)]
                .into_iter()
                .map(|(name, width)| (name.to_string(), (data_type::FLOAT, vec![batch(), Ok(width)])))
                .collect();
        assert_eq!(outputs, expected);
        assert!(external_data_locations(model_bytes()).unwrap().is_empty(), "all weights are inline");
    }

    #[test]
    fn nodes_are_in_order_and_use_every_initializer() {
        let graph = graph();
        let initializers: BTreeSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(initializers.len(), graph.initializer.len(), "initializer names are unique");
        // Topological order: every input is the graph input, an initializer or an earlier output.
        let mut known: BTreeSet<&str> = initializers.clone();
        known.insert(INPUT);
        let mut used = BTreeSet::new();
        for node in &graph.node {
            for input in &node.input {
                assert!(known.contains(input.as_str()), "node '{}' reads '{input}' before it exists", node.name);
                used.insert(input.as_str());
            }
            assert_eq!(node.output, std::slice::from_ref(&node.name));
            assert!(known.insert(node.name.as_str()), "node '{}' twice", node.name);
        }
        let unused: Vec<&&str> = initializers.iter().filter(|i| !used.contains(**i)).collect();
        assert!(unused.is_empty(), "initializers no node reads: {unused:?}");
        for (name, _) in OUTPUTS {
            assert!(known.contains(name), "no node computes output '{name}'");
        }

        let mut counts: HashMap<&str, usize> = HashMap::new();
        for node in &graph.node {
            *counts.entry(node.op_type.as_str()).or_default() += 1;
        }
        let expected = [("Conv", 52), ("Clip", 35), ("Add", 10), ("ReduceMean", 3), ("Concat", 1), ("Gemm", 1)];
        for (op_type, n) in expected.into_iter().chain([("Softmax", 1)]) {
            assert_eq!(counts.get(op_type).copied(), Some(n), "{op_type}: {counts:?}");
        }
        assert_eq!(graph.node.len(), 103);
        // 52 convolutions and the classifier with a weight and a bias each, and ReLU6's bounds.
        assert_eq!(graph.initializer.len(), 52 * 2 + 2 + 2);
    }

    #[test]
    fn initializers_are_raw_little_endian_float32() {
        let graph = graph();
        let mut values = 0;
        for t in &graph.initializer {
            assert_eq!(t.data_type, data_type::FLOAT, "{}", t.name);
            let n: i64 = t.dims.iter().product();
            assert_eq!(t.raw_data.len() as i64, 4 * n, "{}", t.name);
            assert!(t.float_data.is_empty() && t.data_location.is_none(), "{}", t.name);
            values += n;
        }
        // The folded network's 3,487,816 parameters, plus ReLU6's two bounds.
        assert_eq!(values, 3_487_816 + 2);
        let by_name = |name: &str| graph.initializer.iter().find(|t| t.name == name).unwrap().clone();
        let max = by_name(RELU6_MAX);
        assert!(max.dims.is_empty());
        assert_eq!(max.raw_data, 6f32.to_le_bytes());
        assert_eq!(by_name("logits/weights").dims, [NUM_CLASSES as i64, FEATURE_DIM as i64]);
    }

    #[test]
    fn convolutions_keep_pytorchs_layout_padding_and_groups() {
        let graph = graph();
        let node = |name: &str| graph.node.iter().find(|n| n.name == name).unwrap_or_else(|| panic!("no node {name}"));
        let attr = |n: &NodeProto, name: &str| n.attribute.iter().find(|a| a.name == name).unwrap().clone();
        let dims = |name: &str| graph.initializer.iter().find(|t| t.name == name).unwrap().dims.clone();
        for (scope, kernel, stride, group, weight_dims) in [
            ("features.0", 3, 2, 1, [32, 3, 3, 3]),
            ("features.3/expand", 1, 1, 1, [144, 24, 1, 1]),
            ("features.4/depthwise", 3, 2, 144, [144, 1, 3, 3]),
            ("features.5/depthwise", 3, 1, 192, [192, 1, 3, 3]),
            ("features.17/project", 1, 1, 1, [320, 960, 1, 1]),
            ("features.18", 1, 1, 1, [1280, 320, 1, 1]),
        ] {
            let conv = node(&format!("{scope}/Conv"));
            assert_eq!(conv.input[1..], [format!("{scope}/weights"), format!("{scope}/bias")]);
            assert_eq!(dims(&format!("{scope}/weights")), weight_dims, "{scope}");
            let pad = (kernel - 1) / 2;
            assert_eq!(attr(conv, "pads").ints, [pad; 4], "{scope}");
            assert_eq!(attr(conv, "strides").ints, [stride; 2], "{scope}");
            assert_eq!(attr(conv, "kernel_shape").ints, [kernel; 2], "{scope}");
            assert_eq!(attr(conv, "group").i, Some(group), "{scope}");
            assert_eq!(attr(conv, "group").r#type, attribute_type::INT, "{scope}");
        }
        assert_eq!(node("features.3/expand/Relu6").input, ["features.3/expand/Conv", RELU6_MIN, RELU6_MAX]);
        assert_eq!(node("features.3/add").input, ["features.2/project/Conv", "features.3/project/Conv"]);
        assert!(graph.node.iter().all(|n| n.name != "features.17/project/Relu6"), "projections are linear");
        assert_eq!(
            node(MULTISCALE_FEATURES).input,
            ["features_multiscale/features.13", "features_multiscale/features.16", "features"]
        );
        assert_eq!(node("features_multiscale/features.13").input, ["features.13/add"]);
        assert_eq!(node("features").input, ["features.18/Relu6"]);
        assert_eq!(node("logits").input, ["features", "logits/weights", "logits/bias"]);
        assert_eq!(attr(node("logits"), "transB").i, Some(1));
        assert_eq!(attr(node("features"), "keepdims").i, Some(0));
        assert_eq!(node("probabilities").input, ["logits"]);
    }
}
