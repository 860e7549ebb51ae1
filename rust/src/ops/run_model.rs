//! Runs a model (any backend's, through [`crate::engine::Model`]) over one
//! Arrow batch, row for row.
//!
//! Each input column feeds one tensor (see [`inputs`] for the column types);
//! one row is one example. Valid rows are stacked into tensors `[n, ...]` and
//! run in chunks of at most `batchSize` rows (rows whose examples differ in
//! shape, e.g. images of different sizes without a resize, run in separate
//! chunks; a tensor with a fixed batch dimension gets chunks of exactly that
//! size, the last one padded by repeating its last row). Each output becomes a
//! column in the layout its spec asks for ([`OutputFormat`]: the tensor's own
//! element type by default), and a final `error` column says why a row has
//! null outputs: a null or misshapen input (named, with the expected size), or
//! the backend's error for that row.
//!
//! Failures: a chunk the backend rejects with a code about the fed values
//! (`SparkdlError::ModelRun` with `about_rows`) is re-run row by row, so one
//! bad row does not fail the others; if every row then fails alone, the model
//! is at fault and the batch fails. Any other failure (out of memory, a
//! missing kernel) fails the batch at once, with the backend's message, so
//! Spark retries the task instead of writing null rows.
//!
//! Run spec JSON (built by the JVM's `org.sparkdl.engine.RunSpec`):
//! ```json
//! {"inputs": [{"column": "features", "tensor": "x:0"}],
//!  "outputs": [{"tensor": "y:0", "column": "prediction", "format": {"kind": "vector"}}]}
//! ```
//! An input may add `"image": {...}` ([`ImageSpec`]) to feed an image column.

mod direct;
mod inputs;
mod outputs;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use arrow::array::{Array, StructArray};
use serde::{Deserialize, Serialize};

use crate::engine::tensor::{Feed as Value, TensorData, TensorValue};
use crate::engine::Model;
use crate::errors::{Result, SparkdlError};
use crate::ops::preprocess::{ImageSpec, Preprocessor};
use inputs::{Example, Feed};
use outputs::Collected;
pub use outputs::OutputFormat;

/// The name of the last output column.
pub const ERROR_COLUMN: &str = "error";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSpec {
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
    /// At most this many rows per `Session::run` (default: the whole batch).
    #[serde(default)]
    pub batch_size: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputSpec {
    pub column: String,
    pub tensor: String,
    /// Present when the column holds images to preprocess.
    #[serde(default)]
    pub image: Option<ImageSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputSpec {
    pub tensor: String,
    pub column: String,
    #[serde(default)]
    pub format: OutputFormat,
}

impl RunSpec {
    pub fn from_json(json: &str) -> Result<RunSpec> {
        let spec: RunSpec = serde_json::from_str(json)?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SparkdlError::InvalidArgument(format!("run spec: {m}")));
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return bad("name at least one input {column, tensor} and one output {tensor, column}".into());
        }
        if self.batch_size == Some(0) {
            return bad("batchSize must be positive".into());
        }
        let mut seen = std::collections::HashSet::new();
        for o in &self.outputs {
            if o.column == ERROR_COLUMN || !seen.insert(o.column.as_str()) {
                return bad(format!("output column '{}' is used twice (or is the error column's name)", o.column));
            }
        }
        Ok(())
    }
}

/// Runs `model` on `input` as `spec` says; one output row per input row.
pub fn run_batch(model: &dyn Model, input: &StructArray, spec: &RunSpec) -> Result<StructArray> {
    spec.validate()?;
    let feeds = spec
        .inputs
        .iter()
        .map(|i| Feed::new(model, input, &i.column, &i.tensor, i.image.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    let dtypes = spec
        .outputs
        .iter()
        .map(|o| {
            model
                .output(&o.tensor)
                .map(|t| t.dtype.read_as())
                .map_err(|e| SparkdlError::InvalidArgument(format!("output column '{}': {e}", o.column)))
        })
        .collect::<Result<Vec<_>>>()?;
    let fixed = fixed_batch(&feeds)?;
    let chunk_size = fixed.unwrap_or(spec.batch_size.unwrap_or(usize::MAX)).max(1);

    let n = input.len();
    let fetches: Vec<&str> = spec.outputs.iter().map(|o| o.tensor.as_str()).collect();
    if let Some(shapes) = feeds.iter().map(Feed::direct_shape).collect::<Option<Vec<_>>>() {
        let cap = fixed.unwrap_or(chunk_size.min(n)).max(1);
        let mut out = Collected::new(n, dtypes);
        direct::run(model, &feeds, &shapes, cap, fixed.is_some(), &fetches, &mut out)?;
        return out.finish(spec);
    }
    let mut out = Collected::new(n, dtypes);
    let mut examples: Vec<Option<Vec<Example>>> = Vec::with_capacity(n);
    let mut pre = Preprocessor::default();
    for row in 0..n {
        match feeds.iter().map(|f| f.example(row, &mut pre)).collect::<std::result::Result<Vec<_>, _>>() {
            Ok(ex) => examples.push(Some(ex)),
            Err(e) => {
                out.input_failed(row, e);
                examples.push(None);
            }
        }
    }

    // Rows whose examples have the same shapes run together, in row order.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: HashMap<Vec<Vec<u64>>, usize> = HashMap::new();
    for (row, ex) in examples.iter().enumerate() {
        if let Some(ex) = ex {
            let key: Vec<Vec<u64>> = ex.iter().map(|e| e.shape.clone()).collect();
            let g = *group_of.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(row);
        }
    }
    for group in &groups {
        for rows in group.chunks(chunk_size) {
            match run_chunk(model, &feeds, &examples, rows, fixed, &fetches)? {
                Ok((outputs, m)) => out.ran(rows, outputs, m, &fetches)?,
                Err(reason) if rows.len() == 1 => out.run_failed(rows[0], reason),
                Err(reason) => {
                    log::warn!("a chunk of {} rows failed ({reason}); running its rows one by one", rows.len());
                    for r in rows {
                        let one = std::slice::from_ref(r);
                        match run_chunk(model, &feeds, &examples, one, fixed, &fetches)? {
                            Ok((outputs, m)) => out.ran(one, outputs, m, &fetches)?,
                            Err(reason) => out.run_failed(*r, reason),
                        }
                    }
                }
            }
        }
    }
    out.finish(spec)
}

/// A run's outputs and its row count (padding included), or TensorFlow's
/// reason for rejecting the fed rows; any other failure is the outer error.
type RunOutcome = std::result::Result<(Vec<TensorValue>, usize), String>;

/// TensorFlow's verdict on one run: an error about the fed rows becomes the
/// inner `Err` (the caller retries row by row); any other fails the batch.
fn outcome(result: Result<Vec<TensorValue>>, m: usize) -> Result<RunOutcome> {
    match result {
        Ok(outputs) => Ok(Ok((outputs, m))),
        Err(SparkdlError::ModelRun { message, about_rows: true }) => Ok(Err(message)),
        Err(e) => Err(e),
    }
}

/// The batch dimension the input tensors fix, if any (all must agree).
fn fixed_batch(feeds: &[Feed]) -> Result<Option<usize>> {
    let mut fixed: Option<(usize, &str)> = None;
    for f in feeds {
        if let Some(b) = f.fixed_batch() {
            match fixed {
                Some((other, t)) if other != b => {
                    return Err(SparkdlError::InvalidArgument(format!(
                        "input tensors '{t}' and '{}' fix different batch sizes ({other} and {b})",
                        f.tensor
                    )))
                }
                _ => fixed = Some((b, &f.tensor)),
            }
        }
    }
    Ok(fixed.map(|(b, _)| b))
}

/// Runs `rows` as one chunk (padded to `fixed` rows).
fn run_chunk(
    model: &dyn Model,
    feeds: &[Feed],
    examples: &[Option<Vec<Example>>],
    rows: &[usize],
    fixed: Option<usize>,
    fetches: &[&str],
) -> Result<RunOutcome> {
    let row_examples: Vec<&Vec<Example>> =
        rows.iter().filter_map(|r| examples.get(*r).and_then(Option::as_ref)).collect();
    let (Some(last), true) = (row_examples.last(), row_examples.len() == rows.len()) else {
        return Err(SparkdlError::Internal("run_model: a chunk holds a row without examples".into()));
    };
    let m = fixed.unwrap_or(rows.len()).max(rows.len());
    let mut values = Vec::with_capacity(feeds.len());
    for (k, feed) in feeds.iter().enumerate() {
        let shape = &last[k].shape;
        let per = last[k].data.len();
        let mut data = TensorData::with_capacity(feed.dtype, per * m);
        for i in 0..m {
            let ex = row_examples.get(i).unwrap_or(last);
            data.extend_from(&ex[k].data, 0..per);
        }
        let mut dims = Vec::with_capacity(shape.len() + 1);
        dims.push(m as u64);
        dims.extend_from_slice(shape);
        values.push((feed.tensor.as_str(), TensorValue::new(dims, data)?));
    }
    let feeds: Vec<(&str, Value)> = values.iter().map(|(n, v)| (*n, Value::Value(v))).collect();
    outcome(model.run(&feeds, fetches), m)
}
