//! Running a [`LoadedModel`]. Every feed and fetch is checked against the
//! graph first (names, dtypes, ranks and known dims): `catch_unwind` cannot
//! stop a C++ CHECK failure inside `TF_SessionRun`, and the messages here can
//! name the tensor and say how to fix the call.

use tensorflow::{Operation, SessionRunArgs, Tensor};

use crate::errors::{Result, SparkdlError};
use crate::tf::dtype::{supported_names, type_name, DType};
use crate::tf::info::{known_shape, shape_text, tensor_info, TensorInfo};
use crate::tf::model::LoadedModel;
use crate::tf::names::{did_you_mean, TensorName};
use crate::tf::op_def::{output_type, OutputTypes};
use crate::tf::tensor::{fetch, TensorValue, TfTensor};

/// A feed's value: built here from a [`TensorValue`], or the caller's own tensor.
enum FeedRef<'a> {
    Any(&'a TfTensor),
    F32(&'a Tensor<f32>),
}

/// A tensor of the graph, found and checked.
pub(crate) struct Resolved {
    pub(crate) op: Operation,
    pub(crate) index: i32,
    pub(crate) name: TensorName,
}

impl LoadedModel {
    /// Feeds `feeds` (tensor name, value), runs, and returns `fetches` in order.
    /// Names are `op` (output 0) or `op:index`.
    pub fn run(&self, feeds: &[(&str, TensorValue)], fetches: &[&str]) -> Result<Vec<TensorValue>> {
        self.run_with_targets(feeds, fetches, &[])
    }

    /// Like [`run`](Self::run), also running the operations `targets` (e.g. a
    /// TF1 graph's `init`) that produce no value.
    pub fn run_with_targets(
        &self,
        feeds: &[(&str, TensorValue)],
        fetches: &[&str],
        targets: &[&str],
    ) -> Result<Vec<TensorValue>> {
        let mut resolved: Vec<Resolved> = Vec::with_capacity(feeds.len());
        for (name, value) in feeds {
            resolved.push(self.resolve_feed(name, value.dtype(), value.dims(), &resolved)?);
        }
        let tensors = feeds.iter().map(|(_, value)| value.to_tf()).collect::<Result<Vec<_>>>()?;
        let fed: Vec<(Resolved, FeedRef)> =
            resolved.into_iter().zip(&tensors).map(|(r, t)| (r, FeedRef::Any(t))).collect();
        self.run_fed(&fed, fetches, targets)
    }

    /// Like [`run`](Self::run) with float32 tensors the caller built (and may
    /// reuse for the next run): no copy of the inputs on the way in.
    pub fn run_f32(&self, feeds: &[(&str, &Tensor<f32>)], fetches: &[&str]) -> Result<Vec<TensorValue>> {
        let mut fed: Vec<(Resolved, FeedRef)> = Vec::with_capacity(feeds.len());
        for (name, tensor) in feeds {
            let r = self.resolve_feed(name, DType::Float32, tensor.dims(), fed.iter().map(|(r, _)| r))?;
            fed.push((r, FeedRef::F32(tensor)));
        }
        self.run_fed(&fed, fetches, &[])
    }

    /// Feed `name`, resolved and checked against its dtype and dims, and
    /// against the feeds `earlier` (a tensor is fed once).
    fn resolve_feed<'r>(
        &self,
        name: &str,
        dtype: DType,
        dims: &[u64],
        earlier: impl IntoIterator<Item = &'r Resolved>,
    ) -> Result<Resolved> {
        let r = self.resolve(name, "feed")?;
        self.check_feed(&r, dtype, dims)?;
        if earlier.into_iter().any(|other| other.name == r.name) {
            return Err(SparkdlError::InvalidArgument(format!("tensor '{}' is fed twice", r.name)));
        }
        Ok(r)
    }

    fn run_fed(&self, fed: &[(Resolved, FeedRef)], fetches: &[&str], targets: &[&str]) -> Result<Vec<TensorValue>> {
        let mut wanted = Vec::with_capacity(fetches.len());
        for name in fetches {
            let r = self.resolve(name, "fetch")?;
            let dt = output_type(&self.graph, &r.op, r.index as usize);
            let dtype = DType::from_tf(dt).ok_or_else(|| {
                SparkdlError::InvalidArgument(format!(
                    "output '{}' is a {} tensor; sparkdl reads {} tensors (add a tf.cast to the graph)",
                    r.name,
                    type_name(dt),
                    supported_names()
                ))
            })?;
            wanted.push((r, dtype));
        }
        let mut target_ops = Vec::with_capacity(targets.len());
        for name in targets {
            target_ops.push(self.find_op(name, "target")?);
        }

        let mut args = SessionRunArgs::new();
        for (r, tensor) in fed {
            match tensor {
                FeedRef::Any(t) => t.add_feed(&mut args, &r.op, r.index),
                FeedRef::F32(t) => args.add_feed(&r.op, r.index, *t),
            }
        }
        let tokens: Vec<_> = wanted.iter().map(|(r, _)| args.request_fetch(&r.op, r.index)).collect();
        for op in &target_ops {
            args.add_target(op);
        }
        self.session.run(&mut args).map_err(|e| SparkdlError::ModelRun {
            about_rows: matches!(e.code(), tensorflow::Code::InvalidArgument | tensorflow::Code::OutOfRange),
            message: format!("running the model failed: {e}"),
        })?;
        tokens
            .into_iter()
            .zip(&wanted)
            .map(|(token, (r, dtype))| fetch(&mut args, token, *dtype, &r.name.to_string()))
            .collect()
    }

    /// The dtype and static shape of tensor `name`, or an error naming close names.
    pub fn tensor_info(&self, name: &str) -> Result<TensorInfo> {
        let r = self.resolve(name, "tensor")?;
        Ok(tensor_info(&self.graph, &mut OutputTypes::new(&self.graph), &r.op, &r.name.op, r.index as usize))
    }

    /// The element type of tensor `name` if sparkdl can feed or read it.
    pub fn tensor_dtype(&self, name: &str) -> Result<DType> {
        let r = self.resolve(name, "tensor")?;
        let dt = output_type(&self.graph, &r.op, r.index as usize);
        DType::from_tf(dt).ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "tensor '{}' is {}; sparkdl feeds and reads {} tensors",
                r.name,
                type_name(dt),
                supported_names()
            ))
        })
    }

    pub(crate) fn resolve(&self, name: &str, role: &str) -> Result<Resolved> {
        let parsed = TensorName::parse(name).map_err(|e| SparkdlError::InvalidArgument(format!("{role} {e}")))?;
        let op = self.find_op(&parsed.op, role)?;
        let n = op.num_outputs();
        if parsed.index as usize >= n {
            return Err(SparkdlError::InvalidArgument(format!(
                "{role} '{name}': operation '{}' ({}) has {n} output{}, so valid names are {}",
                parsed.op,
                op.op_type().unwrap_or_default(),
                if n == 1 { "" } else { "s" },
                if n == 0 {
                    "none (it is a target, not a tensor)".to_string()
                } else {
                    format!("'{}:0'..'{}:{}'", parsed.op, parsed.op, n - 1)
                }
            )));
        }
        Ok(Resolved { op, index: parsed.index, name: parsed })
    }

    fn find_op(&self, op_name: &str, role: &str) -> Result<Operation> {
        let found = self.graph.operation_by_name(op_name).map_err(|_| {
            SparkdlError::InvalidArgument(format!("{role} '{op_name}': names cannot contain a NUL character"))
        })?;
        found.ok_or_else(|| {
            let ops: Vec<(String, String)> = self
                .graph
                .operation_iter()
                .map(|o| (o.name().unwrap_or_default(), o.op_type().unwrap_or_default()))
                .collect();
            let mut hint = did_you_mean(op_name, ops.iter().map(|(n, _)| n.as_str()));
            if hint.is_empty() {
                let inputs: Vec<&str> =
                    ops.iter().filter(|(_, t)| t == "Placeholder").map(|(n, _)| n.as_str()).take(10).collect();
                if !inputs.is_empty() {
                    hint = format!(" Its placeholders are: {}.", inputs.join(", "));
                }
            }
            SparkdlError::InvalidArgument(format!(
                "{role} '{op_name}': the graph has no operation of that name ({} operations).{hint}",
                ops.len()
            ))
        })
    }

    fn check_feed(&self, r: &Resolved, dtype: DType, got: &[u64]) -> Result<()> {
        let dt = output_type(&self.graph, &r.op, r.index as usize);
        match DType::from_tf(dt) {
            Some(d) if d == dtype => {}
            Some(d) => {
                return Err(SparkdlError::InvalidArgument(format!(
                    "feed '{}' is {d} but the value given is {}; cast the input to {d}",
                    r.name, dtype
                )))
            }
            None => {
                return Err(SparkdlError::InvalidArgument(format!(
                    "feed '{}' is a {} tensor; sparkdl feeds {} tensors",
                    r.name,
                    type_name(dt),
                    supported_names()
                )))
            }
        }
        if let Some(expected) = known_shape(&self.graph, &r.op, r.index as usize) {
            let fits = expected.len() == got.len() && expected.iter().zip(got).all(|(e, g)| *e < 0 || *e as u64 == *g);
            if !fits {
                return Err(SparkdlError::InvalidArgument(format!(
                    "feed '{}' takes shape {} but the value has shape {}",
                    r.name,
                    shape_text(Some(&expected)),
                    shape_text(Some(&got.iter().map(|d| *d as i64).collect::<Vec<_>>()))
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tf::session_config::SessionConfig;
    use crate::tf::test_graphs::{dense_expected, dense_graph_def};

    fn model() -> LoadedModel {
        LoadedModel::from_graph_def(&dense_graph_def(), &SessionConfig::default()).unwrap()
    }

    #[test]
    fn runs_a_batch() {
        let m = model();
        let x = TensorValue::f32(&[2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0]).unwrap();
        let out = m.run(&[("x:0", x)], &["y", "xw:0"]).unwrap();
        assert_eq!(out[0].dims(), &[2, 2]);
        let mut expected = dense_expected(&[1.0, 2.0, 3.0]);
        expected.extend(dense_expected(&[-1.0, 0.5, 0.0]));
        assert_eq!(out[0].to_f64_vec(), expected);
        assert_eq!(out[1].dims(), &[2, 2]);
        let xi = TensorValue::i32(&[1, 2], vec![3, -4]).unwrap();
        let out = m.run(&[("xi", xi)], &["yi"]).unwrap();
        assert_eq!(out[0], TensorValue::i32(&[1, 2], vec![6, -8]).unwrap());
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let m = model();
        let x = TensorValue::f32(&[1, 3], vec![0.0; 3]).unwrap();
        let err = m.run(&[("inptu", x.clone())], &["y"]).unwrap_err().to_string();
        assert!(err.contains("feed 'inptu': the graph has no operation"), "{err}");
        let err = m.run(&[("x", x.clone())], &["yy"]).unwrap_err().to_string();
        assert!(err.contains("fetch 'yy'") && err.contains("Did you mean: y"), "{err}");
        let err = m.run(&[("qqqqqqqqqq", x.clone())], &["y"]).unwrap_err().to_string();
        assert!(err.contains("Its placeholders are: x, any, xi"), "{err}");
        let err = m.run(&[("x:3", x)], &["y"]).unwrap_err().to_string();
        assert!(err.contains("has 1 output, so valid names are 'x:0'..'x:0'"), "{err}");
    }

    #[test]
    fn wrong_dtype_and_shape_are_caught_before_running() {
        let m = model();
        let err = m.run(&[("x", TensorValue::f64(&[1, 3], vec![0.0; 3]).unwrap())], &["y"]).unwrap_err();
        assert_eq!(err.to_string(), "feed 'x:0' is float32 but the value given is float64; cast the input to float32");
        let err = m.run(&[("x", TensorValue::f32(&[1, 4], vec![0.0; 4]).unwrap())], &["y"]).unwrap_err();
        assert_eq!(err.to_string(), "feed 'x:0' takes shape (?, 3) but the value has shape (1, 4)");
        let err = m.run(&[("x", TensorValue::f32(&[3], vec![0.0; 3]).unwrap())], &["y"]).unwrap_err();
        assert!(err.to_string().contains("takes shape (?, 3) but the value has shape (3,)"), "{err}");
        // Unknown rank accepts any shape.
        let out = m.run(&[("any", TensorValue::f32(&[2, 2, 2], vec![1.0; 8]).unwrap())], &["neg_any"]).unwrap();
        assert_eq!(out[0].dims(), &[2, 2, 2]);
    }

    #[test]
    fn missing_feed_is_a_tensorflow_error_not_a_crash() {
        let err = model().run(&[], &["y"]).unwrap_err().to_string();
        assert!(err.contains("running the model failed"), "{err}");
    }

    #[test]
    fn tensor_info_and_dtype() {
        let m = model();
        let info = m.tensor_info("y").unwrap();
        assert_eq!((info.name.as_str(), info.dtype.as_str(), info.shape), ("y:0", "float32", Some(vec![-1, 2])));
        assert_eq!(m.tensor_dtype("xi:0").unwrap(), DType::Int32);
        assert!(m.tensor_info("nope").is_err());
    }
}
