//! The exact nearest-neighbour kernel (`sparkdl::similarity::search`) on one
//! thread, as one Spark task runs it: a block of queries against a block of
//! index vectors of 1280 floats (an EfficientNet-sized embedding), top 10 per
//! query. Prints the best of a few runs in seconds and in GFLOP/s of the
//! scoring products (2 · queries · index rows · dim floating-point operations
//! per run), for cosine and L2, default tiles.
//!
//! `cargo bench -p sparkdl-native --bench similarity`
//! (`SPARKDL_BENCH_LARGE=1` adds 1000 queries x 100000 index rows, 0.5 GB of index.)

use std::hint::black_box;
use std::time::Instant;

use sparkdl::similarity::{search, Metric, Tiles};

const DIM: usize = 1280;
const K: usize = 10;

/// Deterministic values in [-1, 1) (xorshift32), so runs are comparable.
fn vectors(rows: usize, seed: u32) -> Vec<f32> {
    let mut state = 0x2545_F491 ^ seed;
    (0..rows * DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as f32 / u32::MAX as f32 * 2.0 - 1.0
        })
        .collect()
}

fn bench_shape(queries: usize, index_rows: usize, runs: usize) {
    let q = vectors(queries, 1);
    let x = vectors(index_rows, 2);
    let flops = 2.0 * queries as f64 * index_rows as f64 * DIM as f64;
    for metric in [Metric::Cosine, Metric::L2] {
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let start = Instant::now();
            let found = search(black_box(&q), black_box(&x), DIM, 0, K, metric, Tiles::default()).unwrap();
            best = best.min(start.elapsed().as_secs_f64());
            assert_eq!(found.len(), queries);
            black_box(found);
        }
        println!(
            "similarity/{metric}: {queries} queries x {index_rows} index x {DIM}, k={K}: {best:.3} s, {:.1} GFLOP/s",
            flops / best / 1e9
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    bench_shape(200, 20_000, 5);
    if std::env::var_os("SPARKDL_BENCH_LARGE").is_some() {
        bench_shape(1000, 100_000, 2);
    }
}
