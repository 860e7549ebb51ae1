//! The TensorFlow writer of [`Network`]: a frozen GraphDef in NHWC layout.
//!
//! - PyTorch pads each 3x3 convolution by one pixel on every side. For stride
//!   1 that is TensorFlow's "SAME"; for stride 2 "SAME" would pad only
//!   bottom/right on even sizes, so those layers get an explicit `Pad` and a
//!   "VALID" convolution;
//! - kernels are transposed from PyTorch's `[out, in, kh, kw]` to TF's
//!   `[kh, kw, in, out]` (depthwise: `[c, 1, kh, kw]` to `[kh, kw, c, 1]`),
//!   and the classifier's `[1000, 1280]` matrix to `[1280, 1000]`.
//!
//! A layer with scope `s` is `s/weights`, `s/bias`, [`s/paddings`, `s/Pad`],
//! `s/Conv2D` (or `s/depthwise`), `s/BiasAdd` and `s/Relu6`. The named
//! tensors are output 0 of the operations of the same name: the input a
//! Placeholder, `features` a Mean, `features_multiscale` a ConcatV2, `logits`
//! a BiasAdd and `probabilities` a Softmax.

use std::collections::BTreeMap;

use tensorflow::{DataType, Graph, Operation, OperationDescription, Output, Shape, Status, Tensor};

use super::{Conv, Emit, Linear, Network, TorchTensor};
use crate::errors::{Result, SparkdlError};

/// Builds torchvision's MobileNetV2 with `weights` (its `state_dict()`, e.g.
/// from `mobilenet_v2-b0353104.pth`) and returns the serialised, frozen
/// GraphDef. Fails, naming the entry, when a weight is missing or has the
/// wrong shape, or when the state dict holds weights the architecture does
/// not use (another width multiplier or model).
pub fn mobilenet_v2_graph_def(weights: &BTreeMap<String, TorchTensor>) -> Result<Vec<u8>> {
    let network = Network::from_state_dict(weights)?;
    let mut writer = GraphWriter::new();
    network.emit(&mut writer)?;
    writer.graph.graph_def().map_err(|e| tf_error("serialising the MobileNetV2 GraphDef", e))
}

fn tf_error(what: &str, e: Status) -> SparkdlError {
    SparkdlError::Backend(format!("TensorFlow: {what}: {e}"))
}

/// A TensorFlow graph under construction.
struct GraphWriter {
    graph: Graph,
}

impl GraphWriter {
    fn new() -> Self {
        GraphWriter { graph: Graph::new() }
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
}

impl Emit for GraphWriter {
    type Value = Output;

    fn input(&mut self, name: &str, channels: usize) -> Result<Output> {
        self.placeholder(name, &[None, None, None, Some(channels as i64)])
    }

    /// Convolution + folded BatchNorm (+ ReLU6), with PyTorch's padding.
    fn conv(&mut self, x: Output, conv: &Conv) -> Result<Output> {
        let Conv { ref scope, in_ch, out_ch, kernel: k, stride, depthwise, relu6, .. } = *conv;
        let filter_dims = if depthwise { [k, k, in_ch, 1] } else { [k, k, in_ch, out_ch] }.map(|d| d as u64);
        let filter = self.float_const(&format!("{scope}/weights"), &filter_dims, &tf_filter(conv))?;
        let bias = self.float_const(&format!("{scope}/bias"), &[out_ch as u64], &conv.bias)?;
        // With stride 1, PyTorch's padding is "SAME"; with stride 2, pad
        // explicitly and convolve "VALID".
        let pad = conv.padding();
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
        let y = self.op(op_type, &format!("{scope}/{op_name}"), &[x, filter], |d| {
            d.set_attr_int_list("strides", &[1, s, s, 1])?;
            d.set_attr_string("padding", padding)?;
            Ok(())
        })?;
        let y = self.op("BiasAdd", &format!("{scope}/BiasAdd"), &[y, bias], |_| Ok(()))?;
        if relu6 {
            self.op("Relu6", &format!("{scope}/Relu6"), &[y], |_| Ok(()))
        } else {
            Ok(y)
        }
    }

    fn add(&mut self, name: &str, a: Output, b: Output) -> Result<Output> {
        self.op("AddV2", name, &[a, b], |_| Ok(()))
    }

    /// The mean of `x` (`[batch, h, w, c]`) over height and width: `[batch, c]`.
    fn global_average_pool(&mut self, name: &str, x: Output) -> Result<Output> {
        let axes = self.int_const(&format!("{name}/axes"), &[2], &[1, 2])?;
        self.op("Mean", name, &[x, axes], |d| d.set_attr_bool("keep_dims", false).map_err(Status::from))
    }

    fn concat(&mut self, name: &str, parts: &[Output]) -> Result<Output> {
        let axis = self.int_const(&format!("{name}/axis"), &[], &[1])?;
        let n = parts.len() as i64;
        self.op("ConcatV2", name, &[], |d| {
            d.add_input_list(parts);
            d.add_input(axis);
            d.set_attr_int("N", n).map_err(Status::from)
        })
    }

    /// `x W^T + b` as a MatMul by the transposed matrix, then a BiasAdd.
    fn linear(&mut self, name: &str, x: Output, linear: &Linear) -> Result<Output> {
        let Linear { inputs, outputs, .. } = *linear;
        let mut w_t = vec![0f32; inputs * outputs];
        for (o, row) in linear.weight.chunks_exact(inputs).enumerate() {
            for (i, v) in row.iter().enumerate() {
                w_t[i * outputs + o] = *v;
            }
        }
        let w = self.float_const(&format!("{name}/weights"), &[inputs as u64, outputs as u64], &w_t)?;
        let bias = self.float_const(&format!("{name}/bias"), &[outputs as u64], &linear.bias)?;
        let matmul = self.op("MatMul", &format!("{name}/MatMul"), &[x, w], |_| Ok(()))?;
        self.op("BiasAdd", name, &[matmul, bias], |_| Ok(()))
    }

    fn softmax(&mut self, name: &str, x: Output) -> Result<Output> {
        self.op("Softmax", name, &[x], |_| Ok(()))
    }
}

/// `conv`'s folded kernel in TF's layout: `[kh, kw, in, out]`, or
/// `[kh, kw, c, 1]` for a depthwise kernel.
fn tf_filter(conv: &Conv) -> Vec<f32> {
    let [out_ch, in_ch, kh, kw] = conv.weight_dims();
    let mut filter = vec![0f32; conv.weight.len()];
    for o in 0..out_ch {
        for i in 0..in_ch {
            for y in 0..kh {
                for x in 0..kw {
                    // Depthwise: [kh, kw, c, 1] with c = o (in_ch is 1).
                    let at = if conv.depthwise {
                        (y * kw + x) * out_ch + o
                    } else {
                        ((y * kw + x) * in_ch + i) * out_ch + o
                    };
                    filter[at] = conv.weight[((o * in_ch + i) * kh + y) * kw + x];
                }
            }
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::super::tests::tensor;
    use super::super::*;
    use super::*;
    use crate::backends::tensorflow::model::TfModel;
    use crate::engine::config::EngineConfig;
    use crate::engine::tensor::TensorValue;
    use crate::engine::Model;
    use crate::image::DecodeOptions;
    use crate::models::test_support;
    use crate::models::torch_pickle::read_legacy_state_dict;
    use crate::ops::preprocess::{ImageSpec, Preprocessor};

    /// The GraphDef built from the real weights, once for all tests.
    fn model() -> &'static TfModel {
        static MODEL: OnceLock<TfModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            crate::backends::tensorflow::test_graphs::ensure_loaded();
            let weights = read_legacy_state_dict(&test_support::mobilenet_v2_weights()).unwrap();
            let graph_def = mobilenet_v2_graph_def(&weights).unwrap();
            TfModel::from_graph_def(&graph_def, &EngineConfig::default()).unwrap()
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

            let mut dict = StateDict::new(&weights);
            let spec = if depthwise {
                ConvBn::depthwise("c", "c", c, stride)
            } else {
                ConvBn::module("c", "c", c, out_ch, 3, stride)
            };
            let conv = dict.conv_bn(&spec).unwrap();
            dict.check_all_used().unwrap();
            let mut b = GraphWriter::new();
            let x = b.placeholder("x", &[None, Some(h as i64), Some(w as i64), Some(c as i64)]).unwrap();
            b.conv(x, &conv).unwrap();
            let model = TfModel::from_graph_def(&b.graph.graph_def().unwrap(), &EngineConfig::default()).unwrap();

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
}
