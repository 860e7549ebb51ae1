//! Image -> model input, per image: what `TFImageTransformer` and the named
//! models do before inference (decode, channel order, resize to 224x224,
//! scale/mean/std, NHWC float32).
//!
//! Also a 12 MP phone-sized JPEG (4032x3024) to a 224x224 input through the
//! DCT-domain downscaling decode (1/8 scale: 504x378) against a full decode
//! then resize.
//!
//! `cargo bench -p sparkdl-native --bench preprocess`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use sparkdl::image::{decode_to_spark, DecodeOptions};
use sparkdl::ops::preprocess::{ImageSpec, PixelsRef, Preprocessor};

const NOISE: u32 = 17;

fn photo_like(width: u32, height: u32) -> RgbImage {
    let mut state: u32 = 0x2545_F491;
    RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state % NOISE) as f32 - (NOISE / 2) as f32;
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let c = [
            120.0 + 100.0 * (fx * 7.0).sin(),
            127.0 + 100.0 * (fy * 5.0).cos(),
            127.0 + 90.0 * ((fx + fy) * 9.0).sin(),
        ];
        Rgb(c.map(|v| (v + n).clamp(0.0, 255.0) as u8))
    })
}

fn spec() -> ImageSpec {
    let s: ImageSpec = serde_json::from_str(
        r#"{"kind":"encoded","height":224,"width":224,"channelOrder":"RGB","resize":"bilinear",
            "scale":0.00392156862745098,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}"#,
    )
    .unwrap();
    s.validate().unwrap();
    s
}

fn bench_preprocess(c: &mut Criterion) {
    let (w, h) = (500, 400);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&photo_like(w, h)).unwrap();
    let decoded = decode_to_spark(&jpeg, &DecodeOptions::default()).unwrap();
    let spec = spec();
    let mut group = c.benchmark_group("preprocess_500x400_to_224");
    group.throughput(Throughput::Elements(1));
    let mut pre = Preprocessor::default();
    let mut out = Vec::with_capacity(224 * 224 * 3);
    group.bench_function("from_struct", |b| {
        b.iter(|| {
            out.clear();
            let src =
                PixelsRef::from_struct(decoded.height, decoded.width, decoded.n_channels, decoded.mode, &decoded.data)
                    .unwrap();
            pre.append(black_box(&src), &spec, &mut out).unwrap()
        })
    });
    group.bench_function("from_jpeg_bytes", |b| {
        b.iter(|| {
            out.clear();
            pre.append_encoded(black_box(&jpeg), &DecodeOptions::default(), &spec, &mut out).unwrap()
        })
    });
    group.finish();

    // A 12 MP phone photo: decoding at 1/8 scale in the DCT domain (504x378,
    // still above 224) against decoding every pixel first.
    let (w, h) = (4032, 3024);
    let mut large = Vec::new();
    JpegEncoder::new_with_quality(&mut large, 90).encode_image(&photo_like(w, h)).unwrap();
    let mut group = c.benchmark_group("preprocess_4032x3024_to_224");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("jpeg_dct_scaled_decode", |b| {
        b.iter(|| {
            out.clear();
            pre.append_encoded(black_box(&large), &DecodeOptions::default(), &spec, &mut out).unwrap()
        })
    });
    group.bench_function("jpeg_full_decode", |b| {
        b.iter(|| {
            out.clear();
            let img = decode_to_spark(black_box(&large), &DecodeOptions::default()).unwrap();
            let src = PixelsRef::from_struct(img.height, img.width, img.n_channels, img.mode, &img.data).unwrap();
            pre.append(&src, &spec, &mut out).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_preprocess);
criterion_main!(benches);
