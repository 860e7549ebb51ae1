//! The fast path for image inputs with a target size: each row is decoded and
//! preprocessed straight into its slot of the batch tensor, which the calling
//! thread keeps for its next batch (no per-image buffer, no copy into the
//! tensor, no fresh pages to fault in per batch). The rows of a chunk are
//! decoded in parallel on the executor's decode pool (`ops::decode_pool`).
//! Results and errors are the same as the general path's: a row that cannot be
//! read gets its reason, a chunk that TensorFlow rejects is re-run row by row.

use std::cell::RefCell;

use rayon::prelude::*;

use super::{outcome, Collected, Feed, RunOutcome};
use crate::engine::tensor::{BatchTensor, Feed as Value};
use crate::engine::{Backend, Model};
use crate::errors::Result;
use crate::ops::decode_pool;
use crate::ops::preprocess::Preprocessor;

type Batch = Box<dyn BatchTensor>;

thread_local! {
    /// The batch tensors of this thread's last direct run, by feed, and the
    /// backend that made them.
    static SCRATCH: RefCell<(Option<Backend>, Vec<Batch>)> = const { RefCell::new((None, Vec::new())) };
    /// A decoding thread's buffers (decoded pixels, resized pixels, resizer).
    static PRE: RefCell<Preprocessor> = RefCell::new(Preprocessor::default());
}

/// Runs every row into `out`; an `Err` fails the batch.
pub(super) fn run(
    model: &dyn Model,
    feeds: &[Feed],
    shapes: &[Vec<u64>],
    cap: usize,
    fixed: bool,
    fetches: &[&str],
    out: &mut Collected,
) -> Result<()> {
    let n = out.len();
    if n == 0 {
        return Ok(());
    }
    let per: Vec<usize> = shapes.iter().map(|s| s.iter().product::<u64>() as usize).collect();
    let backend = model.format().backend();
    let mut tensors = take_scratch(model, shapes, cap)?;
    let mut outcome: Result<()> = Ok(());
    let t_all = std::time::Instant::now();
    let mut t_run = std::time::Duration::ZERO;
    let mut start = 0;
    while start < n {
        let end = (start + cap).min(n);
        let failed = match write_rows(feeds, &mut tensors, &per, start, end) {
            Ok(f) => f,
            Err(e) => {
                outcome = Err(e);
                break;
            }
        };
        // The rows that could not be read give up their slots: the others move up.
        let mut rows: Vec<usize> = Vec::with_capacity(end - start);
        for (i, reason) in failed.into_iter().enumerate() {
            match reason {
                None => {
                    let k = rows.len();
                    if k != i {
                        for (t, p) in tensors.iter_mut().zip(&per) {
                            t.values_mut().copy_within(i * p..(i + 1) * p, k * p);
                        }
                    }
                    rows.push(start + i);
                }
                Some(e) => out.input_failed(start + i, e),
            }
        }
        if !rows.is_empty() {
            let t0 = std::time::Instant::now();
            outcome = run_chunk(model, feeds, &mut tensors, &per, &rows, fixed, fetches, out);
            t_run += t0.elapsed();
            if outcome.is_err() {
                break;
            }
        }
        start = end;
    }
    log::debug!(
        "{n} rows in {:.1} ms, of which {:.1} ms in {}",
        t_all.elapsed().as_secs_f64() * 1e3,
        t_run.as_secs_f64() * 1e3,
        backend.title()
    );
    SCRATCH.with(|s| *s.borrow_mut() = (Some(backend), tensors));
    outcome
}

/// Rows `start..end` written to slots `0..end - start` of every feed's tensor,
/// on the decode pool; per row, why it could not be (the first feed's reason).
fn write_rows(
    feeds: &[Feed],
    tensors: &mut [Batch],
    per: &[usize],
    start: usize,
    end: usize,
) -> Result<Vec<Option<String>>> {
    let len = end - start;
    let mut failed: Vec<Option<String>> = vec![None; len];
    for ((feed, t), p) in feeds.iter().zip(tensors.iter_mut()).zip(per) {
        let slots = &mut t.values_mut()[..len * p];
        let reasons: Vec<Option<String>> = if len == 1 {
            // One row: not worth a hand-over to the pool.
            vec![PRE.with(|pre| feed.write_image(start, &mut pre.borrow_mut(), slots)).err()]
        } else {
            decode_pool::pool()?.install(|| {
                slots
                    .par_chunks_mut(*p)
                    .with_max_len(1)
                    .enumerate()
                    .map(|(i, slot)| PRE.with(|pre| feed.write_image(start + i, &mut pre.borrow_mut(), slot)).err())
                    .collect()
            })
        };
        for (f, r) in failed.iter_mut().zip(reasons) {
            if f.is_none() {
                *f = r;
            }
        }
    }
    Ok(failed)
}

/// This thread's tensors of shapes `[cap, shape...]`, reused when they
/// match and `model`'s backend made them.
fn take_scratch(model: &dyn Model, shapes: &[Vec<u64>], cap: usize) -> Result<Vec<Batch>> {
    let wanted: Vec<Vec<u64>> = shapes.iter().map(|s| batch_dims(cap, s)).collect();
    let (made_by, kept) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let same = made_by == Some(model.format().backend())
        && kept.len() == wanted.len()
        && kept.iter().zip(&wanted).all(|(t, w)| t.dims() == w.as_slice());
    if same {
        Ok(kept)
    } else {
        drop(kept);
        wanted.iter().map(|d| model.batch_tensor(d)).collect()
    }
}

fn batch_dims(m: usize, shape: &[u64]) -> Vec<u64> {
    std::iter::once(m as u64).chain(shape.iter().copied()).collect()
}

/// Runs the `rows.len()` rows written at the start of `tensors`.
#[allow(clippy::too_many_arguments)]
fn run_chunk(
    model: &dyn Model,
    feeds: &[Feed],
    tensors: &mut [Batch],
    per: &[usize],
    rows: &[usize],
    fixed: bool,
    fetches: &[&str],
    out: &mut Collected,
) -> Result<()> {
    let k = rows.len();
    let cap = tensors[0].dims()[0] as usize;
    let outcome = if k == cap || fixed {
        // A fixed batch dimension: pad with copies of the last row.
        for (t, p) in tensors.iter_mut().zip(per) {
            for i in k..cap {
                t.values_mut().copy_within((k - 1) * p..k * p, i * p);
            }
        }
        run_tensors(model, feeds, tensors, fetches, cap)?
    } else {
        let part = slots(model, tensors, per, 0..k, k)?;
        run_tensors(model, feeds, &part, fetches, k)?
    };
    match outcome {
        Ok((outputs, m)) => out.ran(rows, outputs, m, fetches)?,
        Err(e) if k == 1 => out.run_failed(rows[0], e),
        Err(e) => {
            log::warn!("a chunk of {k} rows failed ({e}); running its rows one by one");
            for (i, r) in rows.iter().enumerate() {
                let m = if fixed { cap } else { 1 };
                let one = slots(model, tensors, per, i..i + 1, m)?;
                match run_tensors(model, feeds, &one, fetches, m)? {
                    Ok((outputs, m)) => out.ran(std::slice::from_ref(r), outputs, m, fetches)?,
                    Err(e) => out.run_failed(*r, e),
                }
            }
        }
    }
    Ok(())
}

/// New tensors of `m` rows holding the rows `range` of `tensors`, the last
/// one repeated to fill `m`.
fn slots(
    model: &dyn Model,
    tensors: &[Batch],
    per: &[usize],
    range: std::ops::Range<usize>,
    m: usize,
) -> Result<Vec<Batch>> {
    tensors
        .iter()
        .zip(per)
        .map(|(t, p)| {
            let mut out = model.batch_tensor(&batch_dims(m, &t.dims()[1..]))?;
            let (src, dst) = (t.values(), out.values_mut());
            dst[..range.len() * p].copy_from_slice(&src[range.start * p..range.end * p]);
            let last = &src[(range.end - 1) * p..range.end * p];
            for i in range.len()..m {
                dst[i * p..(i + 1) * p].copy_from_slice(last);
            }
            Ok(out)
        })
        .collect()
}

/// One session run over the `m` rows of `tensors`.
fn run_tensors(model: &dyn Model, feeds: &[Feed], tensors: &[Batch], fetches: &[&str], m: usize) -> Result<RunOutcome> {
    let named: Vec<(&str, Value)> =
        feeds.iter().map(|f| f.tensor.as_str()).zip(tensors.iter().map(|t| Value::Batch(t.as_ref()))).collect();
    outcome(model.run(&named, fetches), m)
}
