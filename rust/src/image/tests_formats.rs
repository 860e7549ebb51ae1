//! Every supported format and colour type, decoded end to end: shape, mode
//! and exact bytes (lossless formats) or bytes within a tolerance (JPEG).

use image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage, Rgba, RgbaImage};

use super::convert::u16_to_u8;
use super::ocv::{CV_8UC1, CV_8UC3, CV_8UC4};
use super::test_images::*;
use super::{decode_to_spark, DecodeOptions, SparkImage};

fn decode(bytes: &[u8]) -> SparkImage {
    decode_to_spark(bytes, &DecodeOptions::default()).unwrap_or_else(|e| panic!("decode failed: {e}"))
}

fn assert_shape(img: &SparkImage, height: u32, width: u32, channels: i32, mode: i32) {
    assert_eq!(
        (img.height, img.width, img.n_channels, img.mode),
        (height as i32, width as i32, channels, mode),
        "height, width, nChannels, mode"
    );
    assert_eq!(img.data.len(), (height * width) as usize * channels as usize, "data length");
}

fn bgr(img: &RgbImage) -> Vec<u8> {
    img.pixels().flat_map(|p| [p[2], p[1], p[0]]).collect()
}

fn bgra(img: &RgbaImage) -> Vec<u8> {
    img.pixels().flat_map(|p| [p[2], p[1], p[0], p[3]]).collect()
}

fn max_abs_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

#[test]
fn png_grey_8_bit() {
    let grey = GrayImage::from_fn(W, H, |x, y| Luma([(x * 30 + y * 7) as u8]));
    let img = decode(&encode(&DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 1, CV_8UC1);
    assert_eq!(img.data, grey.into_raw());
}

#[test]
fn png_grey_16_bit_is_rounded_not_truncated() {
    let values = [0u16, 128, 129, 0x1234, 0x80FF, 0xFF00, 65535];
    let grey = ImageBuffer::<Luma<u16>, _>::from_fn(W, H, |x, y| Luma([values[((x + y) % 7) as usize]]));
    let img = decode(&encode(&DynamicImage::ImageLuma16(grey.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 1, CV_8UC1);
    let expected: Vec<u8> = grey.pixels().map(|p| u16_to_u8(p[0])).collect();
    assert_eq!(img.data, expected);
    // Spark's reader would have kept the low bytes.
    let low_bytes: Vec<u8> = grey.pixels().map(|p| p[0] as u8).collect();
    assert_ne!(img.data, low_bytes);
}

#[test]
fn png_grey_alpha_drops_alpha() {
    let la = ImageBuffer::<LumaA<u8>, _>::from_fn(W, H, |x, y| LumaA([(x * 20 + y) as u8, (y * 50) as u8]));
    let img = decode(&encode(&DynamicImage::ImageLumaA8(la.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 1, CV_8UC1);
    assert_eq!(img.data, la.pixels().map(|p| p[0]).collect::<Vec<_>>());
}

#[test]
fn png_rgb_8_bit_is_bgr() {
    let rgb = rgb_pattern();
    let img = decode(&encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 3, CV_8UC3);
    assert_eq!(img.data, bgr(&rgb));
    // The first pixel, spelled out: R=0, G=3, B=200 -> 200, 3, 0.
    assert_eq!(&img.data[..3], &[200, 3, 0]);
}

#[test]
fn png_rgba_8_bit_is_bgra() {
    let rgba = rgba_pattern();
    let img = decode(&encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 4, CV_8UC4);
    assert_eq!(img.data, bgra(&rgba));
}

#[test]
fn png_rgba_fully_opaque_keeps_four_channels() {
    // Like ImageIO: an RGBA colour type has alpha, whatever its values.
    let rgba = DynamicImage::ImageRgb8(rgb_pattern()).to_rgba8();
    let img = decode(&encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 4, CV_8UC4);
    assert_eq!(img.data, bgra(&rgba));
}

#[test]
fn png_rgb_16_bit_is_rounded_bgr() {
    let rgb =
        ImageBuffer::<Rgb<u16>, _>::from_fn(W, H, |x, y| Rgb([(x * 9000) as u16, (y * 16000 + 129) as u16, 65535]));
    let img = decode(&encode(&DynamicImage::ImageRgb16(rgb.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 3, CV_8UC3);
    let expected: Vec<u8> = rgb.pixels().flat_map(|p| [u16_to_u8(p[2]), u16_to_u8(p[1]), u16_to_u8(p[0])]).collect();
    assert_eq!(img.data, expected);
}

#[test]
fn png_rgba_16_bit_is_rounded_bgra() {
    let rgba =
        ImageBuffer::<Rgba<u16>, _>::from_fn(W, H, |x, y| Rgba([(x * 9000) as u16, 300, (y * 16000) as u16, 40000]));
    let img = decode(&encode(&DynamicImage::ImageRgba16(rgba.clone()), ImageFormat::Png));
    assert_shape(&img, H, W, 4, CV_8UC4);
    let expected: Vec<u8> =
        rgba.pixels().flat_map(|p| [u16_to_u8(p[2]), u16_to_u8(p[1]), u16_to_u8(p[0]), u16_to_u8(p[3])]).collect();
    assert_eq!(img.data, expected);
}

const PALETTE: [u8; 9] = [255, 0, 0, 0, 255, 0, 10, 20, 30];
/// 3x2 indices, each row led by filter byte 0.
const INDEXED_3X2: [u8; 8] = [0, 0, 1, 2, 0, 2, 1, 0];

#[test]
fn palette_png_without_transparency_is_bgr() {
    let png = hand_png(&PngParts {
        width: 3,
        height: 2,
        bit_depth: 8,
        color_type: 3,
        palette: Some(&PALETTE),
        trns: None,
        scanlines: &INDEXED_3X2,
    });
    let img = decode(&png);
    assert_shape(&img, 2, 3, 3, CV_8UC3);
    assert_eq!(img.data, vec![0, 0, 255, 0, 255, 0, 30, 20, 10, 30, 20, 10, 0, 255, 0, 0, 0, 255]);
}

#[test]
fn palette_png_with_trns_is_bgra() {
    let png = hand_png(&PngParts {
        width: 3,
        height: 2,
        bit_depth: 8,
        color_type: 3,
        palette: Some(&PALETTE),
        trns: Some(&[255, 128]), // entry 2 has no tRNS value: opaque
        scanlines: &INDEXED_3X2,
    });
    let img = decode(&png);
    assert_shape(&img, 2, 3, 4, CV_8UC4);
    #[rustfmt::skip]
    let expected = vec![
        0, 0, 255, 255,   0, 255, 0, 128,   30, 20, 10, 255,
        30, 20, 10, 255,  0, 255, 0, 128,   0, 0, 255, 255,
    ];
    assert_eq!(img.data, expected);
}

#[test]
fn one_bit_grey_png_expands_to_full_range() {
    let png = hand_png(&PngParts {
        width: 8,
        height: 1,
        bit_depth: 1,
        color_type: 0,
        palette: None,
        trns: None,
        scanlines: &[0, 0b1011_0001],
    });
    let img = decode(&png);
    assert_shape(&img, 1, 8, 1, CV_8UC1);
    assert_eq!(img.data, vec![255, 0, 255, 255, 0, 0, 0, 255]);
}

#[test]
fn bmp_24_bit_is_bgr() {
    let rgb = rgb_pattern();
    let bytes = encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Bmp);
    assert_eq!(u16::from_le_bytes([bytes[28], bytes[29]]), 24, "a 24-bit BMP");
    let img = decode(&bytes);
    assert_shape(&img, H, W, 3, CV_8UC3);
    assert_eq!(img.data, bgr(&rgb));
}

#[test]
fn gif_without_transparency_has_three_channels() {
    let rgba = DynamicImage::ImageRgb8(rgb_pattern()).to_rgba8(); // 35 colours: an exact palette
    let img = decode(&gif(&rgba));
    assert_shape(&img, H, W, 3, CV_8UC3);
    assert_eq!(img.data, bgr(&rgb_pattern()));
}

#[test]
fn gif_with_transparency_has_four_channels() {
    let mut rgba = DynamicImage::ImageRgb8(rgb_pattern()).to_rgba8();
    rgba.put_pixel(3, 2, Rgba([0, 0, 0, 0]));
    let img = decode(&gif(&rgba));
    assert_shape(&img, H, W, 4, CV_8UC4);
    let alpha: Vec<u8> = img.data.chunks_exact(4).map(|p| p[3]).collect();
    let expected_alpha: Vec<u8> = rgba.pixels().map(|p| p[3]).collect();
    assert_eq!(alpha, expected_alpha);
    // Opaque pixels keep their exact colour, in BGR order.
    for (got, want) in img.data.chunks_exact(4).zip(rgba.pixels()) {
        if want[3] == 255 {
            assert_eq!(&got[..3], &[want[2], want[1], want[0]]);
        }
    }
}

#[test]
fn tiff_rgb_rgba_and_grey_16() {
    let rgb = rgb_pattern();
    let img = decode(&encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Tiff));
    assert_shape(&img, H, W, 3, CV_8UC3);
    assert_eq!(img.data, bgr(&rgb));

    let rgba = rgba_pattern();
    let img = decode(&encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Tiff));
    assert_shape(&img, H, W, 4, CV_8UC4);
    assert_eq!(img.data, bgra(&rgba));

    let grey = ImageBuffer::<Luma<u16>, _>::from_fn(W, H, |x, y| Luma([(x * 9000 + y * 77) as u16]));
    let img = decode(&encode(&DynamicImage::ImageLuma16(grey.clone()), ImageFormat::Tiff));
    assert_shape(&img, H, W, 1, CV_8UC1);
    assert_eq!(img.data, grey.pixels().map(|p| u16_to_u8(p[0])).collect::<Vec<_>>());
}

#[test]
fn webp_lossless_rgb_and_rgba() {
    let rgb = rgb_pattern();
    let img = decode(&webp_lossless(&DynamicImage::ImageRgb8(rgb.clone())));
    assert_shape(&img, H, W, 3, CV_8UC3);
    assert_eq!(img.data, bgr(&rgb));

    let rgba = rgba_pattern();
    let img = decode(&webp_lossless(&DynamicImage::ImageRgba8(rgba.clone())));
    assert_shape(&img, H, W, 4, CV_8UC4);
    assert_eq!(img.data, bgra(&rgba));
}

#[test]
fn jpeg_colour_is_bgr_within_tolerance() {
    let rgb = smooth_rgb(64, 48);
    let img = decode(&jpeg(&DynamicImage::ImageRgb8(rgb.clone()), 95));
    assert_shape(&img, 48, 64, 3, CV_8UC3);
    assert!(max_abs_diff(&img.data, &bgr(&rgb)) <= 6, "max diff {}", max_abs_diff(&img.data, &bgr(&rgb)));
    // Blue (180 everywhere) comes first, red (40 at x = 0) last.
    assert!(img.data[0].abs_diff(180) <= 6 && img.data[2].abs_diff(40) <= 6, "{:?}", &img.data[..3]);
}

#[test]
fn jpeg_grey_is_one_channel() {
    let grey = GrayImage::from_fn(40, 24, |x, y| Luma([(30 + x * 3 + y * 2) as u8]));
    let img = decode(&jpeg(&DynamicImage::ImageLuma8(grey.clone()), 95));
    assert_shape(&img, 24, 40, 1, CV_8UC1);
    assert!(max_abs_diff(&img.data, grey.as_raw()) <= 4);
}

/// 32 wide, 16 high, blue, with a red 8x8 block in the top-left corner.
fn corner_marked() -> RgbImage {
    RgbImage::from_fn(32, 16, |x, y| if x < 8 && y < 8 { Rgb([230, 20, 20]) } else { Rgb([20, 20, 230]) })
}

/// Is the BGR pixel at (x, y) of `img` red (rather than blue)?
fn is_red(img: &SparkImage, x: i32, y: i32) -> bool {
    let i = ((y * img.width + x) * 3) as usize;
    let (b, r) = (img.data[i], img.data[i + 2]);
    r > 150 && b < 100
}

#[test]
fn exif_orientation_6_rotates_clockwise() {
    let bytes = with_exif_orientation(&jpeg(&DynamicImage::ImageRgb8(corner_marked()), 95), 6);
    let img = decode(&bytes);
    assert_shape(&img, 32, 16, 3, CV_8UC3);
    // Rotating 90 degrees clockwise moves the top-left corner to the top-right.
    assert!(is_red(&img, 13, 2), "top-right should be red");
    assert!(!is_red(&img, 2, 2), "top-left should be blue");
    assert!(!is_red(&img, 13, 29), "bottom-right should be blue");
}

#[test]
fn exif_orientation_can_be_ignored() {
    let bytes = with_exif_orientation(&jpeg(&DynamicImage::ImageRgb8(corner_marked()), 95), 6);
    let opts = DecodeOptions { apply_orientation: false, ..DecodeOptions::default() };
    let img = decode_to_spark(&bytes, &opts).unwrap();
    assert_shape(&img, 16, 32, 3, CV_8UC3);
    assert!(is_red(&img, 2, 2) && !is_red(&img, 29, 2));
}

#[test]
fn exif_orientation_1_and_garbage_values_change_nothing() {
    let plain = jpeg(&DynamicImage::ImageRgb8(corner_marked()), 95);
    let reference = decode(&plain);
    for orientation in [1u16, 0, 9, 0xFFFF] {
        let img = decode(&with_exif_orientation(&plain, orientation));
        assert_eq!(img, reference, "orientation {orientation}");
    }
}

/// Mean absolute difference between `a` and `b` box-averaged by `f` in both
/// directions (what a DCT-domain 1/f decode approximates).
fn mean_abs_diff_to_box(small: &SparkImage, big: &SparkImage, f: usize) -> f64 {
    let (w, c) = (small.width as usize, small.n_channels as usize);
    let bw = big.width as usize;
    let mut total = 0.0;
    for (i, v) in small.data.iter().enumerate() {
        let (y, x, ch) = (i / (w * c), (i / c) % w, i % c);
        let mut sum = 0u32;
        for dy in 0..f {
            for dx in 0..f {
                sum += u32::from(big.data[((y * f + dy) * bw + x * f + dx) * c + ch]);
            }
        }
        total += (f64::from(*v) - f64::from(sum) / (f * f) as f64).abs();
    }
    total / small.data.len() as f64
}

#[test]
fn jpeg_shrinks_in_the_dct_domain_but_never_below_the_target() {
    let photo = DynamicImage::ImageRgb8(smooth_rgb(1000, 800));
    let bytes = jpeg(&photo, 90);
    let full = decode(&bytes);
    let shrink = |h, w| DecodeOptions { shrink_to: Some((h, w)), ..DecodeOptions::default() };
    // 224x224: 1/2 (500x400) fits, 1/4 (250x200) would be too small.
    let half = decode_to_spark(&bytes, &shrink(224, 224)).unwrap();
    assert_shape(&half, 400, 500, 3, CV_8UC3);
    let diff = mean_abs_diff_to_box(&half, &full, 2);
    assert!(diff < 2.0, "1/2 decode differs from a 2x2 box average of the full decode by {diff}");
    // 100x100: 1/8 (125x100).
    let eighth = decode_to_spark(&bytes, &shrink(100, 100)).unwrap();
    assert_shape(&eighth, 100, 125, 3, CV_8UC3);
    let diff = mean_abs_diff_to_box(&eighth, &full, 8);
    assert!(diff < 3.0, "1/8 decode differs from an 8x8 box average by {diff}");
    // No reduction fits: the full decode, byte for byte.
    assert_eq!(decode_to_spark(&bytes, &shrink(401, 224)).unwrap(), full);
    // Grey JPEGs shrink too.
    let grey = jpeg(&DynamicImage::ImageLuma8(photo.to_luma8()), 90);
    assert_shape(&decode_to_spark(&grey, &shrink(224, 224)).unwrap(), 400, 500, 1, CV_8UC1);
}

#[test]
fn the_shrink_target_is_for_the_upright_picture() {
    // Stored 1000 wide x 600 high, EXIF "rotate 90": upright it is 600 wide x 1000 high.
    let bytes = with_exif_orientation(&jpeg(&DynamicImage::ImageRgb8(smooth_rgb(1000, 600)), 90), 6);
    let upright = decode(&bytes);
    assert_shape(&upright, 1000, 600, 3, CV_8UC3);
    // Upright target 480 high x 290 wide: the stored image may halve (500x300 -> upright 500 high x 300 wide).
    let opts = DecodeOptions { shrink_to: Some((480, 290)), ..DecodeOptions::default() };
    assert_shape(&decode_to_spark(&bytes, &opts).unwrap(), 500, 300, 3, CV_8UC3);
    // Read sideways (290 high x 480 wide) the same target would not fit a halving of the height.
    let opts = DecodeOptions { shrink_to: Some((310, 290)), ..DecodeOptions::default() };
    assert_shape(&decode_to_spark(&bytes, &opts).unwrap(), 500, 300, 3, CV_8UC3);
    let opts = DecodeOptions { shrink_to: Some((501, 290)), ..DecodeOptions::default() };
    assert_shape(&decode_to_spark(&bytes, &opts).unwrap(), 1000, 600, 3, CV_8UC3);
}
