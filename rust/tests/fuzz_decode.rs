//! Bounded fuzzing of the native entry points that see users' bytes: image
//! decoding (`decode_to_spark`, what `readImages` and `decodeImages` run) and
//! model-input preprocessing (`Preprocessor`, what `runModel` runs on image
//! structs and encoded files).
//!
//! Property-based (proptest), with a fixed budget so CI time is bounded: each
//! property runs `SPARKDL_FUZZ_CASES` cases (default 2048) from a seeded RNG,
//! starting from the stored corpus in `rust/tests/fuzz_corpus/` (valid files of
//! every format and known-bad ones), which the strategies mutate: bit flips,
//! byte overwrites, truncations, insertions and splices. Failures proptest
//! finds are written to `rust/tests/fuzz_decode.proptest-regressions` and
//! replayed first on every later run.
//!
//! The properties: nothing panics (a panic here is what would abort an
//! executor's JVM through JNI), every success is a well-formed image or a
//! model input of exactly the size asked for with finite values, and every
//! refusal is an error value.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner};
use sparkdl::image::{decode_to_spark, DecodeOptions};
use sparkdl::ops::preprocess::{ImageSpec, PixelsRef, Preprocessor};

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fuzz corpus {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert!(seeds.len() >= 8, "the fuzz corpus holds only {} files", seeds.len());
    seeds
}

fn cases() -> u32 {
    std::env::var("SPARKDL_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2048)
}

/// Counts of the outcomes, so a property cannot hold only because every case
/// was refused (or none was).
#[derive(Default)]
struct Outcomes {
    ok: AtomicUsize,
    refused: AtomicUsize,
}

impl Outcomes {
    fn record<T, E>(&self, r: &Result<T, E>) {
        match r {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.refused.fetch_add(1, Ordering::Relaxed),
        };
    }

    fn check(&self, what: &str) {
        let (ok, refused) = (self.ok.load(Ordering::Relaxed), self.refused.load(Ordering::Relaxed));
        println!("{what}: {ok} succeeded, {refused} refused with an error");
        assert!(ok > 0 && refused > 0, "{what}: the cases did not reach both outcomes ({ok} ok, {refused} refused)");
    }
}

fn runner() -> TestRunner {
    let config = Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fuzz_decode.proptest-regressions"
        )))),
        // Shrinking a failing file can take long; the stored failure is what matters.
        max_shrink_iters: 256,
        ..Config::default()
    };
    // Seeded: the same cases on every run, so CI's result does not depend on luck.
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Splice(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(i, b)| Edit::Flip(i, b)),
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Edit::Set(i, v)),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(i, v)| Edit::Insert(i, v)),
        1 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(a, b, c)| Edit::Splice(a, b, c)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len();
        match e {
            Edit::Flip(i, b) if n > 0 => bytes[i % n] ^= 1 << b,
            Edit::Set(i, v) if n > 0 => bytes[i % n] = *v,
            Edit::Truncate(i) => bytes.truncate(i % (n + 1)),
            Edit::Insert(i, v) => {
                let at = i % (n + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Edit::Splice(a, b, c) if n > 0 => {
                // Repeat a slice of the file elsewhere (a duplicated marker or chunk).
                let (start, len, at) = (a % n, 1 + b % 256, c % n);
                let piece: Vec<u8> = bytes[start..(start + len).min(n)].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => {}
        }
    }
    bytes
}

/// A file from the corpus with up to 8 edits, or plain random bytes.
fn mutated_file(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    prop_oneof![
        9 => (0..n, prop::collection::vec(edit(), 0..8)).prop_map(move |(i, edits)| apply(seeds[i].clone(), &edits)),
        1 => prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// Small enough that a mutated header cannot make a case slow: a decode that
/// would exceed it is refused from the header, which is also under test.
fn options(apply_orientation: bool, shrink: Option<(u32, u32)>) -> DecodeOptions {
    DecodeOptions { max_pixels: 4_000_000, apply_orientation, shrink_to: shrink }
}

#[test]
fn decoding_mutated_files_never_panics_and_gives_well_formed_images() {
    let mut runner = runner();
    let outcomes = Outcomes::default();
    let strategy = (mutated_file(corpus()), any::<bool>(), prop::option::of((1u32..300, 1u32..300)));
    runner
        .run(&strategy, |(bytes, orient, shrink)| {
            let opts = options(orient, shrink);
            let result = std::panic::catch_unwind(|| decode_to_spark(&bytes, &opts));
            prop_assert!(result.is_ok(), "decode panicked on {} bytes", bytes.len());
            if let Ok(r) = &result {
                outcomes.record(r);
            }
            if let Ok(Ok(img)) = result {
                prop_assert!(img.height > 0 && img.width > 0);
                prop_assert!(matches!(img.n_channels, 1 | 3 | 4));
                prop_assert_eq!(img.data.len(), img.height as usize * img.width as usize * img.n_channels as usize);
                prop_assert!((img.height as u64) * (img.width as u64) <= opts.max_pixels);
            }
            Ok(())
        })
        .unwrap();
    outcomes.check("decode");
}

fn spec(kind: &str, size: Option<(u32, u32)>, order: &str, resize: &str, layout: &str, norm: bool) -> ImageSpec {
    let json = serde_json::json!({
        "kind": kind,
        "height": size.map(|s| s.0),
        "width": size.map(|s| s.1),
        "channelOrder": order,
        "resize": resize,
        "scale": 1.0 / 255.0,
        "mean": if norm { vec![0.485, 0.456, 0.406] } else { vec![] },
        "std": if norm { vec![0.229, 0.224, 0.225] } else { vec![] },
        "layout": layout,
    });
    serde_json::from_value(json).unwrap()
}

fn spec_strategy(kind: &'static str) -> impl Strategy<Value = ImageSpec> {
    (
        prop::option::of((1u32..96, 1u32..96)),
        prop::sample::select(vec!["RGB", "BGR", "L"]),
        prop::sample::select(vec!["bilinear", "nearest", "bicubic", "lanczos3"]),
        prop::sample::select(vec!["NHWC", "NCHW"]),
        any::<bool>(),
    )
        .prop_map(move |(size, order, resize, layout, norm)| {
            // Per-channel mean/std only fit three channels.
            spec(kind, size, order, resize, layout, norm && order != "L")
        })
}

#[test]
fn preprocessing_any_image_struct_gives_the_asked_size_or_an_error() {
    let mut runner = runner();
    // Mostly consistent structs (mode matching the channels, data of the stated size), so the
    // resize and normalisation paths run; the rest are inconsistent in one way or more.
    let strategy = (
        (0i32..70, 0i32..70, prop::sample::select(vec![1i32, 3, 4, 1, 3, 4, 2, 0, -1])),
        prop_oneof![4 => Just(None), 1 => prop::sample::select(vec![0i32, 16, 24, 5, 7]).prop_map(Some)],
        any::<u64>(),
        prop_oneof![4 => Just(0i64), 1 => -8i64..8],
        spec_strategy("struct"),
    );
    let outcomes = Outcomes::default();
    runner
        .run(&strategy, |((h, w, c), mode, seed, len_delta, spec)| {
            let mode = mode.unwrap_or(match c {
                1 => 0,
                3 => 16,
                _ => 24,
            });
            let wanted = (h.max(0) as i64) * (w.max(0) as i64) * (c.max(0) as i64) + len_delta;
            let mut state = seed | 1;
            let data: Vec<u8> = (0..wanted.max(0))
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let result = std::panic::catch_unwind(move || {
                let mut pre = Preprocessor::default();
                let mut out = Vec::new();
                let pixels = PixelsRef::from_struct(h, w, c, mode, &data)?;
                let (oh, ow) = pre.append(&pixels, &spec, &mut out)?;
                Ok::<_, String>((oh, ow, out, spec))
            });
            prop_assert!(result.is_ok(), "preprocess panicked on a {h}x{w}x{c} struct of mode {mode}");
            if let Ok(r) = &result {
                outcomes.record(r);
            }
            if let Ok(Ok((oh, ow, out, spec))) = result {
                if let (Some(th), Some(tw)) = (spec.height, spec.width) {
                    prop_assert_eq!((oh, ow), (th as usize, tw as usize));
                }
                prop_assert_eq!(out.len(), oh * ow * spec.channels());
                prop_assert!(out.iter().all(|v| v.is_finite()));
            }
            Ok(())
        })
        .unwrap();
    outcomes.check("preprocess image structs");
}

#[test]
fn preprocessing_mutated_files_gives_the_asked_size_or_an_error() {
    let mut runner = runner();
    let strategy = (mutated_file(corpus()), (1u32..64, 1u32..64), spec_strategy("encoded"), any::<bool>());
    let outcomes = Outcomes::default();
    runner
        .run(&strategy, |(bytes, (th, tw), mut spec, shrink)| {
            spec.height = Some(th);
            spec.width = Some(tw);
            let opts = options(true, shrink.then_some((th, tw)));
            let n = th as usize * tw as usize * spec.channels();
            let result = std::panic::catch_unwind(move || {
                let mut pre = Preprocessor::default();
                let mut dst = vec![f32::NAN; n];
                pre.write_encoded(&bytes, &opts, &spec, &mut dst).map(|_| dst)
            });
            prop_assert!(result.is_ok(), "preprocess panicked on a mutated file");
            if let Ok(r) = &result {
                outcomes.record(r);
            }
            if let Ok(Ok(dst)) = result {
                prop_assert!(dst.iter().all(|v| v.is_finite()), "a slot was left unwritten or not finite");
            }
            Ok(())
        })
        .unwrap();
    outcomes.check("preprocess encoded files");
}
