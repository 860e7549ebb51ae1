//! Files that must be refused with the right error and a readable message,
//! and a small deterministic fuzz loop: nothing may panic.

use image::{DynamicImage, ImageFormat, RgbImage};

use super::test_images::*;
use super::{decode_to_spark, DecodeOptions, ImageError, SparkImage};

fn decode_err(bytes: &[u8]) -> ImageError {
    match decode_to_spark(bytes, &DecodeOptions::default()) {
        Ok(img) => panic!("decoded a bad file as {}x{}x{}", img.height, img.width, img.n_channels),
        Err(e) => e,
    }
}

fn sample_jpeg() -> Vec<u8> {
    jpeg(&DynamicImage::ImageRgb8(noisy_rgb(64, 48)), 90)
}

fn sample_png() -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(noisy_rgb(64, 48)), ImageFormat::Png)
}

/// Noise so that the compressed data is spread over the whole file.
fn noisy_rgb(w: u32, h: u32) -> RgbImage {
    let mut rng = Rng::new(42);
    RgbImage::from_fn(w, h, |x, y| {
        let n = rng.next() as u8 / 4;
        image::Rgb([(x * 3) as u8 ^ n, (y * 5) as u8 ^ n, n])
    })
}

#[test]
fn empty_file() {
    let err = decode_err(&[]);
    assert_eq!(err, ImageError::Empty);
    assert_eq!(err.to_string(), "empty file (0 bytes)");
}

#[test]
fn text_file_named_jpg() {
    let err = decode_err(b"hello, this is not a picture\n");
    assert!(matches!(err, ImageError::UnknownFormat { .. }), "{err:?}");
    assert_eq!(err.to_string(), "not a recognised image format (starts with bytes 68 65 6c 6c: looks like text)");
}

#[test]
fn pdf_and_binary_junk() {
    let err = decode_err(b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n");
    assert_eq!(
        err.to_string(),
        "not a recognised image format (starts with bytes 25 50 44 46: looks like a PDF document)"
    );
    let err = decode_err(&[0x00, 0x9A, 0xFE, 0x13, 0x80, 0x01]);
    assert_eq!(err.to_string(), "not a recognised image format (starts with bytes 00 9a fe 13)");
}

#[test]
fn recognised_but_unsupported_formats_are_named() {
    let err = decode_err(b"\0\0\0\x1cftypavif\0\0\0\0mif1miaf");
    assert!(matches!(err, ImageError::Unsupported { format: "AVIF", .. }), "{err:?}");
    assert!(err.to_string().starts_with("unsupported AVIF image: "), "{err}");
    let err = decode_err(b"\0\0\x01\0\x01\0\x10\x10\0\0\x01\0\x20\0");
    assert!(err.to_string().starts_with("unsupported ICO image: "), "{err}");
}

#[test]
fn jpeg_truncated_to_half_is_corrupt() {
    let full = sample_jpeg();
    let err = decode_err(&full[..full.len() / 2]);
    assert!(matches!(err, ImageError::Corrupt { format: "JPEG", .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.starts_with("corrupt or truncated JPEG: the file ends before the end-of-image marker"), "{msg}");
}

#[test]
fn jpeg_truncated_anywhere_is_never_silently_decoded() {
    let full = sample_jpeg();
    for cut in (2..full.len()).step_by(37).chain([full.len() - 1]) {
        let err = decode_err(&full[..cut]);
        assert_eq!(err.kind(), "corrupt", "cut at {cut}: {err}");
    }
}

#[test]
fn jpeg_with_trailing_bytes_still_decodes() {
    let mut bytes = sample_jpeg();
    bytes.extend_from_slice(b"\0\0trailer written by some camera");
    let img = decode_to_spark(&bytes, &DecodeOptions::default()).unwrap();
    assert_eq!((img.width, img.height), (64, 48));
}

#[test]
fn png_truncated_to_half_is_corrupt() {
    let full = sample_png();
    let err = decode_err(&full[..full.len() / 2]);
    assert!(matches!(err, ImageError::Corrupt { format: "PNG", .. }), "{err:?}");
    assert!(err.to_string().starts_with("corrupt or truncated PNG: "), "{err}");
}

#[test]
fn png_signature_followed_by_random_bytes_is_corrupt() {
    let mut rng = Rng::new(7);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..500).map(|_| rng.next() as u8));
    let err = decode_err(&bytes);
    assert!(matches!(err, ImageError::Corrupt { format: "PNG", .. }), "{err:?}");
}

#[test]
fn over_max_pixels_is_too_large() {
    let png = encode(&DynamicImage::ImageRgb8(RgbImage::new(20, 20)), ImageFormat::Png);
    let opts = DecodeOptions { max_pixels: 100, ..DecodeOptions::default() };
    let err = decode_to_spark(&png, &opts).unwrap_err();
    assert_eq!(err, ImageError::TooLarge { width: 20, height: 20, pixels: 400, limit: 100 });
    assert_eq!(
        err.to_string(),
        "image is 20x20 = 400 pixels, above the limit of 100 (raise spark.sparkdl.image.maxPixels to allow it)"
    );
    // Exactly at the limit is fine.
    let opts = DecodeOptions { max_pixels: 400, ..DecodeOptions::default() };
    assert_eq!(decode_to_spark(&png, &opts).unwrap().data.len(), 1200);
}

#[test]
fn decompression_bomb_header_is_refused_before_decoding() {
    // A 30000x30000 RGB PNG header with one scanline of data: refused from
    // the header, without allocating 2.7 GB.
    let png = hand_png(&PngParts {
        width: 30000,
        height: 30000,
        bit_depth: 8,
        color_type: 2,
        palette: None,
        trns: None,
        scanlines: &[0; 16],
    });
    let err = decode_err(&png);
    assert_eq!(
        err.to_string(),
        "image is 30000x30000 = 900000000 pixels, above the limit of 178956970 \
         (raise spark.sparkdl.image.maxPixels to allow it)"
    );
    // The same for JPEG, by patching the SOF0 dimensions of a real file.
    let mut jpg = sample_jpeg();
    let sof = jpg.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG");
    jpg[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes()); // height
    jpg[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes()); // width
    let err = decode_err(&jpg);
    assert!(matches!(err, ImageError::TooLarge { width: 60000, height: 60000, .. }), "{err:?}");
}

#[test]
fn zero_sized_png_is_refused() {
    let png = hand_png(&PngParts {
        width: 0,
        height: 4,
        bit_depth: 8,
        color_type: 0,
        palette: None,
        trns: None,
        scanlines: &[0; 4],
    });
    assert!(matches!(decode_err(&png), ImageError::Corrupt { format: "PNG", .. }));
}

fn assert_consistent(result: &Result<SparkImage, ImageError>, what: &str) {
    match result {
        Ok(img) => {
            assert!(matches!(img.n_channels, 1 | 3 | 4), "{what}: {} channels", img.n_channels);
            assert_eq!(
                img.data.len(),
                img.height as usize * img.width as usize * img.n_channels as usize,
                "{what}: data length"
            );
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.is_empty() && !msg.contains('\n'), "{what}: message {msg:?}");
        }
    }
}

/// Flips bytes at 200 deterministic positions (one file per flip) and
/// truncates at 50 lengths; every result must be an `Ok` with consistent
/// dimensions or a one-line error. The size limit keeps a corrupted header
/// from making the test allocate gigabytes.
fn fuzz(name: &str, valid: &[u8], seed: u64) {
    let opts = DecodeOptions { max_pixels: 1 << 22, apply_orientation: true, shrink_to: None };
    let mut rng = Rng::new(seed);
    for i in 0..200 {
        let mut bytes = valid.to_vec();
        let pos = rng.below(bytes.len());
        bytes[pos] ^= (rng.below(255) + 1) as u8;
        let result = decode_to_spark(&bytes, &opts);
        assert_consistent(&result, &format!("{name} flip #{i} at {pos}"));
    }
    for i in 0..50 {
        let cut = valid.len() * i / 50;
        let result = decode_to_spark(&valid[..cut], &opts);
        assert!(result.is_err() || name != "JPEG", "{name} cut at {cut} decoded");
        assert_consistent(&result, &format!("{name} cut at {cut}"));
    }
}

#[test]
fn fuzz_jpeg() {
    fuzz("JPEG", &sample_jpeg(), 1);
}

#[test]
fn fuzz_png() {
    fuzz("PNG", &sample_png(), 2);
}

#[test]
fn fuzz_other_formats() {
    let rgba = DynamicImage::ImageRgb8(noisy_rgb(24, 16)).to_rgba8();
    fuzz("GIF", &gif(&rgba), 3);
    let rgb = DynamicImage::ImageRgb8(noisy_rgb(24, 16));
    fuzz("BMP", &encode(&rgb, ImageFormat::Bmp), 4);
    fuzz("TIFF", &encode(&rgb, ImageFormat::Tiff), 5);
    fuzz("WebP", &webp_lossless(&rgb), 6);
    fuzz("JPEG+EXIF", &with_exif_orientation(&sample_jpeg(), 6), 7);
}
