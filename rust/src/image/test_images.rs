//! Test fixtures: every test image is made here with the `image` crate's
//! encoders, or assembled by hand where they cannot express it (palette PNG,
//! absurd PNG headers, EXIF segments). No files from outside.

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, ImageFormat, RgbImage, RgbaImage};

/// Width and height of the small test images: odd, and not square, so that
/// stride and transposition mistakes show.
pub const W: u32 = 7;
pub const H: u32 = 5;

/// A deterministic RGB pattern with distinct values per channel.
pub fn rgb_pattern() -> RgbImage {
    RgbImage::from_fn(W, H, |x, y| image::Rgb([(x * 36) as u8, (y * 60 + 3) as u8, (200 - x * 10 - y * 20) as u8]))
}

/// The pattern with an alpha ramp (including 0 and 255).
pub fn rgba_pattern() -> RgbaImage {
    RgbaImage::from_fn(W, H, |x, y| {
        let p = rgb_pattern().get_pixel(x, y).0;
        image::Rgba([p[0], p[1], p[2], ((x + y * W) * 255 / (W * H - 1)) as u8])
    })
}

/// Encodes with `image`'s default encoder for `format`.
pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

pub fn jpeg(img: &DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    // `encode` keeps the colour type (grey stays one component);
    // `encode_image(&DynamicImage)` would always write colour.
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode(img.as_bytes(), img.width(), img.height(), img.color().into())
        .expect("encode JPEG");
    out
}

pub fn webp_lossless(img: &DynamicImage) -> Vec<u8> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(img.as_bytes(), img.width(), img.height(), img.color().into())
        .expect("encode WebP");
    out
}

pub fn gif(img: &RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        enc.encode_frame(image::Frame::new(img.clone())).expect("encode GIF");
    }
    out
}

/// Smooth colour image, large enough for JPEG to be nearly exact.
pub fn smooth_rgb(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| image::Rgb([(40 + x * 2) as u8, (60 + y * 2) as u8, 180]))
}

/// Inserts an APP1 Exif segment carrying `orientation` right after SOI.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    // TIFF header (big-endian), one IFD with one entry, no next IFD.
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A hand-assembled PNG: `ihdr` fields, optional PLTE and tRNS, and the
/// given raw scanlines (filter bytes included) in one stored-deflate IDAT.
pub struct PngParts<'a> {
    pub width: u32,
    pub height: u32,
    pub bit_depth: u8,
    pub color_type: u8,
    pub palette: Option<&'a [u8]>,
    pub trns: Option<&'a [u8]>,
    pub scanlines: &'a [u8],
}

pub fn hand_png(p: &PngParts) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&p.width.to_be_bytes());
    ihdr.extend_from_slice(&p.height.to_be_bytes());
    ihdr.extend_from_slice(&[p.bit_depth, p.color_type, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some(plte) = p.palette {
        chunk(&mut out, b"PLTE", plte);
    }
    if let Some(trns) = p.trns {
        chunk(&mut out, b"tRNS", trns);
    }
    chunk(&mut out, b"IDAT", &zlib_stored(p.scanlines));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of uncompressed ("stored") deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = if data.is_empty() { vec![&[]] } else { data.chunks(65535).collect() };
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Deterministic pseudo-random numbers (xorshift64*), for the fuzz loops.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn hand_png_is_readable_by_image() {
    // 2x1 RGB, filter byte 0.
    let png = hand_png(&PngParts {
        width: 2,
        height: 1,
        bit_depth: 8,
        color_type: 2,
        palette: None,
        trns: None,
        scanlines: &[0, 1, 2, 3, 4, 5, 6],
    });
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(img.into_raw(), vec![1, 2, 3, 4, 5, 6]);
}
