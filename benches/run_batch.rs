//! One Arrow batch through the native engine, as an executor task runs it:
//! 64 JPEGs (500x400) in an Arrow binary column -> decode, resize to 224x224,
//! normalise -> one `Session::run` -> an Arrow output column. The graph is a
//! trivial one (a mean over the pixels), so the timings show the engine's own
//! cost per image on top of decoding, without the network's.
//!
//! `cargo bench -p sparkdl-native --bench run_batch`

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, StructArray};
use arrow::datatypes::{DataType, Field};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use sparkdl::backends::tensorflow::model::TfModel;
use sparkdl::engine::config::EngineConfig;
use sparkdl::ops::run_model::{run_batch, RunSpec};

#[path = "../rust/tests/support/mean_graph.rs"]
mod mean_graph;
use mean_graph::mean_graph;

const ROWS: usize = 64;

fn photo_like(width: u32, height: u32, seed: u32) -> RgbImage {
    let mut state: u32 = 0x2545_F491 ^ seed;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state % 17) as f32 - 8.0;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let s = seed as f32;
        let c = [
            120.0 + 100.0 * (fx * 7.0 + s).sin(),
            127.0 + 100.0 * (fy * 5.0).cos(),
            127.0 + 90.0 * ((fx + fy) * 9.0).sin(),
        ];
        Rgb(c.map(|v| (v + n).clamp(0.0, 255.0) as u8))
    })
}

fn bench_run_batch(c: &mut Criterion) {
    let jpegs: Vec<Vec<u8>> = (0..ROWS as u32)
        .map(|i| {
            let mut out = Vec::new();
            JpegEncoder::new_with_quality(&mut out, 90).encode_image(&photo_like(500, 400, i)).unwrap();
            out
        })
        .collect();
    let column: ArrayRef = Arc::new(BinaryArray::from_iter_values(jpegs.iter()));
    let input = StructArray::from(vec![(Arc::new(Field::new("content", DataType::Binary, true)), column)]);
    let cfg = EngineConfig { intra_op_threads: 1, inter_op_threads: 1, ..EngineConfig::default() };
    let model = TfModel::from_graph_def(&mean_graph(224), &cfg).unwrap();
    let spec = RunSpec::from_json(
        r#"{"inputs":[{"column":"content","tensor":"input:0","image":{"kind":"encoded","height":224,"width":224,
              "scale":0.00392156862745098,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}}],
            "outputs":[{"tensor":"features:0","column":"f"}],"batchSize":64}"#,
    )
    .unwrap();
    let out = run_batch(&model, &input, &spec).unwrap();
    assert_eq!(out.column(1).null_count(), ROWS, "no row may fail: {:?}", out.column(1));

    let mut group = c.benchmark_group("run_batch_64_jpegs_500x400");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("decode_resize_run_mean_graph", |b| {
        b.iter(|| run_batch(&model, black_box(&input), &spec).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_run_batch);
criterion_main!(benches);
