//! Runs a TensorFlow model over one Arrow batch, row for row.
//!
//! Each input column feeds one tensor (see [`inputs`] for the column types);
//! one row is one example. Valid rows are stacked into tensors `[n, ...]` and
//! run in chunks of at most `batchSize` rows (rows whose examples differ in
//! shape, e.g. images of different sizes without a resize, run in separate
//! chunks; a tensor with a fixed batch dimension gets chunks of exactly that
//! size, the last one padded by repeating its last row). Each output becomes a
//! `List<Float64>` column holding the example's flattened values, and a final
//! `error` column says why a row has null outputs: a null or misshapen input
//! (named, with the expected size), or TensorFlow's error for that row (a
//! failed chunk is re-run row by row so one bad row does not fail the others).
//!
//! Run spec JSON:
//! ```json
//! {"inputs": [{"column": "features", "tensor": "x:0"}],
//!  "outputs": [{"tensor": "y:0", "column": "prediction"}],
//!  "batchSize": 64}
//! ```
//! An input may add `"image": {...}` ([`ImageSpec`]) to feed an image column.

mod direct;
mod inputs;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Builder, ListBuilder, StringBuilder, StructArray};
use arrow::datatypes::{DataType, Field, Fields};
use serde::Deserialize;

use crate::errors::{Result, SparkdlError};
use crate::ops::preprocess::{ImageSpec, Preprocessor};
use crate::tf::model::LoadedModel;
use crate::tf::tensor::{TensorData, TensorValue};
use inputs::{Example, Feed};

/// The name of the last output column.
pub const ERROR_COLUMN: &str = "error";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSpec {
    pub inputs: Vec<InputSpec>,
    pub outputs: Vec<OutputSpec>,
    /// At most this many rows per `Session::run` (default: the whole batch).
    #[serde(default)]
    pub batch_size: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputSpec {
    pub column: String,
    pub tensor: String,
    /// Present when the column holds images to preprocess.
    #[serde(default)]
    pub image: Option<ImageSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputSpec {
    pub tensor: String,
    pub column: String,
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
pub fn run_batch(model: &LoadedModel, input: &StructArray, spec: &RunSpec) -> Result<StructArray> {
    spec.validate()?;
    let feeds = spec
        .inputs
        .iter()
        .map(|i| Feed::new(model, input, &i.column, &i.tensor, i.image.as_ref()))
        .collect::<Result<Vec<_>>>()?;
    for o in &spec.outputs {
        model.tensor_dtype(&o.tensor).map_err(|e| SparkdlError::InvalidArgument(format!("output column '{}': {e}", o.column)))?;
    }
    let fixed = fixed_batch(&feeds)?;
    let chunk_size = fixed.unwrap_or(spec.batch_size.unwrap_or(usize::MAX)).max(1);

    let n = input.len();
    let fetches: Vec<&str> = spec.outputs.iter().map(|o| o.tensor.as_str()).collect();
    if let Some(shapes) = feeds.iter().map(Feed::direct_shape).collect::<Option<Vec<_>>>() {
        let cap = fixed.unwrap_or(chunk_size.min(n)).max(1);
        return direct::run(model, &feeds, &shapes, n, cap, fixed.is_some(), &fetches, spec);
    }
    let mut errors: Vec<Option<String>> = vec![None; n];
    let mut results: Vec<Option<Vec<Vec<f64>>>> = vec![None; n];
    let mut examples: Vec<Option<Vec<Example>>> = Vec::with_capacity(n);
    let mut pre = Preprocessor::default();
    for (row, error) in errors.iter_mut().enumerate() {
        match feeds.iter().map(|f| f.example(row, &mut pre)).collect::<std::result::Result<Vec<_>, _>>() {
            Ok(ex) => examples.push(Some(ex)),
            Err(e) => {
                *error = Some(e);
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
                Ok(per_row) => rows.iter().zip(per_row).for_each(|(r, v)| results[*r] = Some(v)),
                Err(batch_err) if rows.len() == 1 => errors[rows[0]] = Some(batch_err),
                Err(batch_err) => {
                    log::warn!("a chunk of {} rows failed ({batch_err}); running its rows one by one", rows.len());
                    for r in rows {
                        match run_chunk(model, &feeds, &examples, std::slice::from_ref(r), fixed, &fetches)? {
                            Ok(mut v) => results[*r] = v.pop(),
                            Err(e) => errors[*r] = Some(e),
                        }
                    }
                }
            }
        }
    }
    build_output(spec, &results, &errors)
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

/// Runs `rows` as one chunk (padded to `fixed` rows). The outer error fails
/// the batch (outputs without a batch dimension); the inner one is
/// TensorFlow's error for these rows.
fn run_chunk(
    model: &LoadedModel,
    feeds: &[Feed],
    examples: &[Option<Vec<Example>>],
    rows: &[usize],
    fixed: Option<usize>,
    fetches: &[&str],
) -> Result<std::result::Result<Vec<Vec<Vec<f64>>>, String>> {
    let row_examples: Vec<&Vec<Example>> = rows.iter().filter_map(|r| examples.get(*r).and_then(Option::as_ref)).collect();
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
    match model.run(&values, fetches) {
        Ok(outputs) => split_rows(&outputs, m, rows.len(), fetches).map(Ok),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// The first `rows` rows of a run over `m` rows, per row and output. The
/// error fails the batch: an output without a batch dimension.
fn split_rows(outputs: &[TensorValue], m: usize, rows: usize, fetches: &[&str]) -> Result<Vec<Vec<Vec<f64>>>> {
    let mut per_row: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(fetches.len()); rows];
    for (out, name) in outputs.iter().zip(fetches) {
        if out.dims().first() != Some(&(m as u64)) {
            return Err(SparkdlError::InvalidArgument(format!(
                "output '{name}' has shape {:?} for a batch of {m} rows; an output's first dimension must be the \
                 batch (one entry per input row)",
                out.dims()
            )));
        }
        let k = out.len() / m;
        for (j, row) in per_row.iter_mut().enumerate() {
            let v = out.data().f64_range(j * k..(j + 1) * k).unwrap_or_default();
            row.push(v);
        }
    }
    Ok(per_row)
}

fn build_output(spec: &RunSpec, results: &[Option<Vec<Vec<f64>>>], errors: &[Option<String>]) -> Result<StructArray> {
    let item = Arc::new(Field::new("item", DataType::Float64, false));
    let mut fields = Vec::with_capacity(spec.outputs.len() + 1);
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(spec.outputs.len() + 1);
    for (k, o) in spec.outputs.iter().enumerate() {
        let total: usize = results.iter().flatten().map(|r| r[k].len()).sum();
        let mut b = ListBuilder::new(Float64Builder::with_capacity(total)).with_field(item.clone());
        for r in results {
            match r {
                Some(r) => {
                    b.values().append_slice(&r[k]);
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        fields.push(Field::new(&o.column, DataType::List(item.clone()), true));
        columns.push(Arc::new(b.finish()));
    }
    let mut e = StringBuilder::new();
    for err in errors {
        e.append_option(err.as_deref());
    }
    fields.push(Field::new(ERROR_COLUMN, DataType::Utf8, true));
    columns.push(Arc::new(e.finish()));
    Ok(StructArray::try_new(Fields::from(fields), columns, None)?)
}
