//! Native memory over many batches: 1,000 batches of `decodeImages` and 1,000
//! of `runModel`, each going through the Arrow C Data Interface both ways as
//! a JNI call does (the caller's batch imported, the result exported and then
//! imported and dropped by the "JVM"), must leave the process's resident
//! memory where it was after a warm-up. A leak of one image, one tensor or one
//! exported buffer per batch would show as hundreds of MiB.
//!
//! This file is its own test binary with a single test, so no other test's
//! allocations run in the process while it measures.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, StringArray, StructArray};
use arrow::datatypes::{DataType, Field};
use arrow::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use sparkdl::arrow_io::{export_struct, import_struct};
use sparkdl::backends::tensorflow::model::TfModel;
use sparkdl::engine::config::EngineConfig;
use sparkdl::ops::decode_images::{decode_batch, DecodeConfig};
use sparkdl::ops::run_model::{run_batch, RunSpec};

#[path = "support/mean_graph.rs"]
mod mean_graph;
use mean_graph::mean_graph;

const ROWS: usize = 4;
const WARMUP: usize = 100;
const BATCHES: usize = 1000;
/// Allowed growth of the resident set over the 2 x 1,000 measured batches.
const MAX_GROWTH_MIB: f64 = 32.0;

fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0 / (1024.0 * 1024.0)
}

fn jpeg(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 7 + seed) as u8, (y * 3 + seed * 5) as u8, ((x + y) ^ seed) as u8])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).encode_image(&img).unwrap();
    out
}

/// One call as the JNI entry points make it: the input arrives through C Data
/// structs, the output leaves through them, and the receiver drops it.
fn through_the_seam(input: &StructArray, op: impl Fn(&StructArray) -> StructArray) -> usize {
    let in_array = Box::new(FFI_ArrowArray::new(&input.to_data()));
    let in_schema = Box::new(FFI_ArrowSchema::try_from(input.data_type()).unwrap());
    let (in_array, in_schema) = (Box::into_raw(in_array), Box::into_raw(in_schema));
    let imported = unsafe { import_struct(in_array as i64, in_schema as i64) }.unwrap();
    let result = op(&imported);
    drop(imported);
    let out_array = Box::into_raw(Box::new(FFI_ArrowArray::empty()));
    let out_schema = Box::into_raw(Box::new(FFI_ArrowSchema::empty()));
    unsafe { export_struct(&result, out_array as i64, out_schema as i64) }.unwrap();
    drop(result);
    let received = unsafe {
        let data = from_ffi(FFI_ArrowArray::from_raw(out_array), &*out_schema).unwrap();
        StructArray::from(data)
    };
    let rows = received.len();
    drop(received);
    unsafe {
        drop(Box::from_raw(out_schema));
        drop(Box::from_raw(out_array));
        drop(Box::from_raw(in_schema));
        drop(Box::from_raw(in_array));
    }
    rows
}

#[test]
fn a_thousand_batches_of_decode_and_run_leave_resident_memory_flat() {
    let contents: Vec<Vec<u8>> = (0..ROWS as u32).map(|i| jpeg(320, 240, i)).collect();
    let content: ArrayRef = Arc::new(BinaryArray::from_iter_values(contents.iter()));
    let origin: ArrayRef = Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| format!("file:/m/{i}.jpg"))));
    let files = StructArray::from(vec![
        (Arc::new(Field::new("origin", DataType::Utf8, true)), origin),
        (Arc::new(Field::new("content", DataType::Binary, true)), content.clone()),
    ]);
    let images = StructArray::from(vec![(Arc::new(Field::new("content", DataType::Binary, true)), content)]);
    let decode_cfg = DecodeConfig::from_json("{}").unwrap();
    let cfg = EngineConfig { intra_op_threads: 1, inter_op_threads: 1, ..EngineConfig::default() };
    let model = TfModel::from_graph_def(&mean_graph(64), &cfg).unwrap();
    let spec = RunSpec::from_json(
        r#"{"inputs":[{"column":"content","tensor":"input:0","image":{"kind":"encoded","height":64,"width":64,
              "scale":0.00392156862745098}}],
            "outputs":[{"tensor":"features:0","column":"f"}],"batchSize":4}"#,
    )
    .unwrap();
    let decode = |b: &StructArray| decode_batch(b, &decode_cfg).unwrap();
    let run = |b: &StructArray| {
        let out = run_batch(&model, b, &spec).unwrap();
        assert_eq!(out.column(1).null_count(), ROWS, "no row may fail: {:?}", out.column(1));
        out
    };

    for _ in 0..WARMUP {
        assert_eq!(through_the_seam(&files, decode), ROWS);
        assert_eq!(through_the_seam(&images, run), ROWS);
    }
    let before = resident_mib();
    for _ in 0..BATCHES {
        assert_eq!(through_the_seam(&files, decode), ROWS);
    }
    let after_decode = resident_mib();
    for _ in 0..BATCHES {
        assert_eq!(through_the_seam(&images, run), ROWS);
    }
    let after_run = resident_mib();
    println!(
        "resident memory: {before:.1} MiB after warm-up, {after_decode:.1} after {BATCHES} decodeImages batches, \
         {after_run:.1} after {BATCHES} runModel batches"
    );
    assert!(
        after_run - before < MAX_GROWTH_MIB,
        "resident memory grew by {:.1} MiB over {BATCHES} batches of each op (before {before:.1}, after decode \
         {after_decode:.1}, after run {after_run:.1})",
        after_run - before
    );
}
