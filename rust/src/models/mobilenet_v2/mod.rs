//! torchvision's MobileNetV2 (width 1.0, ImageNet-1k) rebuilt from its
//! PyTorch state dict, so that sparkdl can offer a pretrained image model with
//! no Python, no TensorFlow Hub download and no model conversion tool: the
//! weights file (read by [`torch_pickle`](super::torch_pickle)) is all it
//! needs.
//!
//! The network is described once, here ([`Network`]: the layer sequence, the
//! weights read and checked, BatchNorm folded), and written by two writers:
//!
//! - [`mobilenet_v2_graph_def`]: a frozen TensorFlow GraphDef, NHWC
//!   (see [`tf`] for how PyTorch's padding and layouts are mapped);
//! - [`mobilenet_v2_onnx`]: an ONNX model (opset 17), NCHW as PyTorch
//!   computes it (see [`onnx`]).
//!
//! Both compute exactly what torchvision's `mobilenet_v2` does in `eval()`
//! mode:
//!
//! - every BatchNorm (eps 1e-5) is folded into the convolution before it:
//!   `w' = w * gamma / sqrt(var + eps)` per output channel, plus a bias
//!   `b' = beta - mean * gamma / sqrt(var + eps)`;
//! - each 3x3 convolution is padded by one pixel on every side, as PyTorch does;
//! - Dropout is the identity at inference and is left out.
//!
//! Operations are named after the torchvision modules they come from
//! (`features.3/expand/...`, `features.3/depthwise/...`, `features.3/add`).
//! The tensors other code relies on are [`INPUT`], [`FEATURES`],
//! [`MULTISCALE_FEATURES`], [`LOGITS`] and [`PROBABILITIES`], in both formats.
//!
//! Like torchvision's model, the network is fully convolutional up to a
//! global average pool, so its input takes any height and width (224x224 is
//! what the weights were trained at; callers choose the size they resize to).

use std::collections::{BTreeMap, BTreeSet};

use super::torch_pickle::TorchTensor;
use crate::errors::{Result, SparkdlError};

pub mod onnx;
pub mod tf;

pub use onnx::mobilenet_v2_onnx;
pub use tf::mobilenet_v2_graph_def;

/// The input: float32 images of at least 32x32 ([`INPUT_SIZE`] is the
/// training size), RGB, already normalised as torchvision expects:
/// `(x / 255 - IMAGENET_MEAN) / IMAGENET_STD` per channel. `[batch, height,
/// width, 3]` in the GraphDef, `[batch, 3, height, width]` in the ONNX model.
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
/// The outputs, each float32 `[batch, width]`: (name, width).
pub const OUTPUTS: [(&str, usize); 4] = [
    (FEATURES, FEATURE_DIM),
    (MULTISCALE_FEATURES, MULTISCALE_FEATURE_DIM),
    (LOGITS, NUM_CLASSES),
    (PROBABILITIES, NUM_CLASSES),
];

/// Height and width of the input images.
pub const INPUT_SIZE: usize = 224;
/// Channels of the input images (RGB).
pub const INPUT_CHANNELS: usize = 3;
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

/// The whole network with its weights read, checked and folded, in the
/// order it computes.
struct Network {
    /// `features.0`: 3x3 stride 2, 3 to 32 channels.
    stem: Conv,
    /// `features.1` to `features.17`.
    blocks: Vec<Block>,
    /// `features.18`: 1x1, 320 to 1280 channels.
    head: Conv,
    /// `classifier.1` (`classifier.0` is Dropout).
    classifier: Linear,
}

/// One convolution with its BatchNorm folded in, optionally followed by ReLU6.
struct Conv {
    /// Name scope of the operations, after the torchvision module (`features.3/expand`).
    scope: String,
    in_ch: usize,
    out_ch: usize,
    kernel: usize,
    stride: usize,
    /// Depthwise: one filter per channel (groups = channels, `in_ch == out_ch`).
    depthwise: bool,
    relu6: bool,
    /// The folded kernel in PyTorch's (and ONNX's) layout, [`Conv::weight_dims`].
    weight: Vec<f32>,
    /// The folded bias, one per output channel.
    bias: Vec<f32>,
}

impl Conv {
    /// `[out, in, kh, kw]`, or `[c, 1, kh, kw]` when depthwise.
    fn weight_dims(&self) -> [usize; 4] {
        let in_per_group = if self.depthwise { 1 } else { self.in_ch };
        [self.out_ch, in_per_group, self.kernel, self.kernel]
    }

    /// PyTorch's zero padding on every side.
    fn padding(&self) -> usize {
        (self.kernel - 1) / 2
    }
}

/// torchvision's `InvertedResidual`: [1x1 expand + ReLU6], 3x3 depthwise +
/// ReLU6, 1x1 linear projection, plus the input when the shape is kept.
struct Block {
    /// `features.{index}`.
    name: String,
    convs: Vec<Conv>,
    residual: bool,
    /// Its pooled output joins [`MULTISCALE_FEATURES`].
    multiscale: bool,
}

/// `y = x W^T + b`, in PyTorch's layout: `weight` is `[outputs, inputs]`.
struct Linear {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// What a writer of the network provides: each method adds the operations of
/// one step and returns the value (tensor) it computes.
trait Emit {
    type Value: Clone;

    /// The float32 image input with `channels` channels.
    fn input(&mut self, name: &str, channels: usize) -> Result<Self::Value>;
    fn conv(&mut self, x: Self::Value, conv: &Conv) -> Result<Self::Value>;
    fn add(&mut self, name: &str, a: Self::Value, b: Self::Value) -> Result<Self::Value>;
    /// The mean over height and width: `[batch, channels]`.
    fn global_average_pool(&mut self, name: &str, x: Self::Value) -> Result<Self::Value>;
    /// Concatenation of `[batch, n]` values along the second axis.
    fn concat(&mut self, name: &str, parts: &[Self::Value]) -> Result<Self::Value>;
    fn linear(&mut self, name: &str, x: Self::Value, linear: &Linear) -> Result<Self::Value>;
    fn softmax(&mut self, name: &str, x: Self::Value) -> Result<Self::Value>;
}

impl Network {
    /// Reads torchvision's MobileNetV2 from `weights` (its `state_dict()`).
    /// Fails, naming the entry, when a weight is missing or has the wrong
    /// shape, or when the state dict holds weights the architecture does not
    /// use (another width multiplier or model).
    fn from_state_dict(weights: &BTreeMap<String, TorchTensor>) -> Result<Network> {
        let mut dict = StateDict::new(weights);
        let stem = dict.conv_bn(&ConvBn::module("features.0", "features.0", INPUT_CHANNELS, STEM_CHANNELS, 3, 2))?;
        let mut in_ch = STEM_CHANNELS;
        let mut blocks: Vec<Block> = Vec::new();
        for (t, c, n, s) in INVERTED_RESIDUAL_SETTINGS {
            for repeat in 0..n {
                let stride = if repeat == 0 { s } else { 1 };
                blocks.push(dict.inverted_residual(blocks.len() + 1, in_ch, c, stride, t)?);
                in_ch = c;
            }
            if let Some(last) = blocks.last_mut().filter(|_| MULTISCALE_STAGE_CHANNELS.contains(&c)) {
                last.multiscale = true;
            }
        }
        let last = format!("features.{}", blocks.len() + 1);
        let head = dict.conv_bn(&ConvBn::module(&last, &last, in_ch, FEATURE_DIM, 1, 1))?;
        let classifier = Linear {
            inputs: FEATURE_DIM,
            outputs: NUM_CLASSES,
            weight: dict.weight("classifier.1.weight", &[NUM_CLASSES, FEATURE_DIM])?.to_vec(),
            bias: dict.weight("classifier.1.bias", &[NUM_CLASSES])?.to_vec(),
        };
        dict.check_all_used()?;
        Ok(Network { stem, blocks, head, classifier })
    }

    /// Writes the network with `e`, from [`INPUT`] to the [`OUTPUTS`].
    fn emit<E: Emit>(&self, e: &mut E) -> Result<()> {
        let input = e.input(INPUT, INPUT_CHANNELS)?;
        let mut x = e.conv(input, &self.stem)?;
        let mut stage_outputs = Vec::new();
        for block in &self.blocks {
            let mut y = x.clone();
            for conv in &block.convs {
                y = e.conv(y, conv)?;
            }
            if block.residual {
                y = e.add(&format!("{}/add", block.name), x, y)?;
            }
            if block.multiscale {
                stage_outputs.push((&block.name, y.clone()));
            }
            x = y;
        }
        x = e.conv(x, &self.head)?;
        let features = e.global_average_pool(FEATURES, x)?;

        let mut parts = Vec::new();
        for (block, output) in stage_outputs {
            parts.push(e.global_average_pool(&format!("{MULTISCALE_FEATURES}/{block}"), output)?);
        }
        parts.push(features.clone());
        e.concat(MULTISCALE_FEATURES, &parts)?;

        let logits = e.linear(LOGITS, features, &self.classifier)?;
        e.softmax(PROBABILITIES, logits)?;
        Ok(())
    }
}

/// Where one Conv-BN(-ReLU6) layer's weights are in the state dict.
struct ConvBn {
    /// Name scope of the operations.
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

/// The state dict being read, remembering which entries were used.
struct StateDict<'w> {
    weights: &'w BTreeMap<String, TorchTensor>,
    used: BTreeSet<&'w str>,
}

impl<'w> StateDict<'w> {
    fn new(weights: &'w BTreeMap<String, TorchTensor>) -> Self {
        StateDict { weights, used: BTreeSet::new() }
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

    /// The convolution and BatchNorm that `spec` names, folded into one.
    fn conv_bn(&mut self, spec: &ConvBn) -> Result<Conv> {
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
        let (weight, bias) = fold_batch_norm(w, out_ch, &norm);
        Ok(Conv { scope: scope.clone(), in_ch, out_ch, kernel: k, stride, depthwise, relu6, weight, bias })
    }

    /// `InvertedResidual` number `index` of `features`.
    fn inverted_residual(
        &mut self,
        index: usize,
        in_ch: usize,
        out_ch: usize,
        stride: usize,
        expand_ratio: usize,
    ) -> Result<Block> {
        let name = format!("features.{index}");
        let hidden = in_ch * expand_ratio;
        // torchvision numbers the sub-modules of `conv` in order: a
        // Conv-BN-ReLU6 module (`.0` conv, `.1` BN) per expand and depthwise
        // step, then the projection's bare Conv2d and BatchNorm.
        let mut next = 0;
        let mut convs = Vec::new();
        if expand_ratio != 1 {
            let expand = ConvBn::module(&format!("{name}/expand"), &format!("{name}.conv.0"), in_ch, hidden, 1, 1);
            convs.push(self.conv_bn(&expand)?);
            next += 1;
        }
        let depthwise = ConvBn::depthwise(&format!("{name}/depthwise"), &format!("{name}.conv.{next}"), hidden, stride);
        convs.push(self.conv_bn(&depthwise)?);
        let project = ConvBn {
            scope: format!("{name}/project"),
            conv: format!("{name}.conv.{}", next + 1),
            bn: format!("{name}.conv.{}", next + 2),
            in_ch: hidden,
            out_ch,
            kernel: 1,
            stride: 1,
            depthwise: false,
            relu6: false,
        };
        convs.push(self.conv_bn(&project)?);
        Ok(Block { name, convs, residual: stride == 1 && in_ch == out_ch, multiscale: false })
    }
}

/// A BatchNorm's parameters, one value per channel.
struct BatchNorm<'a> {
    gamma: &'a [f32],
    beta: &'a [f32],
    mean: &'a [f32],
    var: &'a [f32],
}

/// Folds `bn` into the PyTorch kernel `w` (output channel first, `out_ch` of
/// them) and returns the kernel, in the same layout, and the bias. Computed in
/// f64, rounded once to f32.
fn fold_batch_norm(w: &[f32], out_ch: usize, bn: &BatchNorm) -> (Vec<f32>, Vec<f32>) {
    let scale: Vec<f64> =
        bn.gamma.iter().zip(bn.var).map(|(g, v)| f64::from(*g) / (f64::from(*v) + BN_EPS).sqrt()).collect();
    let bias = (0..out_ch).map(|o| (f64::from(bn.beta[o]) - f64::from(bn.mean[o]) * scale[o]) as f32).collect();
    let per_channel = w.len() / out_ch.max(1);
    let weight = w.iter().enumerate().map(|(at, v)| (f64::from(*v) * scale[at / per_channel]) as f32).collect();
    (weight, bias)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::models::test_support;
    use crate::models::torch_pickle::{read_legacy_state_dict, TensorData};

    pub(crate) fn tensor(shape: &[usize], data: Vec<f32>) -> TorchTensor {
        TorchTensor { shape: shape.to_vec(), data: TensorData::F32(data) }
    }

    #[test]
    fn the_network_has_torchvisions_layers() {
        let weights = read_legacy_state_dict(&test_support::mobilenet_v2_weights()).unwrap();
        let net = Network::from_state_dict(&weights).unwrap();
        assert_eq!(net.blocks.len(), 17);
        assert_eq!(net.head.scope, "features.18");
        let residual: Vec<&str> = net.blocks.iter().filter(|b| b.residual).map(|b| b.name.as_str()).collect();
        assert_eq!(residual.len(), 10, "{residual:?}");
        let multiscale: Vec<&str> = net.blocks.iter().filter(|b| b.multiscale).map(|b| b.name.as_str()).collect();
        assert_eq!(multiscale, ["features.13", "features.16"]);
        let scopes: Vec<&str> = net.blocks[1].convs.iter().map(|c| c.scope.as_str()).collect();
        assert_eq!(scopes, ["features.2/expand", "features.2/depthwise", "features.2/project"]);
        assert_eq!(net.blocks[0].convs.len(), 2, "features.1 has no expansion");

        // The stem's first weight, folded by hand: w * gamma / sqrt(var + eps).
        let value = |key: &str, i: usize| f64::from(weights[key].as_f32().unwrap()[i]);
        let scale = value("features.0.1.weight", 0) / (value("features.0.1.running_var", 0) + BN_EPS).sqrt();
        let folded = f64::from(net.stem.weight[0]);
        assert!((folded - value("features.0.0.weight", 0) * scale).abs() < 1e-6, "{folded}");
        let bias = value("features.0.1.bias", 0) - value("features.0.1.running_mean", 0) * scale;
        assert!((f64::from(net.stem.bias[0]) - bias).abs() < 1e-6);
        let params: usize = std::iter::once(&net.stem)
            .chain(net.blocks.iter().flat_map(|b| &b.convs))
            .chain([&net.head])
            .map(|c| c.weight.len() + c.bias.len())
            .sum::<usize>()
            + net.classifier.weight.len()
            + net.classifier.bias.len();
        // torchvision's 3,504,872 parameters less BatchNorm's scales and shifts, plus the folded biases.
        assert_eq!(params, 3_504_872 - 17_056 * 2 + 17_056);
    }

    type Writer = fn(&BTreeMap<String, TorchTensor>) -> Result<Vec<u8>>;

    /// Both writers read the weights through [`Network`]: the same checks, the same messages.
    #[test]
    fn wrong_weights_are_explained_by_both_writers() {
        let writers: [(&str, Writer); 2] = [("graphdef", mobilenet_v2_graph_def), ("onnx", mobilenet_v2_onnx)];
        let mut weights = read_legacy_state_dict(&test_support::mobilenet_v2_weights()).unwrap();
        let errors = |weights: &BTreeMap<String, TorchTensor>| -> Vec<String> {
            writers.iter().map(|(_, write)| write(weights).unwrap_err().to_string()).collect()
        };
        let mut extra = weights.clone();
        extra.insert("classifier.2.weight".into(), tensor(&[1], vec![0.0]));
        let mut int64 = weights.clone();
        int64.insert(
            "classifier.1.bias".into(),
            TorchTensor { shape: vec![1000], data: TensorData::I64(vec![0; 1000]) },
        );
        let too_many = errors(&extra);
        let not_float = errors(&int64);
        weights.insert("features.5.conv.1.0.weight".into(), tensor(&[1, 1, 3, 3], vec![0.0; 9]));
        let misshapen = errors(&weights);
        weights.remove("features.5.conv.1.0.weight");
        let missing = errors(&weights);
        for (i, (format, _)) in writers.iter().enumerate() {
            let err = &too_many[i];
            assert!(err.contains("1 entries") && err.contains("classifier.2.weight"), "{format}: {err}");
            let err = &not_float[i];
            assert!(err.contains("'classifier.1.bias' is int64, expected float32"), "{format}: {err}");
            let err = &misshapen[i];
            assert!(
                err.contains("'features.5.conv.1.0.weight' has shape [1, 1, 3, 3]") && err.contains("[192, 1, 3, 3]"),
                "{format}: {err}"
            );
            let err = &missing[i];
            assert!(err.contains("no 'features.5.conv.1.0.weight'"), "{format}: {err}");
        }
        for messages in [too_many, not_float, misshapen, missing] {
            assert_eq!(messages[0], messages[1]);
        }
    }
}
