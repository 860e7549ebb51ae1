//! The decoding pipeline: sniff, read the header, guard the size, decode,
//! convert to Spark's layout, orient. JPEGs go through libjpeg-turbo
//! ([`super::turbo`]), at a reduced scale in the DCT domain when the caller
//! resizes to a smaller target next; CMYK/YCCK JPEGs, JPEGs of more than 8
//! bits per sample, and files libjpeg-turbo cannot read go the general way
//! (`image`'s decoders), which gives them the same treatment as before.
//!
//! Order matters for safety: the pixel count is checked against
//! `max_pixels` from the header alone, before any pixel buffer exists, and
//! the decoder additionally runs under `image::Limits` so that it refuses
//! huge internal allocations itself. The whole pipeline runs inside
//! `catch_unwind`: a decoder that panics on a malformed file yields a
//! `Corrupt` error for that file rather than failing the Spark task.

use std::io::{Cursor, ErrorKind};
use std::panic::{self, AssertUnwindSafe};

use image::metadata::Orientation;
use image::{ImageDecoder, ImageFormat, ImageReader, Limits};

use super::convert::{self, AlphaPolicy};
use super::error::ImageError;
use super::sniff::{self, Sniffed};
use super::turbo::{self, Scale};
use super::{jpeg_check, orient, DecodeOptions, SparkImage};

/// The most bytes per pixel any decoder output has (RGBA, 32-bit float).
const MAX_BYTES_PER_PIXEL: u64 = 16;
/// The decoders' allocation limit never goes below `image`'s own default,
/// so a small `max_pixels` does not starve their internal buffers.
const MIN_ALLOC_LIMIT: u64 = 512 * 1024 * 1024;
/// Spark keeps `data` in a JVM byte array.
const MAX_SPARK_BYTES: u64 = i32::MAX as u64;

pub(crate) fn decode(bytes: &[u8], opts: &DecodeOptions) -> Result<SparkImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let (format, name) = match sniff::sniff(bytes) {
        Sniffed::Supported { format, name } => (format, name),
        Sniffed::Unsupported { name, reason } => return Err(ImageError::unsupported(name, reason)),
        Sniffed::Unknown => return Err(sniff::unknown_format(bytes)),
    };
    if format == ImageFormat::Jpeg {
        if let Some(done) = guarded(name, || decode_jpeg(bytes, opts))? {
            return Ok(done);
        }
    }
    guarded(name, || decode_known(bytes, format, name, opts))
}

/// A JPEG through libjpeg-turbo, or `Ok(None)` to hand it to the general path:
/// a header libjpeg-turbo cannot read, a colour space or precision it does
/// not decode to 8-bit BGR/grey here, or a decode it fails (the general
/// decoder then decides, with its own error message).
fn decode_jpeg(bytes: &[u8], opts: &DecodeOptions) -> Result<Option<SparkImage>, ImageError> {
    const NAME: &str = "JPEG";
    let Ok(header) = turbo::header(bytes) else { return Ok(None) };
    let Some(channels) = header.channels else { return Ok(None) };
    let (width, height) = (header.width, header.height);
    check_size(width, height, opts, NAME)?;
    jpeg_check::check_complete(bytes).map_err(|reason| ImageError::corrupt(NAME, reason))?;
    let orientation = if opts.apply_orientation {
        // Broken metadata must not cost the pixels: ignore it.
        jpeg_check::exif(bytes).and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms)
    } else {
        Orientation::NoTransforms
    };
    let scale = match opts.shrink_to {
        // The target is the upright picture's; the file's pixels come before the rotation.
        Some((th, tw)) if swaps_sides(orientation) => Scale::for_target(width, height, th, tw),
        Some((th, tw)) => Scale::for_target(width, height, tw, th),
        None => Scale::FULL,
    };
    let bytes_out = u64::from(scale.of(width)) * u64::from(scale.of(height)) * u64::from(channels);
    if bytes_out > MAX_SPARK_BYTES {
        return Err(too_many_bytes(NAME, bytes_out));
    }
    let decoded = match turbo::decode(bytes, scale) {
        Ok(d) => d,
        Err(reason) => {
            log::debug!("libjpeg-turbo could not decode a JPEG ({reason}); trying the general decoder");
            return Ok(None);
        }
    };
    let px = convert::SparkPixels { channels: decoded.channels, data: decoded.data };
    finish(orientation, decoded.width, decoded.height, px, NAME).map(Some)
}

/// The size guard, from the header alone: the pixel limit, no pixels, and
/// Spark's 32-bit sides.
fn check_size(width: u32, height: u32, opts: &DecodeOptions, name: &'static str) -> Result<(), ImageError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > opts.max_pixels {
        return Err(ImageError::TooLarge { width, height, pixels, limit: opts.max_pixels });
    }
    if pixels == 0 {
        return Err(ImageError::corrupt(
            name,
            format!("the header gives a size of {width}x{height}, which has no pixels"),
        ));
    }
    if i32::try_from(width).is_err() || i32::try_from(height).is_err() {
        return Err(ImageError::unsupported(
            name,
            format!("{width}x{height} does not fit Spark's 32-bit width and height"),
        ));
    }
    Ok(())
}

fn too_many_bytes(name: &'static str, bytes: u64) -> ImageError {
    ImageError::unsupported(name, format!("{bytes} decoded bytes exceed the 2 GiB that a Spark binary value can hold"))
}

/// Runs `work`, turning a panic into a `Corrupt` error for `name`.
fn guarded<T>(name: &'static str, work: impl FnOnce() -> Result<T, ImageError>) -> Result<T, ImageError> {
    // `work` only reads the input bytes and options; nothing it could leave
    // half-updated outlives a panic.
    panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        Err(ImageError::corrupt(
            name,
            format!("the decoder crashed on this file ({})", panic_message(payload.as_ref())),
        ))
    })
}

fn decode_known(
    bytes: &[u8],
    format: ImageFormat,
    name: &'static str,
    opts: &DecodeOptions,
) -> Result<SparkImage, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits(opts.max_pixels));
    // Reads the header only.
    let mut decoder = reader.into_decoder().map_err(|e| from_image_error(e, name))?;

    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    check_size(width, height, opts, name)?;
    if format == ImageFormat::Jpeg {
        jpeg_check::check_complete(bytes).map_err(|reason| ImageError::corrupt(name, reason))?;
    }

    let orientation = if opts.apply_orientation {
        // Broken metadata must not cost the pixels: ignore it.
        decoder.orientation().unwrap_or(Orientation::NoTransforms)
    } else {
        Orientation::NoTransforms
    };
    let color = decoder.color_type();
    let total = decoder.total_bytes();
    let total =
        usize::try_from(total).map_err(|_| ImageError::TooLarge { width, height, pixels, limit: opts.max_pixels })?;
    let mut buf = vec![0u8; total];
    decoder.read_image(&mut buf).map_err(|e| from_image_error(e, name))?;

    let alpha = if format == ImageFormat::Gif { AlphaPolicy::DropIfOpaque } else { AlphaPolicy::Keep };
    let px = convert::to_spark_layout(color, buf, alpha).map_err(|reason| ImageError::unsupported(name, reason))?;
    if px.data.len() as u64 > MAX_SPARK_BYTES {
        return Err(too_many_bytes(name, px.data.len() as u64));
    }
    finish(orientation, width, height, px, name)
}

/// Orients pixels in Spark's layout and makes the image struct.
fn finish(
    orientation: Orientation,
    width: u32,
    height: u32,
    px: convert::SparkPixels,
    name: &'static str,
) -> Result<SparkImage, ImageError> {
    let oriented = orient::apply(orientation, width, height, px).map_err(|reason| ImageError::corrupt(name, reason))?;
    let mode = oriented.pixels.mode();
    Ok(SparkImage {
        // Both fit: checked against i32::MAX above (rotation only swaps them).
        height: oriented.height as i32,
        width: oriented.width as i32,
        n_channels: i32::from(oriented.pixels.channels),
        mode,
        data: oriented.pixels.data,
    })
}

fn swaps_sides(o: Orientation) -> bool {
    matches!(
        o,
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH
    )
}

/// `image::Limits` for one decode: room for the largest legal output plus
/// the decoder's working memory.
fn decoder_limits(max_pixels: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL).max(MIN_ALLOC_LIMIT));
    limits
}

/// Turns an `image` error into ours, keeping the decoder's own words.
fn from_image_error(err: image::ImageError, name: &'static str) -> ImageError {
    use image::ImageError as E;
    match err {
        E::Unsupported(e) => ImageError::unsupported(name, e.to_string()),
        E::Limits(e) => ImageError::corrupt(name, format!("decoding it needs more memory than allowed ({e})")),
        E::IoError(e) if e.kind() == ErrorKind::UnexpectedEof => {
            ImageError::corrupt(name, "the file ends unexpectedly")
        }
        E::Decoding(e) => {
            // Prefer the codec's message over image's "Format error decoding X: ...".
            match std::error::Error::source(&e) {
                // Some codecs quote their message (Debug-formatted strings).
                Some(source) => ImageError::corrupt(name, source.to_string().trim_matches('"')),
                None => ImageError::corrupt(name, "the decoder found invalid data"),
            }
        }
        other => ImageError::corrupt(name, other.to_string()),
    }
}

use crate::errors::payload_text as panic_message;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_scale_with_max_pixels_and_have_a_floor() {
        assert_eq!(decoder_limits(100).max_alloc, Some(MIN_ALLOC_LIMIT));
        assert_eq!(decoder_limits(178_956_970).max_alloc, Some(178_956_970 * 16));
        assert_eq!(decoder_limits(u64::MAX).max_alloc, Some(u64::MAX));
    }

    #[test]
    fn a_panicking_decoder_becomes_corrupt() {
        let err = guarded::<()>("PNG", || panic!("index out of bounds")).unwrap_err();
        assert_eq!(err.to_string(), "corrupt or truncated PNG: the decoder crashed on this file (index out of bounds)");
        assert_eq!(err.kind(), "corrupt");
    }

    #[test]
    fn panic_payloads_become_text() {
        let caught = panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "boom 1");
        let caught = panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "panic without a message");
    }
}
