//! Exact nearest-neighbour scoring: a block of query vectors against a block
//! of index vectors, keeping the best `k` index rows for each query.
//!
//! This is the kernel under a nearest-neighbour search in Spark: each task
//! scores a block of queries against a block of the index with [`search`],
//! and the per-block lists ([`TopK`]) of the same query are combined with
//! [`TopK::merge`]. Index rows are named by their global position (the
//! block's `index_offset` plus the row within the block); with the index
//! sorted by id, position order is id order, and ties go to the smaller one.
//!
//! Scores, higher is better ([`Metric`]): the cosine similarity, or the
//! negated Euclidean distance (not squared).
//!
//! How a block is scored:
//! 1. Every row is checked (a NaN or infinite value fails the call, naming
//!    the row) and its norm computed once, in f64.
//! 2. The blocks are cut into tiles ([`Tiles`]); each pair of tiles is
//!    scored with one f32 matrix product (`matrixmultiply`'s sgemm, which
//!    picks AVX/FMA/AVX-512 kernels at run time and, without its `threading`
//!    feature, runs on the calling thread only). Cosine: q·x times
//!    1/(|q| |x|); L2: |q|² + |x|² − 2 q·x, clamped at 0. Rows are
//!    multiplied as they are when their values lie within 2^±32; otherwise
//!    (so no product or square overflows or vanishes in f32) through copies
//!    of the tiles, normalised rows for cosine, and for L2 rows scaled by
//!    one power of two common to both blocks. Scratch memory is one tile of
//!    scores (plus those copies), whatever the block sizes.
//! 3. Each query keeps its best `k + slack` candidates by these f32 scores
//!    (slack: 16, or k/4 when larger); those are then re-scored exactly (f64
//!    dot products, or f64 differences for L2) and the best `k` by exact
//!    score are returned, with those scores (rounded to f32).
//!
//! Accuracy: the returned scores are the exact ones, to f32 rounding. The
//! choice of candidates rests on the f32 products, whose error grows with
//! the dimension (for unit vectors, about √dim · 6e-8 typically and at most
//! dim · 6e-8, i.e. 2e-6 and 8e-5 at dim 1280; for L2 the same relative to
//! |q|² + |x|², so near-duplicates of long vectors are the hard case, and
//! rows far shorter than the longest in the call are told apart only to the
//! longest ones' precision). A
//! true neighbour can only be lost if more than `slack` other rows have f32
//! scores within about twice that error of the k-th best, i.e. on a crowd of
//! near-ties at the boundary; even then the lost row scores within that
//! error of the last one returned.
//!
//! Zero vectors: under cosine a zero vector has no direction and scores 0
//! against everything, itself and other zero vectors included. Under L2 it
//! is an ordinary point (its distance to `x` is |x|).

pub mod signature;
mod topk;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::errors::{Result, SparkdlError};
pub use topk::TopK;

/// How a query and an index vector are compared. Higher scores are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine similarity q·x / (|q| |x|), in [-1, 1]; 0 when either vector is zero.
    Cosine,
    /// The Euclidean distance |q − x| (not squared), negated so that nearer
    /// scores higher: scores are at most 0, and 0 for identical vectors. A
    /// distance past f32's range (values near 1e38) scores -inf.
    L2,
}

impl Metric {
    /// The name [`Metric::from_str`] reads: `"cosine"` or `"l2"`.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
        }
    }
}

impl FromStr for Metric {
    type Err = SparkdlError;

    /// Reads `"cosine"` or `"l2"`, in any letter case.
    fn from_str(name: &str) -> Result<Metric> {
        match name.to_ascii_lowercase().as_str() {
            "cosine" => Ok(Metric::Cosine),
            "l2" => Ok(Metric::L2),
            _ => Err(SparkdlError::InvalidArgument(format!(
                "unknown metric {name:?}: use \"cosine\" (cosine similarity) or \"l2\" (Euclidean distance)"
            ))),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many rows of each block one matrix product scores. Scratch memory
/// per call is `query_rows × index_rows` f32 scores (2 MiB with the
/// defaults, 256 × 2048), plus, only for rows with values beyond 2^±32,
/// `(query_rows + index_rows) × dim` f32 copies (11.5 MiB at dim 1280).
/// Sizes need not divide the blocks' row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiles {
    /// Query rows per tile, at least 1.
    pub query_rows: usize,
    /// Index rows per tile, at least 1.
    pub index_rows: usize,
}

impl Default for Tiles {
    fn default() -> Tiles {
        Tiles { query_rows: 256, index_rows: 2048 }
    }
}

/// The fewest extra candidates kept per query before the exact re-score.
const MIN_SLACK: usize = 16;

/// How many candidates a query keeps from the f32 pass: `k` plus a slack
/// against the f32 error (see the module's documentation).
fn candidate_count(k: usize) -> usize {
    k.saturating_add(MIN_SLACK.max(k / 4))
}

/// Scores every query row against every index row and returns, for each
/// query in order, its best `k` index rows (fewer when the index block has
/// fewer rows).
///
/// - `queries`, `index`: row-major blocks of `dim` floats per row; either
///   may be empty. Every value must be finite.
/// - `index_offset`: the global position of the index block's first row;
///   row `r` of the block is reported as position `index_offset + r`.
/// - `tiles`: how much is scored at once ([`Tiles::default`] suits most uses).
///
/// Runs on the calling thread only. Errors (`InvalidArgument`) on a `dim` of
/// 0, a block that is not whole rows, `k` of 0, an empty tile, positions
/// past `u64::MAX`, or a non-finite value (naming its row and column).
pub fn search(
    queries: &[f32],
    index: &[f32],
    dim: usize,
    index_offset: u64,
    k: usize,
    metric: Metric,
    tiles: Tiles,
) -> Result<Vec<TopK>> {
    let (q_norms, x_norms) = checked_blocks(queries, index, dim, index_offset, tiles)?;
    TopK::new(k)?;
    let (nq, ni) = (q_norms.norms.len(), x_norms.norms.len());

    let mut candidates: Vec<TopK> =
        (0..nq).map(|_| TopK::with_capacity(candidate_count(k), candidate_count(k).min(ni))).collect();
    if nq > 0 && ni > 0 {
        approximate_pass(
            queries,
            index,
            dim,
            index_offset,
            metric,
            tiles,
            &q_norms,
            &x_norms,
            candidates.as_mut_slice(),
        );
    }

    Ok(candidates
        .into_iter()
        .enumerate()
        .map(|(qi, found)| {
            let query = &queries[qi * dim..(qi + 1) * dim];
            let mut best = TopK::with_capacity(k, found.len());
            for position in found.positions() {
                let row = (position - index_offset) as usize;
                let x = &index[row * dim..(row + 1) * dim];
                best.push(position, exact_score(metric, query, q_norms.norms[qi], x, x_norms.norms[row]));
            }
            best
        })
        .collect())
}

/// Every (query, index row) pair whose cosine similarity is at least
/// `threshold`, for each query in order: `(position, score)` by position,
/// with exact scores (as [`search`] returns them). What near-duplicate
/// finding asks for: every pair above a similarity, however many.
///
/// The f32 pass keeps the pairs within the f32 error of `threshold` (for
/// unit vectors at most `dim` x 2^-24 per product; the margin is twice
/// that), and the exact re-score decides. Errors as [`search`], and on a
/// `threshold` outside [-1, 1].
pub fn search_above(
    queries: &[f32],
    index: &[f32],
    dim: usize,
    index_offset: u64,
    threshold: f32,
    tiles: Tiles,
) -> Result<Vec<Vec<(u64, f32)>>> {
    if !(-1.0..=1.0).contains(&threshold) {
        return Err(invalid(format!(
            "threshold {threshold} is not a cosine similarity: use a value in [-1, 1] (0.9 and above for near-duplicates)"
        )));
    }
    let (q_norms, x_norms) = checked_blocks(queries, index, dim, index_offset, tiles)?;
    let (nq, ni) = (q_norms.norms.len(), x_norms.norms.len());
    let margin = 2.0 * dim as f32 * (f32::EPSILON / 2.0) + 1e-6;
    let mut above = Above { floor: threshold - margin, found: vec![Vec::new(); nq] };
    if nq > 0 && ni > 0 {
        approximate_pass(queries, index, dim, index_offset, Metric::Cosine, tiles, &q_norms, &x_norms, &mut above);
    }
    Ok(above
        .found
        .into_iter()
        .enumerate()
        .map(|(qi, positions)| {
            let query = &queries[qi * dim..(qi + 1) * dim];
            positions
                .into_iter()
                .filter_map(|position| {
                    let row = (position - index_offset) as usize;
                    let x = &index[row * dim..(row + 1) * dim];
                    let score = exact_score(Metric::Cosine, query, q_norms.norms[qi], x, x_norms.norms[row]);
                    (score >= threshold).then_some((position, score))
                })
                .collect()
        })
        .collect())
}

/// Checks the arguments [`search`] and [`search_above`] share, and returns
/// the blocks' norms (one per row).
fn checked_blocks(
    queries: &[f32],
    index: &[f32],
    dim: usize,
    index_offset: u64,
    tiles: Tiles,
) -> Result<(Norms, Norms)> {
    if dim == 0 {
        return Err(invalid("dim must be at least 1: it is the number of floats in each vector".to_string()));
    }
    if tiles.query_rows == 0 || tiles.index_rows == 0 {
        return Err(invalid(format!(
            "tile sizes must be at least 1 row, got {} query rows x {} index rows: use Tiles::default() (256 x 2048)",
            tiles.query_rows, tiles.index_rows
        )));
    }
    whole_rows(queries, dim, "queries")?;
    let ni = whole_rows(index, dim, "index")?;
    if index_offset.checked_add(ni as u64).is_none() {
        return Err(invalid(format!(
            "index_offset {index_offset} plus the block's {ni} rows passes the largest position (u64::MAX): \
             positions are row numbers, so the offset must be the row number of the block's first row"
        )));
    }
    let q_norms = row_norms(queries, dim, |row| format!("query row {row}"))?;
    let x_norms = row_norms(index, dim, |row| format!("index row {row} (position {})", index_offset + row as u64))?;
    Ok((q_norms, x_norms))
}

fn invalid(message: String) -> SparkdlError {
    SparkdlError::InvalidArgument(message)
}

/// The number of rows in `block`, or an error if it is not whole rows.
fn whole_rows(block: &[f32], dim: usize, what: &str) -> Result<usize> {
    if !block.len().is_multiple_of(dim) {
        return Err(invalid(format!(
            "{what} hold {} floats, which is not a whole number of rows of dim = {dim} floats: \
             pass row-major vectors of exactly dim floats each ({} rows and {} floats left over)",
            block.len(),
            block.len() / dim,
            block.len() % dim
        )));
    }
    Ok(block.len() / dim)
}

/// Per-row facts of one block, computed once per call.
struct Norms {
    /// Euclidean norm of each row, in f64.
    norms: Vec<f64>,
    /// The largest absolute value in the block.
    max_abs: f32,
    /// Whether every non-zero row's largest absolute value lies in
    /// [`DIRECT_RANGE`], so the rows can be multiplied as they are.
    rows_in_range: bool,
}

/// Values whose products and sums of squares stay far from f32's overflow
/// and underflow, at any dimension below 2^30: rows within this range (by
/// their largest absolute value) are multiplied as they are, others through
/// scaled copies.
const DIRECT_RANGE: (f32, f32) = (1.0 / (1u64 << 32) as f32, (1u64 << 32) as f32);

/// The rows' norms, or an error naming the first row (`name(row)`) that
/// holds a NaN or infinite value.
fn row_norms(block: &[f32], dim: usize, name: impl Fn(usize) -> String) -> Result<Norms> {
    let mut norms = Vec::with_capacity(block.len() / dim);
    let mut max_abs = 0.0f32;
    let mut rows_in_range = true;
    for (row, values) in block.chunks_exact(dim).enumerate() {
        // A square of any finite f32 and a sum of them fit in f64, so the
        // sum is finite exactly when every value is.
        let (squares, row_max) = squares_and_max(values);
        if !squares.is_finite() {
            let (column, value) = values.iter().enumerate().find(|(_, v)| !v.is_finite()).unwrap_or((0, &f32::NAN));
            return Err(invalid(format!(
                "{} holds {value} at column {column}: vectors must be finite; drop or repair such rows first",
                name(row)
            )));
        }
        rows_in_range &= row_max == 0.0 || (DIRECT_RANGE.0..=DIRECT_RANGE.1).contains(&row_max);
        max_abs = max_abs.max(row_max);
        norms.push(squares.sqrt());
    }
    Ok(Norms { norms, max_abs, rows_in_range })
}

/// How one block's rows enter the f32 products and their scores.
struct Side {
    /// `None`: the rows are multiplied as they are; otherwise each row is
    /// first copied, multiplied by its factor (cosine: 1/norm; L2: one
    /// common power of two).
    copy_factors: Option<Vec<f64>>,
    /// Cosine: what each row's products are multiplied by (1/norm for rows
    /// multiplied as they are, 1 for normalised copies).
    score_factors: Vec<f32>,
    /// L2: the squared norm of each row as multiplied.
    squares: Vec<f32>,
}

impl Side {
    fn new(norms: &Norms, metric: Metric, direct: bool, l2_scale: f64) -> Side {
        let inverse = || norms.norms.iter().map(|&n| if n > 0.0 { 1.0 / n } else { 0.0 });
        match (metric, direct) {
            (Metric::Cosine, true) => {
                Side { copy_factors: None, score_factors: inverse().map(|f| f as f32).collect(), squares: Vec::new() }
            }
            (Metric::Cosine, false) => Side {
                copy_factors: Some(inverse().collect()),
                score_factors: vec![1.0; norms.norms.len()],
                squares: Vec::new(),
            },
            (Metric::L2, _) => {
                let scale = if direct { 1.0 } else { l2_scale };
                Side {
                    copy_factors: (!direct).then(|| vec![scale; norms.norms.len()]),
                    score_factors: Vec::new(),
                    squares: norms.norms.iter().map(|&n| ((n * scale) * (n * scale)) as f32).collect(),
                }
            }
        }
    }

    /// Rows `first..first + count` of `block` as the products take them:
    /// the block itself, or scaled copies written into `buffer`.
    fn tile<'a>(&self, block: &'a [f32], dim: usize, first: usize, count: usize, buffer: &'a mut [f32]) -> &'a [f32] {
        let rows = &block[first * dim..(first + count) * dim];
        match &self.copy_factors {
            None => rows,
            Some(factors) => {
                let out = &mut buffer[..count * dim];
                for ((src, dst), &factor) in
                    rows.chunks_exact(dim).zip(out.chunks_exact_mut(dim)).zip(&factors[first..])
                {
                    for (s, d) in src.iter().zip(dst.iter_mut()) {
                        // In f64: the factor may be past f32's range.
                        *d = (*s as f64 * factor) as f32;
                    }
                }
                out
            }
        }
    }
}

/// Where the f32 pass puts the pairs it scores: for each query, a floor
/// below which a score is not offered, and what takes the others.
trait Sink {
    /// The lowest f32 score query `q` still takes.
    fn floor(&self, q: usize) -> f32;
    /// Offers the pair (`q`, `position`) with f32 `score` (at least the
    /// floor); returns the query's floor from then on.
    fn offer(&mut self, q: usize, position: u64, score: f32) -> f32;
}

impl Sink for [TopK] {
    fn floor(&self, q: usize) -> f32 {
        self[q].threshold()
    }

    #[inline]
    fn offer(&mut self, q: usize, position: u64, score: f32) -> f32 {
        self[q].push(position, score);
        self[q].threshold()
    }
}

/// Every pair scoring at least `floor`, by query.
struct Above {
    floor: f32,
    found: Vec<Vec<u64>>,
}

impl Sink for Above {
    fn floor(&self, _q: usize) -> f32 {
        self.floor
    }

    #[inline]
    fn offer(&mut self, q: usize, position: u64, _score: f32) -> f32 {
        self.found[q].push(position);
        self.floor
    }
}

/// Scores all pairs in f32, tile by tile, offering each to its query's
/// candidates.
#[allow(clippy::too_many_arguments)]
fn approximate_pass<S: Sink + ?Sized>(
    queries: &[f32],
    index: &[f32],
    dim: usize,
    index_offset: u64,
    metric: Metric,
    tiles: Tiles,
    q_norms: &Norms,
    x_norms: &Norms,
    candidates: &mut S,
) {
    let (nq, ni) = (queries.len() / dim, index.len() / dim);
    // Typical vectors are multiplied as they are. Cosine: rows with values
    // too large or too small for f32 products are normalised first. L2:
    // both blocks are scaled by one power of two (distances keep their
    // order under a common scale).
    let direct = match metric {
        Metric::Cosine => q_norms.rows_in_range && x_norms.rows_in_range,
        Metric::L2 => {
            let max = q_norms.max_abs.max(x_norms.max_abs);
            max == 0.0 || (DIRECT_RANGE.0..=DIRECT_RANGE.1).contains(&max)
        }
    };
    let l2_scale = power_of_two_scale(q_norms.max_abs.max(x_norms.max_abs) as f64);
    let q_side = Side::new(q_norms, metric, direct, l2_scale);
    let x_side = Side::new(x_norms, metric, direct, l2_scale);

    let (tq, ti) = (tiles.query_rows.min(nq), tiles.index_rows.min(ni));
    let buffer = |rows: usize| if direct { Vec::new() } else { vec![0.0f32; rows * dim] };
    let (mut q_buffer, mut x_buffer) = (buffer(tq), buffer(ti));
    let mut scores = vec![0.0f32; tq * ti];
    for x0 in (0..ni).step_by(ti) {
        let xn = ti.min(ni - x0);
        let x_tile = x_side.tile(index, dim, x0, xn, &mut x_buffer);
        let first = index_offset + x0 as u64;
        for q0 in (0..nq).step_by(tq) {
            let qn = tq.min(nq - q0);
            let q_tile = q_side.tile(queries, dim, q0, qn, &mut q_buffer);
            let tile_scores = &mut scores[..qn * xn];
            products(qn, xn, dim, q_tile, x_tile, tile_scores);
            for (i, row) in tile_scores.chunks_exact(xn).enumerate() {
                let q = q0 + i;
                // Scores below the query's floor are skipped without a call.
                let mut floor = candidates.floor(q);
                match metric {
                    Metric::Cosine => {
                        let q_factor = q_side.score_factors[q];
                        for ((j, &dot), &x_factor) in row.iter().enumerate().zip(&x_side.score_factors[x0..x0 + xn]) {
                            let score = dot * q_factor * x_factor;
                            if score >= floor {
                                floor = candidates.offer(q, first + j as u64, score);
                            }
                        }
                    }
                    Metric::L2 => {
                        // Minus the squared distance ranks as minus the distance.
                        let q_square = q_side.squares[q];
                        for ((j, &dot), &x_square) in row.iter().enumerate().zip(&x_side.squares[x0..x0 + xn]) {
                            let score = -(q_square + x_square - 2.0 * dot).max(0.0);
                            if score >= floor {
                                floor = candidates.offer(q, first + j as u64, score);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The power of two that brings `max_abs` into [0.5, 1) (1 for 0), so that
/// squares and products of the scaled values neither overflow nor vanish in
/// f32. A power of two scales f32 values without rounding them.
fn power_of_two_scale(max_abs: f64) -> f64 {
    if max_abs > 0.0 {
        2.0f64.powi(-(max_abs.log2().floor() as i32 + 1))
    } else {
        1.0
    }
}

/// `c = a · bᵀ` for row-major `a` (m × dim) and `b` (n × dim) into row-major
/// `c` (m × n), on the calling thread.
fn products(m: usize, n: usize, dim: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() == m * dim && b.len() == n * dim && c.len() == m * n, "tile sizes disagree");
    // SAFETY: the assert above makes every element the strides reach lie
    // inside the slices: a is m × dim with row stride dim; b is read as its
    // transpose (dim × n: row stride 1, column stride dim); c is m × n with
    // row stride n. Slices never exceed isize::MAX bytes, so the strides fit
    // in isize. With beta = 0, sgemm writes c without reading it.
    unsafe {
        matrixmultiply::sgemm(
            m,
            dim,
            n,
            1.0,
            a.as_ptr(),
            dim as isize,
            1,
            b.as_ptr(),
            1,
            dim as isize,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// The exact score of `q` against `x` (f64 arithmetic, rounded to f32 at the
/// end), given their f64 norms.
fn exact_score(metric: Metric, q: &[f32], q_norm: f64, x: &[f32], x_norm: f64) -> f32 {
    match metric {
        Metric::Cosine => {
            if q_norm == 0.0 || x_norm == 0.0 {
                0.0
            } else {
                (dot_f64(q, x) / (q_norm * x_norm)).clamp(-1.0, 1.0) as f32
            }
        }
        Metric::L2 => -(squared_distance_f64(q, x).sqrt() as f32),
    }
}

/// Σ vᵢ² in f64 and max |vᵢ|, in one pass (eight running sums and maxima,
/// so the loop vectorises; a NaN is left out of the maximum, not the sum).
fn squares_and_max(values: &[f32]) -> (f64, f32) {
    let mut sums = [0.0f64; 8];
    let mut maxima = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for lane in 0..8 {
            let v = chunk[lane];
            sums[lane] += v as f64 * v as f64;
            maxima[lane] = if v.abs() > maxima[lane] { v.abs() } else { maxima[lane] };
        }
    }
    for (lane, &v) in tail.iter().enumerate() {
        sums[lane] += v as f64 * v as f64;
        maxima[lane] = if v.abs() > maxima[lane] { v.abs() } else { maxima[lane] };
    }
    (sums.iter().sum(), maxima.iter().fold(0.0f32, |m, &v| m.max(v)))
}

/// Σ aᵢbᵢ in f64 (four running sums, so the loop vectorises).
fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut sums = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4.remainder().iter().zip(b4.remainder()).map(|(&x, &y)| x as f64 * y as f64).sum();
    for (x, y) in a4.zip(b4) {
        for lane in 0..4 {
            sums[lane] += x[lane] as f64 * y[lane] as f64;
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// Σ (aᵢ − bᵢ)² in f64 (four running sums, so the loop vectorises).
fn squared_distance_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut sums = [0.0f64; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum();
    for (x, y) in a4.zip(b4) {
        for lane in 0..4 {
            let d = x[lane] as f64 - y[lane] as f64;
            sums[lane] += d * d;
        }
    }
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}
