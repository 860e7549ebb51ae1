//! The fast path for image inputs with a target size: each row is decoded and
//! preprocessed straight into its slot of the batch tensor, which the task
//! thread keeps for its next batch (no per-image buffer, no copy into the
//! tensor, no fresh pages to fault in per batch). Results and errors are the
//! same as the general path's: a row that cannot be read gets its reason, a
//! chunk that TensorFlow rejects is re-run row by row.

use std::cell::RefCell;

use arrow::array::StructArray;
use tensorflow::Tensor;

use super::{build_output, split_rows, Feed, RunSpec};
use crate::errors::Result;
use crate::ops::preprocess::Preprocessor;
use crate::tf::model::LoadedModel;

thread_local! {
    /// The batch tensors of this thread's last direct run, by feed.
    static SCRATCH: RefCell<Vec<Tensor<f32>>> = const { RefCell::new(Vec::new()) };
}

/// Rows per result: the outputs of each row, per fetch.
type RowOutputs = Vec<Vec<f64>>;

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    model: &LoadedModel,
    feeds: &[Feed],
    shapes: &[Vec<u64>],
    n: usize,
    cap: usize,
    fixed: bool,
    fetches: &[&str],
    spec: &RunSpec,
) -> Result<StructArray> {
    let mut results: Vec<Option<RowOutputs>> = vec![None; n];
    let mut errors: Vec<Option<String>> = vec![None; n];
    if n == 0 {
        return build_output(spec, &results, &errors);
    }
    let per: Vec<usize> = shapes.iter().map(|s| s.iter().product::<u64>() as usize).collect();
    let mut tensors = take_scratch(shapes, cap);
    let mut pre = Preprocessor::default();
    let mut rows: Vec<usize> = Vec::with_capacity(cap);
    let mut outcome = Ok(());
    let t_all = std::time::Instant::now();
    let mut t_run = std::time::Duration::ZERO;
    for row in 0..n {
        let k = rows.len();
        let written = feeds
            .iter()
            .zip(tensors.iter_mut())
            .zip(&per)
            .try_for_each(|((feed, t), p)| feed.write_image(row, &mut pre, &mut t[k * p..(k + 1) * p]));
        match written {
            Ok(()) => rows.push(row),
            Err(e) => errors[row] = Some(e),
        }
        if rows.len() == cap || (row + 1 == n && !rows.is_empty()) {
            let t0 = std::time::Instant::now();
            outcome = run_chunk(model, feeds, &mut tensors, &per, &rows, fixed, fetches, &mut results, &mut errors);
            t_run += t0.elapsed();
            if outcome.is_err() {
                break;
            }
            rows.clear();
        }
    }
    log::debug!(
        "{n} rows in {:.1} ms, of which {:.1} ms in TensorFlow",
        t_all.elapsed().as_secs_f64() * 1e3,
        t_run.as_secs_f64() * 1e3
    );
    SCRATCH.with(|s| *s.borrow_mut() = tensors);
    outcome?;
    build_output(spec, &results, &errors)
}

/// This thread's tensors of shapes `[cap, shape...]`, reused when they match.
fn take_scratch(shapes: &[Vec<u64>], cap: usize) -> Vec<Tensor<f32>> {
    let wanted: Vec<Vec<u64>> = shapes.iter().map(|s| batch_dims(cap, s)).collect();
    let kept = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    if kept.len() == wanted.len() && kept.iter().zip(&wanted).all(|(t, w)| t.dims() == w.as_slice()) {
        kept
    } else {
        drop(kept);
        wanted.iter().map(|d| Tensor::new(d)).collect()
    }
}

fn batch_dims(m: usize, shape: &[u64]) -> Vec<u64> {
    std::iter::once(m as u64).chain(shape.iter().copied()).collect()
}

/// Runs the `rows.len()` rows written at the start of `tensors`.
#[allow(clippy::too_many_arguments)]
fn run_chunk(
    model: &LoadedModel,
    feeds: &[Feed],
    tensors: &mut [Tensor<f32>],
    per: &[usize],
    rows: &[usize],
    fixed: bool,
    fetches: &[&str],
    results: &mut [Option<RowOutputs>],
    errors: &mut [Option<String>],
) -> Result<()> {
    let k = rows.len();
    let cap = tensors[0].dims()[0] as usize;
    let outcome = if k == cap || fixed {
        // A fixed batch dimension: pad with copies of the last row.
        for (t, p) in tensors.iter_mut().zip(per) {
            for i in k..cap {
                t.copy_within((k - 1) * p..k * p, i * p);
            }
        }
        run_tensors(model, feeds, tensors, fetches, cap, k)?
    } else {
        let part: Vec<Tensor<f32>> = slots(tensors, per, 0..k, k);
        run_tensors(model, feeds, &part, fetches, k, k)?
    };
    match outcome {
        Ok(per_row) => rows.iter().zip(per_row).for_each(|(r, v)| results[*r] = Some(v)),
        Err(e) if k == 1 => errors[rows[0]] = Some(e),
        Err(e) => {
            log::warn!("a chunk of {k} rows failed ({e}); running its rows one by one");
            for (i, r) in rows.iter().enumerate() {
                let m = if fixed { cap } else { 1 };
                let one = slots(tensors, per, i..i + 1, m);
                match run_tensors(model, feeds, &one, fetches, m, 1)? {
                    Ok(mut v) => results[*r] = v.pop(),
                    Err(e) => errors[*r] = Some(e),
                }
            }
        }
    }
    Ok(())
}

/// New tensors of `m` rows holding the rows `range` of `tensors`, the last
/// one repeated to fill `m`.
fn slots(tensors: &[Tensor<f32>], per: &[usize], range: std::ops::Range<usize>, m: usize) -> Vec<Tensor<f32>> {
    tensors
        .iter()
        .zip(per)
        .map(|(t, p)| {
            let shape = &t.dims()[1..];
            let mut out = Tensor::new(&batch_dims(m, shape));
            let src = &t[range.start * p..range.end * p];
            out[..src.len()].copy_from_slice(src);
            let last = &t[(range.end - 1) * p..range.end * p];
            for i in range.len()..m {
                out[i * p..(i + 1) * p].copy_from_slice(last);
            }
            out
        })
        .collect()
}

/// One session run over `m` rows; the first `rows` rows' outputs, or
/// TensorFlow's error for them.
fn run_tensors(
    model: &LoadedModel,
    feeds: &[Feed],
    tensors: &[Tensor<f32>],
    fetches: &[&str],
    m: usize,
    rows: usize,
) -> Result<std::result::Result<Vec<RowOutputs>, String>> {
    let named: Vec<(&str, &Tensor<f32>)> = feeds.iter().map(|f| f.tensor.as_str()).zip(tensors).collect();
    match model.run_f32(&named, fetches) {
        Ok(outputs) => split_rows(&outputs, m, rows, fetches).map(Ok),
        Err(e) => Ok(Err(e.to_string())),
    }
}
