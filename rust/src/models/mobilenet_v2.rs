//! torchvision's MobileNetV2 (width 1.0, ImageNet-1k) rebuilt as a frozen
//! TensorFlow graph from its PyTorch state dict, so that sparkdl can offer a
//! pretrained image model with no Python, no TensorFlow Hub download and no
//! model conversion tool: the weights file (read by
//! [`torch_pickle`](super::torch_pickle)) is all it needs.
//!
//! The graph computes exactly what torchvision's `mobilenet_v2` does in
//! `eval()` mode, in NHWC layout:
//!
//! - every BatchNorm (eps 1e-5) is folded into the convolution before it:
//!   `w' = w * gamma / sqrt(var + eps)` per output channel, plus a bias
//!   `b' = beta - mean * gamma / sqrt(var + eps)`;
//! - PyTorch pads each 3x3 convolution by one pixel on every side. For stride
//!   1 that is TensorFlow's "SAME"; for stride 2 "SAME" would pad only
//!   bottom/right on even sizes, so those layers get an explicit `Pad` and a
//!   "VALID" convolution;
//! - kernels are transposed from PyTorch's `[out, in, kh, kw]` to TF's
//!   `[kh, kw, in, out]` (depthwise: `[c, 1, kh, kw]` to `[kh, kw, c, 1]`),
//!   and the classifier's `[1000, 1280]` matrix to `[1280, 1000]`;
//! - Dropout is the identity at inference and is left out.
//!
//! Operations are named after the torchvision modules they come from
//! (`features.3/expand/Conv2D`, `features.3/depthwise/BiasAdd`, ...). The
//! tensors other code relies on are [`INPUT`], [`FEATURES`],
//! [`MULTISCALE_FEATURES`], [`LOGITS`] and [`PROBABILITIES`] (output 0 of
//! operations with those names).
//!
//! Like torchvision's model, the graph is fully convolutional up to a global
//! average pool, so its input takes any height and width (224x224 is what the
//! weights were trained at; callers choose the size they resize to).

use std::collections::{BTreeMap, BTreeSet};

use tensorflow::{DataType, Graph, Operation, OperationDescription, Output, Shape, Status, Tensor};

use super::torch_pickle::TorchTensor;
use crate::errors::{Result, SparkdlError};

/// The input: float32 `[batch, height, width, 3]` (any size of at least
/// 32x32; [`INPUT_SIZE`] is the training size), RGB, already normalised as
/// torchvision expects: `(x / 255 - IMAGENET_MEAN) / IMAGENET_STD` per channel.
pub const INPUT: &str = "input";
/// The global-average-pooled features: float32 `[batch, 1280]`.
pub const FEATURES: &str = "features";
/// Features from three depths, for images far from ImageNet (textures,
/// defects): the global-average-pooled outputs of the last 96-channel and the
/// last 160-channel inverted residual blocks (`features.13`, `features.16`)
/// followed by [`FEATURES`]: float32 `[batch, 1536]`.
pub const MULTISCALE_FEATURES: &str = "features_multiscale";
/// The classifier's output before softmax: float32 `[batch, 1000]`.
pub const LOGITS: &str = "logits";
/// Softmax of the logits: float32 `[batch, 1000]`, ImageNet-1k class order.
pub const PROBABILITIES: &str = "probabilities";

/// Height and width of the input images.
pub const INPUT_SIZE: usize = 224;
/// Length of the feature vector.
pub const FEATURE_DIM: usize = 1280;
/// Length of the multiscale feature vector: 96 + 160 + 1280.
pub const MULTISCALE_FEATURE_DIM: usize = 96 + 160 + FEATURE_DIM;
/// Output channels of the stages whose last block's output joins [`MULTISCALE_FEATURES`].
const MULTISCALE_STAGE_CHANNELS: [usize; 2] = [96, 160];
/// Number of ImageNet classes.
pub const NUM_CLASSES: usize = 1000;
/// Per-channel (RGB) mean of the input normalisation, on the 0..1 scale.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// Per-channel (RGB) standard deviation of the input normalisation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// BatchNorm's epsilon in torchvision's MobileNetV2.
const BN_EPS: f64 = 1e-5;
/// Channels of the first convolution.
const STEM_CHANNELS: usize = 32;
/// The inverted residual blocks: expansion factor t, output channels c,
/// repeats n, stride s of the first repeat (the others have stride 1).
const INVERTED_RESIDUAL_SETTINGS: [(usize, usize, usize, usize); 7] =
    [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)];

/// Builds torchvision's MobileNetV2 with `weights` (its `state_dict()`, e.g.
/// from `mobilenet_v2-b0353104.pth`) and returns the serialised, frozen
/// GraphDef. Fails, naming the entry, when a weight is missing or has the
/// wrong shape, or when the state dict holds weights the architecture does
/// not use (another width multiplier or model).
pub fn mobilenet_v2_graph_def(weights: &BTreeMap<String, TorchTensor>) -> Result<Vec<u8>> {
    let mut b = Builder::new(weights);
    let input = b.placeholder(INPUT, &[None, None, None, Some(3)])?;

    let mut x = b.conv_bn(input, &ConvBn::module("features.0", "features.0", 3, STEM_CHANNELS, 3, 2))?;
    let mut in_ch = STEM_CHANNELS;
    let mut index = 1;
    let mut stage_outputs = Vec::new();
    for (t, c, n, s) in INVERTED_RESIDUAL_SETTINGS {
        for repeat in 0..n {
            let stride = if repeat == 0 { s } else { 1 };
            x = b.inverted_residual(x, index, in_ch, c, stride, t)?;
            in_ch = c;
            index += 1;
        }
        if MULTISCALE_STAGE_CHANNELS.contains(&c) {
            stage_outputs.push((index - 1, x.clone()));
        }
    }
    let last = format!("features.{index}");
    x = b.conv_bn(x, &ConvBn::module(&last, &last, in_ch, FEATURE_DIM, 1, 1))?;

    // Global average pooling over height and width: [batch, 1280].
    let features = b.global_average_pool(x, FEATURES)?;

    // The same pooling of earlier stages, concatenated with the features: [batch, 1536].
    let mut parts = Vec::new();
    for (block, output) in stage_outputs {
        parts.push(b.global_average_pool(output, &format!("{MULTISCALE_FEATURES}/features.{block}"))?);
    }
    parts.push(features.clone());
    let concat_axis = b.int_const(&format!("{MULTISCALE_FEATURES}/axis"), &[], &[1])?;
    let n = parts.len() as i64;
    b.op("ConcatV2", MULTISCALE_FEATURES, &[], |d| {
        d.add_input_list(&parts);
        d.add_input(concat_axis);
        d.set_attr_int("N", n).map_err(Status::from)
    })?;

    // classifier.0 is Dropout (identity at inference); classifier.1 is Linear.
    let w = b.weight("classifier.1.weight", &[NUM_CLASSES, FEATURE_DIM])?;
    let bias = b.weight("classifier.1.bias", &[NUM_CLASSES])?.to_vec();
    let mut w_t = vec![0f32; FEATURE_DIM * NUM_CLASSES];
    for (o, row) in w.chunks_exact(FEATURE_DIM).enumerate() {
        for (i, v) in row.iter().enumerate() {
            w_t[i * NUM_CLASSES + o] = *v;
        }
    }
    let w = b.float_const(&format!("{LOGITS}/weights"), &[FEATURE_DIM as u64, NUM_CLASSES as u64], &w_t)?;
    let bias = b.float_const(&format!("{LOGITS}/bias"), &[NUM_CLASSES as u64], &bias)?;
    let matmul = b.op("MatMul", &format!("{LOGITS}/MatMul"), &[features, w], |_| Ok(()))?;
    let logits = b.op("BiasAdd", LOGITS, &[matmul, bias], |_| Ok(()))?;
    b.op("Softmax", PROBABILITIES, &[logits], |_| Ok(()))?;

    b.check_all_used()?;
    b.graph.graph_def().map_err(|e| tf_error("serialising the MobileNetV2 GraphDef", e))
}

fn tf_error(what: &str, e: Status) -> SparkdlError {
    SparkdlError::Backend(format!("TensorFlow: {what}: {e}"))
}

/// One convolution with its BatchNorm folded in, optionally followed by ReLU6.
struct ConvBn {
    /// Name scope of the TF operations.
    scope: String,
    /// The state dict prefix of the convolution (`{conv}.weight`; no bias).
    conv: String,
    /// The state dict prefix of its BatchNorm (`{bn}.weight`, `.bias`,
    /// `.running_mean`, `.running_var`).
    bn: String,
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    stride: usize,
    /// Depthwise (groups = channels; needs `in_ch == out_ch`).
    depthwise: bool,
    relu6: bool,
}

impl ConvBn {
    /// torchvision's Conv-BN-ReLU6 module `module` (`{module}.0` the
    /// convolution, `{module}.1` the BatchNorm).
    fn module(scope: &str, module: &str, in_ch: usize, out_ch: usize, kernel: usize, stride: usize) -> ConvBn {
        ConvBn {
            scope: scope.to_string(),
            conv: format!("{module}.0"),
            bn: format!("{module}.1"),
            in_ch,
            out_ch,
            kernel,
            stride,
            depthwise: false,
            relu6: true,
        }
    }

    /// torchvision's depthwise Conv-BN-ReLU6 module: 3x3, one filter per channel.
    fn depthwise(scope: &str, module: &str, channels: usize, stride: usize) -> ConvBn {
        ConvBn { depthwise: true, ..ConvBn::module(scope, module, channels, channels, 3, stride) }
    }
}

/// A graph under construction and the weights it takes, remembering which
/// state dict entries were used.
struct Builder<'w> {
    graph: Graph,
    weights: &'w BTreeMap<String, TorchTensor>,
    used: BTreeSet<&'w str>,
}

impl<'w> Builder<'w> {
    fn new(weights: &'w BTreeMap<String, TorchTensor>) -> Self {
        Builder { graph: Graph::new(), weights, used: BTreeSet::new() }
    }

    /// Adds operation `name` of type `op_type` on `inputs`; `attrs` sets its
    /// attributes. Returns its output 0.
    fn op(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[Output],
        attrs: impl FnOnce(&mut OperationDescription) -> std::result::Result<(), Status>,
    ) -> Result<Output> {
        let describe = |e: Status| tf_error(&format!("adding {op_type} '{name}' to the MobileNetV2 graph"), e);
        let mut d = self.graph.new_operation(op_type, name).map_err(|e| describe(e.into()))?;
        for input in inputs {
            d.add_input(input.clone());
        }
        attrs(&mut d).map_err(describe)?;
        let op: Operation = d.finish().map_err(describe)?;
        Ok(Output { operation: op, index: 0 })
    }

    /// The mean of `x` (`[batch, h, w, c]`) over height and width: `[batch, c]`.
    fn global_average_pool(&mut self, x: Output, name: &str) -> Result<Output> {
        let axes = self.int_const(&format!("{name}/axes"), &[2], &[1, 2])?;
        self.op("Mean", name, &[x, axes], |d| d.set_attr_bool("keep_dims", false).map_err(Status::from))
    }

    fn placeholder(&mut self, name: &str, shape: &[Option<i64>]) -> Result<Output> {
        self.op("Placeholder", name, &[], |d| {
            d.set_attr_type("dtype", DataType::Float)?;
            d.set_attr_shape("shape", &Shape::from(Some(shape.to_vec())))?;
            Ok(())
        })
    }

    fn float_const(&mut self, name: &str, dims: &[u64], values: &[f32]) -> Result<Output> {
        let tensor = Tensor::<f32>::new(dims)
            .with_values(values)
            .map_err(|e| tf_error(&format!("making the constant '{name}'"), e))?;
        self.op("Const", name, &[], |d| {
            d.set_attr_type("dtype", DataType::Float)?;
            d.set_attr_tensor("value", tensor)
        })
    }

    fn int_const(&mut self, name: &str, dims: &[u64], values: &[i32]) -> Result<Output> {
        let tensor = Tensor::<i32>::new(dims)
            .with_values(values)
            .map_err(|e| tf_error(&format!("making the constant '{name}'"), e))?;
        self.op("Const", name, &[], |d| {
            d.set_attr_type("dtype", DataType::Int32)?;
            d.set_attr_tensor("value", tensor)
        })
    }

    /// The float32 values of state dict entry `key`, checked to have `shape`.
    fn weight(&mut self, key: &str, shape: &[usize]) -> Result<&'w [f32]> {
        let (name, tensor) = self.weights.get_key_value(key).ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "the weights have no '{key}': they are not a state dict of torchvision's MobileNetV2 (width 1.0)"
            ))
        })?;
        if tensor.shape != shape {
            return Err(SparkdlError::InvalidArgument(format!(
                "weight '{key}' has shape {:?}; torchvision's MobileNetV2 (width 1.0) has {shape:?}",
                tensor.shape
            )));
        }
        let values = tensor.as_f32().ok_or_else(|| {
            SparkdlError::InvalidArgument(format!("weight '{key}' is {}, expected float32", tensor.data.dtype_name()))
        })?;
        self.used.insert(name.as_str());
        Ok(values)
    }

    /// Every entry except BatchNorm's `num_batches_tracked` counters must
    /// have been used: anything else means another architecture.
    fn check_all_used(&self) -> Result<()> {
        let unused: Vec<&str> = self
            .weights
            .keys()
            .map(String::as_str)
            .filter(|k| !self.used.contains(k) && !k.ends_with(".num_batches_tracked"))
            .collect();
        if unused.is_empty() {
            return Ok(());
        }
        let shown: Vec<&str> = unused.iter().take(5).copied().collect();
        Err(SparkdlError::InvalidArgument(format!(
            "the weights have {} entries that torchvision's MobileNetV2 (width 1.0) does not use, e.g. {}",
            unused.len(),
            shown.join(", ")
        )))
    }

    /// Convolution + folded BatchNorm (+ ReLU6), with PyTorch's padding.
    fn conv_bn(&mut self, x: Output, spec: &ConvBn) -> Result<Output> {
        let ConvBn { ref scope, ref conv, ref bn, in_ch, out_ch, kernel: k, stride, depthwise, relu6 } = *spec;
        let torch_shape = if depthwise { [out_ch, 1, k, k] } else { [out_ch, in_ch, k, k] };
        let w = self.weight(&format!("{conv}.weight"), &torch_shape)?;
        let bn_param = |name: &str| format!("{bn}.{name}");
        let norm = BatchNorm {
            gamma: self.weight(&bn_param("weight"), &[out_ch])?,
            beta: self.weight(&bn_param("bias"), &[out_ch])?,
            mean: self.weight(&bn_param("running_mean"), &[out_ch])?,
            var: self.weight(&bn_param("running_var"), &[out_ch])?,
        };
        let folded = fold_batch_norm(w, &torch_shape, &norm, depthwise);

        let filter_dims = if depthwise { [k, k, in_ch, 1] } else { [k, k, in_ch, out_ch] }.map(|d| d as u64);
        let filter = self.float_const(&format!("{scope}/weights"), &filter_dims, &folded.filter)?;
        let bias = self.float_const(&format!("{scope}/bias"), &[out_ch as u64], &folded.bias)?;
        // PyTorch pads (k - 1) / 2 on every side. With stride 1 that is "SAME";
        // with stride 2, pad explicitly and convolve "VALID".
        let pad = (k - 1) / 2;
        let (x, padding) = if pad == 0 {
            (x, "VALID")
        } else if stride == 1 {
            (x, "SAME")
        } else {
            let p = pad as i32;
            let paddings = self.int_const(&format!("{scope}/paddings"), &[4, 2], &[0, 0, p, p, p, p, 0, 0])?;
            (self.op("Pad", &format!("{scope}/Pad"), &[x, paddings], |_| Ok(()))?, "VALID")
        };
        let s = stride as i64;
        let (op_type, op_name) = if depthwise { ("DepthwiseConv2dNative", "depthwise") } else { ("Conv2D", "Conv2D") };
        let conv = self.op(op_type, &format!("{scope}/{op_name}"), &[x, filter], |d| {
            d.set_attr_int_list("strides", &[1, s, s, 1])?;
            d.set_attr_string("padding", padding)?;
            Ok(())
        })?;
        let y = self.op("BiasAdd", &format!("{scope}/BiasAdd"), &[conv, bias], |_| Ok(()))?;
        if relu6 {
            self.op("Relu6", &format!("{scope}/Relu6"), &[y], |_| Ok(()))
        } else {
            Ok(y)
        }
    }

    /// torchvision's `InvertedResidual` number `index` of `features`:
    /// [1x1 expand + ReLU6], 3x3 depthwise + ReLU6, 1x1 linear projection,
    /// plus the input when the shape is kept.
    fn inverted_residual(
        &mut self,
        x: Output,
        index: usize,
        in_ch: usize,
        out_ch: usize,
        stride: usize,
        expand_ratio: usize,
    ) -> Result<Output> {
        let block = format!("features.{index}");
        let hidden = in_ch * expand_ratio;
        // torchvision numbers the sub-modules of `conv` in order: a
        // Conv-BN-ReLU6 module (`.0` conv, `.1` BN) per expand and depthwise
        // step, then the projection's bare Conv2d and BatchNorm.
        let mut next = 0;
        let mut y = x.clone();
        if expand_ratio != 1 {
            let expand = ConvBn::module(&format!("{block}/expand"), &format!("{block}.conv.0"), in_ch, hidden, 1, 1);
            y = self.conv_bn(y, &expand)?;
            next += 1;
        }
        let depthwise =
            ConvBn::depthwise(&format!("{block}/depthwise"), &format!("{block}.conv.{next}"), hidden, stride);
        y = self.conv_bn(y, &depthwise)?;
        let project = ConvBn {
            scope: format!("{block}/project"),
            conv: format!("{block}.conv.{}", next + 1),
            bn: format!("{block}.conv.{}", next + 2),
            in_ch: hidden,
            out_ch,
            kernel: 1,
            stride: 1,
            depthwise: false,
            relu6: false,
        };
        y = self.conv_bn(y, &project)?;
        if stride == 1 && in_ch == out_ch {
            y = self.op("AddV2", &format!("{block}/add"), &[x, y], |_| Ok(()))?;
        }
        Ok(y)
    }
}

/// A BatchNorm's parameters, one value per channel.
struct BatchNorm<'a> {
    gamma: &'a [f32],
    beta: &'a [f32],
    mean: &'a [f32],
    var: &'a [f32],
}

/// A convolution with its BatchNorm folded in, in TensorFlow's layout.
struct Folded {
    /// `[kh, kw, in, out]`, or `[kh, kw, c, 1]` for a depthwise convolution.
    filter: Vec<f32>,
    bias: Vec<f32>,
}

/// Folds `bn` into the PyTorch kernel `w` of shape `[out, in, kh, kw]` (for a
/// depthwise kernel `[c, 1, kh, kw]`) and transposes it to TF's layout.
/// Computed in f64, rounded once to f32.
fn fold_batch_norm(w: &[f32], torch_shape: &[usize; 4], bn: &BatchNorm, depthwise: bool) -> Folded {
    let [out_ch, in_ch, kh, kw] = *torch_shape;
    let scale: Vec<f64> =
        bn.gamma.iter().zip(bn.var).map(|(g, v)| f64::from(*g) / (f64::from(*v) + BN_EPS).sqrt()).collect();
    let bias = (0..out_ch).map(|o| (f64::from(bn.beta[o]) - f64::from(bn.mean[o]) * scale[o]) as f32).collect();
    let mut filter = vec![0f32; w.len()];
    for o in 0..out_ch {
        for i in 0..in_ch {
            for y in 0..kh {
                for x in 0..kw {
                    let v = (f64::from(w[((o * in_ch + i) * kh + y) * kw + x]) * scale[o]) as f32;
                    // Depthwise: TF's [kh, kw, c, 1] with c = o (in_ch is 1).
                    let at =
                        if depthwise { (y * kw + x) * out_ch + o } else { ((y * kw + x) * in_ch + i) * out_ch + o };
                    filter[at] = v;
                }
            }
        }
    }
    Folded { filter, bias }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::backends::tensorflow::model::TfModel as LoadedModel;
    use crate::engine::config::EngineConfig as SessionConfig;
    use crate::engine::tensor::TensorValue;
    use crate::engine::Model;
    use crate::image::DecodeOptions;
    use crate::models::test_support;
    use crate::models::torch_pickle::{read_legacy_state_dict, TensorData};
    use crate::ops::preprocess::{ImageSpec, Preprocessor};

    /// The GraphDef built from the real weights, once for all tests.
    fn model() -> &'static LoadedModel {
        static MODEL: OnceLock<LoadedModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            crate::backends::tensorflow::test_graphs::ensure_loaded();
            let weights = read_legacy_state_dict(&test_support::mobilenet_v2_weights()).unwrap();
            let graph_def = mobilenet_v2_graph_def(&weights).unwrap();
            LoadedModel::from_graph_def(&graph_def, &SessionConfig::default()).unwrap()
        })
    }

    /// A picture as torchvision's preprocessing would feed it: the whole
    /// image resized (bilinear, antialiased) to 224x224, scaled to 0..1 and
    /// normalised with the ImageNet mean and std; NHWC, RGB.
    fn model_input(file: &str) -> Vec<f32> {
        model_input_sized(file, INPUT_SIZE)
    }

    /// [`model_input`] resized to `size`x`size`.
    fn model_input_sized(file: &str, size: usize) -> Vec<f32> {
        let path = test_support::skimage_data(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let spec: ImageSpec = serde_json::from_value(serde_json::json!({
            "kind": "encoded", "height": size, "width": size, "channelOrder": "RGB",
            "resize": "bilinear", "scale": 1.0 / 255.0, "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "layout": "NHWC",
        }))
        .unwrap();
        let mut out = Vec::new();
        Preprocessor::default().append_encoded(&bytes, &DecodeOptions::default(), &spec, &mut out).unwrap();
        out
    }

    fn run(inputs: &[Vec<f32>], fetches: &[&str]) -> Vec<TensorValue> {
        run_sized(inputs, INPUT_SIZE, fetches)
    }

    fn run_sized(inputs: &[Vec<f32>], size: usize, fetches: &[&str]) -> Vec<TensorValue> {
        let n = inputs.len() as u64;
        let s = size as u64;
        let x = TensorValue::f32(&[n, s, s, 3], inputs.concat()).unwrap();
        model().run_values(&[(INPUT, x)], fetches).unwrap()
    }

    /// The five most probable classes, best first, printed for the test log.
    fn top5(label: &str, probabilities: &[f64]) -> Vec<(usize, f64)> {
        let mut ranked: Vec<(usize, f64)> = probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.truncate(5);
        let text: Vec<String> = ranked.iter().map(|(c, p)| format!("{c} ({p:.4})")).collect();
        println!("{label} top-5: {}", text.join(", "));
        ranked
    }

    #[test]
    fn coffee_is_an_espresso() {
        let out = run(&[model_input("coffee.png")], &[PROBABILITIES]);
        let top = top5("coffee.png", &out[0].to_f64_vec());
        assert_eq!(top[0].0, 967, "ImageNet class 967 is 'espresso'; got top-5 {top:?}");
    }

    #[test]
    fn chelsea_is_a_cat() {
        let out = run(&[model_input("chelsea.png")], &[PROBABILITIES]);
        let top = top5("chelsea.png", &out[0].to_f64_vec());
        assert!((281..=285).contains(&top[0].0), "ImageNet classes 281..=285 are domestic cats; got top-5 {top:?}");
    }

    #[test]
    fn named_tensors_have_the_promised_shapes_and_values() {
        let info = model().describe();
        for (name, op_type, shape) in [
            (INPUT, "Placeholder", vec![-1, -1, -1, 3]),
            (FEATURES, "Mean", vec![-1, 1280]),
            (MULTISCALE_FEATURES, "ConcatV2", vec![-1, 1536]),
            (LOGITS, "BiasAdd", vec![-1, 1000]),
            (PROBABILITIES, "Softmax", vec![-1, 1000]),
        ] {
            let op = info.operation(name).unwrap_or_else(|| panic!("no operation '{name}'"));
            assert_eq!(op.op_type, op_type, "{name}");
            assert_eq!(op.outputs[0].dtype, "float32", "{name}");
            assert_eq!(op.outputs[0].shape, Some(shape), "{name}");
        }
        // A batch of two: per-image features, and a softmax of the logits.
        let out = run(&[model_input("coffee.png"), model_input("chelsea.png")], &[FEATURES, LOGITS, PROBABILITIES]);
        assert_eq!(out[0].dims(), &[2, FEATURE_DIM as u64]);
        let features = out[0].to_f64_vec();
        assert_eq!(features.len(), 2 * FEATURE_DIM);
        assert!(features.iter().all(|v| v.is_finite() && *v >= 0.0), "pooled ReLU6 outputs are >= 0");
        let (logits, probabilities) = (out[1].to_f64_vec(), out[2].to_f64_vec());
        for image in 0..2 {
            let range = image * NUM_CLASSES..(image + 1) * NUM_CLASSES;
            let p = &probabilities[range.clone()];
            let sum: f64 = p.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "probabilities of image {image} sum to {sum}");
            let l = &logits[range];
            let max = l.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = l.iter().map(|v| (v - max).exp()).sum();
            for (pi, li) in p.iter().zip(l) {
                assert!((pi - (li - max).exp() / z).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn multiscale_features_are_pooled_block_outputs_then_the_features() {
        let out = run(
            &[model_input("coffee.png"), model_input("chelsea.png")],
            &[MULTISCALE_FEATURES, "features.13/add", "features.16/add", FEATURES],
        );
        assert_eq!(out[0].dims(), &[2, MULTISCALE_FEATURE_DIM as u64]);
        let multiscale = out[0].to_f64_vec();
        let features = out[3].to_f64_vec();
        // The spatial mean of a [batch, h, w, c] block output, for image `i`.
        let pooled = |t: &TensorValue, i: usize| -> Vec<f64> {
            let d = t.dims();
            let (hw, c) = ((d[1] * d[2]) as usize, d[3] as usize);
            let v = t.to_f64_vec();
            (0..c).map(|ch| (0..hw).map(|p| v[(i * hw + p) * c + ch]).sum::<f64>() / hw as f64).collect()
        };
        assert_eq!(out[1].dims()[1..], [14, 14, 96]);
        assert_eq!(out[2].dims()[1..], [7, 7, 160]);
        for i in 0..2 {
            let row = &multiscale[i * MULTISCALE_FEATURE_DIM..(i + 1) * MULTISCALE_FEATURE_DIM];
            let expected: Vec<f64> =
                [pooled(&out[1], i), pooled(&out[2], i), features[i * FEATURE_DIM..(i + 1) * FEATURE_DIM].to_vec()]
                    .concat();
            for (k, (a, b)) in row.iter().zip(&expected).enumerate() {
                assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "image {i}, value {k}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn other_input_sizes_run_the_same_network() {
        // Fully convolutional up to the pooling: 300x300 in, the same tensors out.
        let out =
            run_sized(&[model_input_sized("coffee.png", 300)], 300, &[FEATURES, MULTISCALE_FEATURES, PROBABILITIES]);
        assert_eq!(out[0].dims(), &[1, FEATURE_DIM as u64]);
        assert_eq!(out[1].dims(), &[1, MULTISCALE_FEATURE_DIM as u64]);
        let top = top5("coffee.png at 300x300", &out[2].to_f64_vec());
        assert!(top.iter().any(|(c, _)| *c == 967), "espresso (967) in the top 5 at 300x300: {top:?}");
    }

    /// A few deterministic values in -1..1.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn tensor(shape: &[usize], data: Vec<f32>) -> TorchTensor {
        TorchTensor { shape: shape.to_vec(), data: TensorData::F32(data) }
    }

    /// PyTorch's conv2d (NCHW weights, zero padding 1 on every side,
    /// `groups` = channels when depthwise) + BatchNorm + ReLU6, on an NHWC
    /// image, written out naively.
    fn reference_conv_bn_relu6(
        x: &[f32],
        (h, w, c): (usize, usize, usize),
        weights: &BTreeMap<String, TorchTensor>,
        stride: usize,
        depthwise: bool,
    ) -> Vec<f64> {
        let kernel = weights["c.0.weight"].as_f32().unwrap();
        let out_ch = weights["c.0.weight"].shape[0];
        let bn = |n: &str| weights[&format!("c.1.{n}")].as_f32().unwrap();
        let (oh, ow) = ((h + 2 - 3) / stride + 1, (w + 2 - 3) / stride + 1);
        let mut out = Vec::with_capacity(oh * ow * out_ch);
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..out_ch {
                    let mut sum = 0f64;
                    let channels: Vec<usize> = if depthwise { vec![o] } else { (0..c).collect() };
                    for (ki, &i) in channels.iter().enumerate() {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) = ((oy * stride + ky) as isize - 1, (ox * stride + kx) as isize - 1);
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xv = x[(iy as usize * w + ix as usize) * c + i];
                                let in_per_group = channels.len();
                                let wv = kernel[((o * in_per_group + ki) * 3 + ky) * 3 + kx];
                                sum += f64::from(xv) * f64::from(wv);
                            }
                        }
                    }
                    let norm = (sum - f64::from(bn("running_mean")[o]))
                        / (f64::from(bn("running_var")[o]) + BN_EPS).sqrt()
                        * f64::from(bn("weight")[o])
                        + f64::from(bn("bias")[o]);
                    out.push(norm.clamp(0.0, 6.0));
                }
            }
        }
        out
    }

    /// One 3x3 layer through the graph builder against the naive PyTorch
    /// semantics, on an even-sized image where TF's "SAME" would pad
    /// differently for stride 2.
    #[test]
    fn folded_convolutions_match_pytorch_semantics() {
        crate::backends::tensorflow::test_graphs::ensure_loaded();
        let (h, w, c) = (6, 6, 4);
        for (depthwise, stride) in [(false, 1), (false, 2), (true, 1), (true, 2)] {
            let out_ch = if depthwise { c } else { 5 };
            let per_group = if depthwise { 1 } else { c };
            let mut weights = BTreeMap::new();
            weights.insert("c.0.weight".into(), tensor(&[out_ch, per_group, 3, 3], values(out_ch * per_group * 9, 1)));
            weights.insert("c.1.weight".into(), tensor(&[out_ch], values(out_ch, 2)));
            weights.insert("c.1.bias".into(), tensor(&[out_ch], values(out_ch, 3)));
            weights.insert("c.1.running_mean".into(), tensor(&[out_ch], values(out_ch, 4)));
            let var = values(out_ch, 5).iter().map(|v| v.abs() + 0.1).collect();
            weights.insert("c.1.running_var".into(), tensor(&[out_ch], var));

            let mut b = Builder::new(&weights);
            let x = b.placeholder("x", &[None, Some(h as i64), Some(w as i64), Some(c as i64)]).unwrap();
            let spec = if depthwise {
                ConvBn::depthwise("c", "c", c, stride)
            } else {
                ConvBn::module("c", "c", c, out_ch, 3, stride)
            };
            b.conv_bn(x, &spec).unwrap();
            b.check_all_used().unwrap();
            let model = LoadedModel::from_graph_def(&b.graph.graph_def().unwrap(), &SessionConfig::default()).unwrap();

            let image = values(h * w * c, 6).iter().map(|v| v * 3.0).collect::<Vec<_>>();
            let feed = TensorValue::f32(&[1, h as u64, w as u64, c as u64], image.clone()).unwrap();
            let got = model.run_values(&[("x", feed)], &["c/Relu6"]).unwrap().remove(0);
            let expected = reference_conv_bn_relu6(&image, (h, w, c), &weights, stride, depthwise);
            let side = (h + 2 - 3) / stride + 1;
            assert_eq!(got.dims(), &[1, side as u64, side as u64, out_ch as u64]);
            for (i, (g, e)) in got.to_f64_vec().iter().zip(&expected).enumerate() {
                assert!((g - e).abs() < 1e-4, "depthwise={depthwise} stride={stride}: value {i} is {g}, expected {e}");
            }
        }
    }

    #[test]
    fn wrong_weights_are_explained() {
        crate::backends::tensorflow::test_graphs::ensure_loaded();
        let mut weights = read_legacy_state_dict(&test_support::mobilenet_v2_weights()).unwrap();
        let mut extra = weights.clone();
        extra.insert("classifier.2.weight".into(), tensor(&[1], vec![0.0]));
        let err = mobilenet_v2_graph_def(&extra).unwrap_err().to_string();
        assert!(err.contains("1 entries") && err.contains("classifier.2.weight"), "{err}");
        weights.insert("features.5.conv.1.0.weight".into(), tensor(&[1, 1, 3, 3], vec![0.0; 9]));
        let err = mobilenet_v2_graph_def(&weights).unwrap_err().to_string();
        assert!(
            err.contains("'features.5.conv.1.0.weight' has shape [1, 1, 3, 3]") && err.contains("[192, 1, 3, 3]"),
            "{err}"
        );
        weights.remove("features.5.conv.1.0.weight");
        let err = mobilenet_v2_graph_def(&weights).unwrap_err().to_string();
        assert!(err.contains("no 'features.5.conv.1.0.weight'"), "{err}");
    }
}
