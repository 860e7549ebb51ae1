//! Recognising a file's format from its first bytes.
//!
//! We do this ourselves rather than with `image::guess_format` so that we can
//! (a) name formats we recognise but do not decode (AVIF, HEIC, JPEG XL, ...),
//! (b) avoid weak two-byte signatures turning text into a "corrupt BMP", and
//! (c) say what an unknown file looks like instead ("text", "a PDF document").

use image::ImageFormat;

use super::error::ImageError;

/// What the first bytes of a file say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// A format this build decodes.
    Supported { format: ImageFormat, name: &'static str },
    /// An image format we know but do not decode.
    Unsupported { name: &'static str, reason: &'static str },
    /// Not an image format we know.
    Unknown,
}

const NOT_ENABLED: &str =
    "this format is not decoded (supported: JPEG, PNG, GIF, BMP, TIFF, WebP); convert the file first";

pub(crate) fn sniff(bytes: &[u8]) -> Sniffed {
    use Sniffed::{Supported, Unsupported};
    let b = bytes;
    // A lone SOI is a JPEG cut right after its first marker.
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) || b == [0xFF, 0xD8] {
        return Supported { format: ImageFormat::Jpeg, name: "JPEG" };
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Supported { format: ImageFormat::Png, name: "PNG" };
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return Supported { format: ImageFormat::Gif, name: "GIF" };
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        return Supported { format: ImageFormat::WebP, name: "WebP" };
    }
    // Classic TIFF ('*' = 42) and BigTIFF ('+' = 43), both byte orders.
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") || b.starts_with(b"II+\0") || b.starts_with(b"MM\0+") {
        return Supported { format: ImageFormat::Tiff, name: "TIFF" };
    }
    if looks_like_bmp(b) {
        return Supported { format: ImageFormat::Bmp, name: "BMP" };
    }
    if let Some(name) = iso_bmff_image(b) {
        return Unsupported { name, reason: NOT_ENABLED };
    }
    if b.starts_with(&[0xFF, 0x0A]) || b.starts_with(b"\0\0\0\x0CJXL \r\n\x87\n") {
        return Unsupported { name: "JPEG XL", reason: NOT_ENABLED };
    }
    if b.starts_with(b"\0\0\0\x0CjP  \r\n\x87\n") || b.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        return Unsupported { name: "JPEG 2000", reason: NOT_ENABLED };
    }
    if b.len() >= 6 && (b.starts_with(&[0, 0, 1, 0]) || b.starts_with(&[0, 0, 2, 0])) && (b[4] != 0 || b[5] != 0) {
        return Unsupported { name: "ICO", reason: NOT_ENABLED };
    }
    let others: [(&[u8], &'static str); 7] = [
        (b"8BPS", "Photoshop (PSD)"),
        (b"DDS ", "DDS"),
        (b"#?RADIANCE", "Radiance HDR"),
        (b"#?RGBE", "Radiance HDR"),
        (&[0x76, 0x2F, 0x31, 0x01], "OpenEXR"),
        (b"qoif", "QOI"),
        (b"farbfeld", "farbfeld"),
    ];
    for (magic, name) in others {
        if b.starts_with(magic) {
            return Unsupported { name, reason: NOT_ENABLED };
        }
    }
    if looks_like_pnm(b) {
        return Unsupported { name: "PNM", reason: NOT_ENABLED };
    }
    if is_svg(b) {
        return Unsupported {
            name: "SVG",
            reason: "vector images are not decoded; rasterise the file (e.g. to PNG) first",
        };
    }
    Sniffed::Unknown
}

/// "BM" alone is too weak (think of a text file starting "BMW"): also require
/// one of the known DIB header sizes at offset 14. A file too short to hold
/// it is still called BMP so that the decoder reports it as truncated.
fn looks_like_bmp(b: &[u8]) -> bool {
    if !b.starts_with(b"BM") {
        return false;
    }
    if b.len() < 18 {
        return b.len() > 2 && !b.iter().all(|c| c.is_ascii_graphic() || c.is_ascii_whitespace());
    }
    let dib = u32::from_le_bytes([b[14], b[15], b[16], b[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// "P1".."P7", whitespace, then a number or a comment (P7: a header keyword).
fn looks_like_pnm(b: &[u8]) -> bool {
    if b.len() < 4 || b[0] != b'P' || !(b'1'..=b'7').contains(&b[1]) || !b[2].is_ascii_whitespace() {
        return false;
    }
    match b[2..].iter().find(|c| !c.is_ascii_whitespace()) {
        Some(c) => c.is_ascii_digit() || *c == b'#' || (b[1] == b'7' && c.is_ascii_uppercase()),
        None => false,
    }
}

/// HEIF-family files: a `ftyp` box at offset 4 whose major brand names an
/// image (AVIF or HEIC/HEIF). Video brands fall through to "unknown".
fn iso_bmff_image(b: &[u8]) -> Option<&'static str> {
    if b.len() < 12 || &b[4..8] != b"ftyp" {
        return None;
    }
    match &b[8..12] {
        b"avif" | b"avis" => Some("AVIF"),
        b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => Some("HEIC/HEIF"),
        _ => None,
    }
}

fn is_svg(b: &[u8]) -> bool {
    let head = text_head(b);
    let lower = head.to_ascii_lowercase();
    (lower.starts_with(b"<svg") || lower.starts_with(b"<?xml") || lower.starts_with(b"<!doctype svg"))
        && lower.windows(4).any(|w| w == b"<svg")
}

/// The first KiB, without a UTF-8 byte-order mark and leading whitespace.
fn text_head(b: &[u8]) -> &[u8] {
    let b = b.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(b);
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    &b[start..b.len().min(start + 1024)]
}

/// The error for a file that [`sniff`] called [`Sniffed::Unknown`].
pub(crate) fn unknown_format(bytes: &[u8]) -> ImageError {
    let first_bytes = bytes.iter().take(4).map(|c| format!("{c:02x}")).collect::<Vec<_>>().join(" ");
    ImageError::UnknownFormat { first_bytes, looks_like: looks_like(bytes) }
}

/// A guess at what a non-image file is, for the error message.
fn looks_like(b: &[u8]) -> Option<&'static str> {
    let magic: [(&[u8], &'static str); 9] = [
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (&[0x1F, 0x8B], "gzip-compressed data"),
        (b"BZh", "bzip2-compressed data"),
        (&[0xFD, b'7', b'z', b'X', b'Z', 0], "xz-compressed data"),
        (&[0x28, 0xB5, 0x2F, 0xFD], "zstd-compressed data"),
        (b"7z\xBC\xAF\x27\x1C", "a 7-Zip archive"),
        (b"\x7FELF", "an executable"),
        (b"OggS", "an Ogg audio/video file"),
    ];
    if let Some((_, what)) = magic.iter().find(|(m, _)| b.starts_with(m)) {
        return Some(what);
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return Some("an MP4/QuickTime video");
    }
    if b.len() >= 12 && &b[..4] == b"RIFF" {
        return Some("a RIFF audio/video file");
    }
    if b.starts_with(b"ID3") {
        return Some("an MP3 audio file");
    }
    let head = text_head(b);
    let lower = head.to_ascii_lowercase();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Some("an HTML page");
    }
    if lower.starts_with(b"<?xml") {
        return Some("an XML document");
    }
    if is_text(b) {
        return Some("text");
    }
    None
}

/// Text if the first 512 bytes are UTF-8 (allowing a character cut at the
/// end) without control characters other than tab, CR, LF and form feed.
fn is_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(512)];
    let valid = match std::str::from_utf8(head) {
        Ok(s) => s,
        // A multi-byte character cut by the 512-byte window is fine.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => return false,
    };
    !valid.is_empty() && valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0C'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(b: &[u8]) -> Option<&'static str> {
        match sniff(b) {
            Sniffed::Supported { name, .. } | Sniffed::Unsupported { name, .. } => Some(name),
            Sniffed::Unknown => None,
        }
    }

    #[test]
    fn recognises_supported_formats() {
        assert_eq!(name_of(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("JPEG"));
        assert_eq!(name_of(b"\x89PNG\r\n\x1a\n...."), Some("PNG"));
        assert_eq!(name_of(b"GIF89a...."), Some("GIF"));
        assert_eq!(name_of(b"RIFF\x10\0\0\0WEBPVP8L"), Some("WebP"));
        assert_eq!(name_of(b"II*\0\x08\0\0\0"), Some("TIFF"));
        assert_eq!(name_of(b"MM\0+\0\x08\0\0"), Some("TIFF"));
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0; 12]);
        bmp.extend_from_slice(&40u32.to_le_bytes());
        assert_eq!(name_of(&bmp), Some("BMP"));
    }

    #[test]
    fn names_unsupported_formats() {
        assert_eq!(name_of(b"\0\0\0\x1cftypavif\0\0\0\0"), Some("AVIF"));
        assert_eq!(name_of(b"\0\0\0\x18ftypheic\0\0\0\0"), Some("HEIC/HEIF"));
        assert_eq!(name_of(&[0xFF, 0x0A, 0x01]), Some("JPEG XL"));
        assert_eq!(name_of(b"\0\0\x01\0\x01\0\x10\x10"), Some("ICO"));
        assert_eq!(name_of(b"8BPS\0\x01"), Some("Photoshop (PSD)"));
        assert_eq!(name_of(b"P6\n3 2\n255\n"), Some("PNM"));
        assert_eq!(name_of(b"<?xml version=\"1.0\"?>\n<svg xmlns=\"\"/>"), Some("SVG"));
    }

    #[test]
    fn weak_signatures_do_not_claim_text() {
        assert_eq!(name_of(b"BMW drivers handbook, chapter one"), None);
        assert_eq!(name_of(b"BMW"), None);
        assert_eq!(name_of(b"P1 is the first point"), None);
        assert_eq!(name_of(b"P5 # made by hand\n2 2 255\n"), Some("PNM"));
        assert_eq!(name_of(b"P10 units"), None);
    }

    #[test]
    fn describes_unknown_files() {
        let msg = unknown_format(b"hello world\n").to_string();
        assert_eq!(msg, "not a recognised image format (starts with bytes 68 65 6c 6c: looks like text)");
        assert_eq!(looks_like(b"%PDF-1.7\n"), Some("a PDF document"));
        assert_eq!(looks_like(b"  <!DOCTYPE html><html>"), Some("an HTML page"));
        assert_eq!(looks_like(b"\0\0\0\x18ftypmp42"), Some("an MP4/QuickTime video"));
        assert_eq!(looks_like(&[0x00, 0x9A, 0xFE, 0x13, 0x80]), None);
        assert_eq!(looks_like("caf\u{e9} au lait".as_bytes()), Some("text"));
        assert_eq!(unknown_format(&[0xAB]).to_string(), "not a recognised image format (starts with bytes ab)");
    }
}
