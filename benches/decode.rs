//! Decoding throughput of `sparkdl::image::decode_to_spark` on a photo-like
//! 500x400 image, as JPEG (quality 90) and PNG.
//!
//! Run with `cargo bench -p sparkdl-native --bench decode`. Criterion reports
//! time per image and decoded megapixels per second (the throughput is set
//! to the image's pixel count).

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use image::codecs::jpeg::JpegEncoder;
use image::{ImageFormat, Rgb, RgbImage};
use sparkdl::image::{decode_to_spark, DecodeOptions};

const WIDTH: u32 = 500;
const HEIGHT: u32 = 400;

/// Smooth gradients and broad shapes plus per-pixel noise, so that the
/// encoded sizes are close to those of real photographs (a flat or purely
/// synthetic image would compress unrealistically well).
fn photo_like(width: u32, height: u32) -> RgbImage {
    let mut state: u32 = 0x9E37_79B9;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state % 25) as f32 - 12.0
    };
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        // A "sky" gradient at the top, a "ground" at the bottom, and a
        // round object in between.
        let sky = [90.0 + 100.0 * fy, 140.0 + 60.0 * fy, 230.0 - 40.0 * fy];
        let ground = [110.0 + 50.0 * fx, 90.0 + 40.0 * (fx * 9.0).sin(), 50.0];
        let base = if fy < 0.55 + 0.05 * (fx * 12.0).sin() { sky } else { ground };
        let (dx, dy) = (fx - 0.6, fy - 0.45);
        let ball = (dx * dx + dy * dy).sqrt() < 0.15;
        let colour = if ball { [200.0 - 200.0 * dx.abs(), 60.0, 40.0 + 100.0 * dy.abs()] } else { base };
        let n = noise();
        Rgb(colour.map(|c| (c + n).clamp(0.0, 255.0) as u8))
    })
}

fn bench_decode(c: &mut Criterion) {
    let photo = photo_like(WIDTH, HEIGHT);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&photo).expect("encode JPEG");
    let mut png = Cursor::new(Vec::new());
    photo.write_to(&mut png, ImageFormat::Png).expect("encode PNG");
    let png = png.into_inner();
    let opts = DecodeOptions::default();

    let mut group = c.benchmark_group("decode_to_spark");
    group.throughput(Throughput::Elements(u64::from(WIDTH * HEIGHT)));
    for (name, bytes) in [("jpeg_q90_500x400", &jpeg), ("png_500x400", &png)] {
        // Fail early (and loudly) rather than benchmark an error path.
        let decoded = decode_to_spark(bytes, &opts).expect("decode benchmark image");
        assert_eq!((decoded.width, decoded.height, decoded.n_channels), (WIDTH as i32, HEIGHT as i32, 3));
        eprintln!("{name}: {} encoded bytes", bytes.len());
        group.bench_function(name, |b| b.iter(|| decode_to_spark(black_box(bytes), black_box(&opts))));
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
