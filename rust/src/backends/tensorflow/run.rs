//! Running a [`TfModel`]. Every feed and fetch is checked against the
//! graph first (names, dtypes, ranks and known dims): `catch_unwind` cannot
//! stop a C++ CHECK failure inside `TF_SessionRun`, and the messages here can
//! name the tensor and say how to fix the call.

use tensorflow::{Operation, SessionRunArgs, Tensor};

use crate::backends::tensorflow::dtype::{from_tf, type_name};
use crate::backends::tensorflow::info::known_shape;
use crate::backends::tensorflow::model::TfModel;
use crate::backends::tensorflow::names::TensorName;
use crate::backends::tensorflow::op_def::output_type;
use crate::backends::tensorflow::tensor::{fetch, to_tf, TfBatch, TfTensor};
use crate::engine::dtype::{supported_names, DType};
use crate::engine::info::shape_text;
use crate::engine::names::did_you_mean;
use crate::engine::tensor::{Feed, TensorValue};
use crate::engine::TensorSpec;
use crate::errors::{Result, SparkdlError};

/// A feed's value: built here from a [`TensorValue`], or a batch tensor the caller filled.
enum FeedRef<'a> {
    Owned(TfTensor),
    Batch(&'a Tensor<f32>),
}

/// A tensor of the graph, found and checked.
pub(crate) struct Resolved {
    pub(crate) op: Operation,
    pub(crate) index: i32,
    pub(crate) name: TensorName,
}

impl TfModel {
    /// Feeds `feeds` (tensor name, value), runs, and returns `fetches` in order.
    /// Names are `op` (output 0) or `op:index`.
    pub fn run_values(&self, feeds: &[(&str, TensorValue)], fetches: &[&str]) -> Result<Vec<TensorValue>> {
        self.run_with_targets(feeds, fetches, &[])
    }

    /// Like [`run_values`](Self::run_values), also running the operations
    /// `targets` (e.g. a TF1 graph's `init`) that produce no value.
    pub fn run_with_targets(
        &self,
        feeds: &[(&str, TensorValue)],
        fetches: &[&str],
        targets: &[&str],
    ) -> Result<Vec<TensorValue>> {
        let feeds: Vec<(&str, Feed)> = feeds.iter().map(|(n, v)| (*n, Feed::Value(v))).collect();
        self.run_feeds(&feeds, fetches, targets)
    }

    /// Runs with feeds of either kind: values are copied into TensorFlow
    /// tensors, this backend's batch tensors are fed as they are.
    pub(crate) fn run_feeds(
        &self,
        feeds: &[(&str, Feed<'_>)],
        fetches: &[&str],
        targets: &[&str],
    ) -> Result<Vec<TensorValue>> {
        let mut fed: Vec<(Resolved, FeedRef)> = Vec::with_capacity(feeds.len());
        for (name, feed) in feeds {
            let r = self.resolve_feed(name, feed.dtype(), feed.dims(), fed.iter().map(|(r, _)| r))?;
            let value = match feed {
                Feed::Value(v) => FeedRef::Owned(to_tf(v)?),
                Feed::Batch(b) => match b.as_any().downcast_ref::<TfBatch>() {
                    Some(t) => FeedRef::Batch(&t.0),
                    // Another backend's buffer: copied once.
                    None => FeedRef::Owned(to_tf(&TensorValue::f32(b.dims(), b.values().to_vec())?)?),
                },
            };
            fed.push((r, value));
        }
        self.run_fed(&fed, fetches, targets)
    }

    /// Tensor `name` as a run names it, of a type sparkdl moves.
    pub(crate) fn spec(&self, name: &str, role: &str) -> Result<TensorSpec> {
        let r = self.resolve(name, role)?;
        let dt = output_type(&self.graph, &r.op, r.index as usize);
        let dtype = from_tf(dt).ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "tensor '{}' is {}; sparkdl feeds and reads {} tensors{}",
                r.name,
                type_name(dt),
                supported_names(),
                if role == "fetch" { " (add a tf.cast to the graph)" } else { "" }
            ))
        })?;
        Ok(TensorSpec { name: r.name.to_string(), dtype, shape: known_shape(&self.graph, &r.op, r.index as usize) })
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
            let dtype = from_tf(dt).ok_or_else(|| {
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
                FeedRef::Owned(t) => t.add_feed(&mut args, &r.op, r.index),
                FeedRef::Batch(t) => args.add_feed(&r.op, r.index, *t),
            }
        }
        let tokens: Vec<_> = wanted.iter().map(|(r, _)| args.request_fetch(&r.op, r.index)).collect();
        for op in &target_ops {
            args.add_target(op);
        }
        self.session.run(&mut args).map_err(|e| SparkdlError::ModelRun {
            about_rows: matches!(e.code(), tensorflow::Code::InvalidArgument | tensorflow::Code::OutOfRange),
            message: format!("TensorFlow: running the model failed: {e}"),
        })?;
        tokens
            .into_iter()
            .zip(&wanted)
            .map(|(token, (r, dtype))| fetch(&mut args, token, *dtype, &r.name.to_string()))
            .collect()
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
        match from_tf(dt) {
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
    use crate::backends::tensorflow::test_graphs::{dense_expected, dense_model};

    #[test]
    fn runs_a_batch() {
        let m = dense_model();
        let x = TensorValue::f32(&[2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0]).unwrap();
        let out = m.run_values(&[("x:0", x)], &["y", "xw:0"]).unwrap();
        assert_eq!(out[0].dims(), &[2, 2]);
        let mut expected = dense_expected(&[1.0, 2.0, 3.0]);
        expected.extend(dense_expected(&[-1.0, 0.5, 0.0]));
        assert_eq!(out[0].to_f64_vec(), expected);
        assert_eq!(out[1].dims(), &[2, 2]);
        let xi = TensorValue::i32(&[1, 2], vec![3, -4]).unwrap();
        let out = m.run_values(&[("xi", xi)], &["yi"]).unwrap();
        assert_eq!(out[0], TensorValue::i32(&[1, 2], vec![6, -8]).unwrap());
    }

    #[test]
    fn a_batch_tensor_is_fed_as_it_is() {
        use crate::engine::Model;
        let m = dense_model();
        let mut batch = m.batch_tensor(&[1, 3]).unwrap();
        assert!(batch.as_any().is::<TfBatch>());
        batch.values_mut().copy_from_slice(&[1.0, 2.0, 3.0]);
        let out = m.run(&[("x", Feed::Batch(batch.as_ref()))], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), dense_expected(&[1.0, 2.0, 3.0]));
        // Another backend's buffer is copied.
        use crate::engine::tensor::BatchTensor;
        let mut other = crate::engine::tensor::VecBatch::new(&[1, 3]).unwrap();
        other.values_mut().copy_from_slice(&[1.0, 2.0, 3.0]);
        let out = m.run(&[("x", Feed::Batch(&other))], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), dense_expected(&[1.0, 2.0, 3.0]));
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let m = dense_model();
        let x = TensorValue::f32(&[1, 3], vec![0.0; 3]).unwrap();
        let err = m.run_values(&[("inptu", x.clone())], &["y"]).unwrap_err().to_string();
        assert!(err.contains("feed 'inptu': the graph has no operation"), "{err}");
        let err = m.run_values(&[("x", x.clone())], &["yy"]).unwrap_err().to_string();
        assert!(err.contains("fetch 'yy'") && err.contains("Did you mean: y"), "{err}");
        let err = m.run_values(&[("qqqqqqqqqq", x.clone())], &["y"]).unwrap_err().to_string();
        assert!(err.contains("Its placeholders are: x, any, xi"), "{err}");
        let err = m.run_values(&[("x:3", x)], &["y"]).unwrap_err().to_string();
        assert!(err.contains("has 1 output, so valid names are 'x:0'..'x:0'"), "{err}");
    }

    #[test]
    fn wrong_dtype_and_shape_are_caught_before_running() {
        let m = dense_model();
        let err = m.run_values(&[("x", TensorValue::f64(&[1, 3], vec![0.0; 3]).unwrap())], &["y"]).unwrap_err();
        assert_eq!(err.to_string(), "feed 'x:0' is float32 but the value given is float64; cast the input to float32");
        let err = m.run_values(&[("x", TensorValue::f32(&[1, 4], vec![0.0; 4]).unwrap())], &["y"]).unwrap_err();
        assert_eq!(err.to_string(), "feed 'x:0' takes shape (?, 3) but the value has shape (1, 4)");
        let err = m.run_values(&[("x", TensorValue::f32(&[3], vec![0.0; 3]).unwrap())], &["y"]).unwrap_err();
        assert!(err.to_string().contains("takes shape (?, 3) but the value has shape (3,)"), "{err}");
        // Unknown rank accepts any shape.
        let out = m.run_values(&[("any", TensorValue::f32(&[2, 2, 2], vec![1.0; 8]).unwrap())], &["neg_any"]).unwrap();
        assert_eq!(out[0].dims(), &[2, 2, 2]);
    }

    #[test]
    fn missing_feed_is_a_tensorflow_error_not_a_crash() {
        let err = dense_model().run_values(&[], &["y"]).unwrap_err().to_string();
        assert!(err.contains("running the model failed"), "{err}");
    }

    #[test]
    fn tensor_specs() {
        let m = dense_model();
        let y = m.spec("y", "fetch").unwrap();
        assert_eq!((y.name.as_str(), y.dtype, y.shape), ("y:0", DType::Float32, Some(vec![-1, 2])));
        assert_eq!(m.spec("xi:0", "feed").unwrap().dtype, DType::Int32);
        assert!(m.spec("nope", "feed").is_err());
    }
}
