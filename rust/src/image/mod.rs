//! Decoding image files into Spark's image struct.
//!
//! [`decode_to_spark`] turns the bytes of one file (JPEG, PNG, GIF, BMP,
//! TIFF or WebP) into a [`SparkImage`]: the `height`, `width`, `nChannels`,
//! `mode` and `data` fields of Spark's `ImageSchema` column, with the same
//! pixel layout as Spark's own reader (`spark.read.format("image")`):
//! row-major, 8-bit samples, BGR/BGRA channel order, greyscale as one
//! channel. See the `convert` module for the exact channel rules and where we
//! deliberately differ from Spark (16-bit rounding, GIF alpha, EXIF
//! orientation).
//!
//! It never panics: every failure is an [`ImageError`] whose message is one
//! readable line ("empty file (0 bytes)", "corrupt or truncated JPEG: ...").
//!
//! Files:
//! - `sniff`: format detection from magic bytes, descriptions of non-images;
//! - `jpeg_check`: refusing truncated JPEGs the decoder would grey-fill, and
//!   finding a JPEG's EXIF block;
//! - `turbo`: JPEGs through libjpeg-turbo, at a reduced DCT scale when asked;
//! - `convert`: decoder output to BGR/BGRA/grey 8-bit;
//! - `orient`: EXIF orientation;
//! - `decode`: the pipeline, size guard and panic guard;
//! - `error`: [`ImageError`].

mod convert;
mod decode;
mod error;
mod jpeg_check;
mod orient;
mod sniff;
mod turbo;

#[cfg(test)]
mod test_images;
#[cfg(test)]
mod tests_bad_input;
#[cfg(test)]
mod tests_formats;

pub use error::ImageError;

/// OpenCV type codes, as Spark stores them in the image struct's `mode`.
pub mod ocv {
    /// 8-bit, 1 channel (greyscale).
    pub const CV_8UC1: i32 = 0;
    /// 8-bit, 3 channels (BGR).
    pub const CV_8UC3: i32 = 16;
    /// 8-bit, 4 channels (BGRA).
    pub const CV_8UC4: i32 = 24;
    /// 32-bit float, 1 channel.
    pub const CV_32FC1: i32 = 5;
    /// 32-bit float, 3 channels.
    pub const CV_32FC3: i32 = 21;
    /// 32-bit float, 4 channels.
    pub const CV_32FC4: i32 = 29;
}

/// The largest image decoded by default, in pixels: PIL's threshold for its
/// `DecompressionBombError` (twice its warning limit of 89,478,485).
pub const DEFAULT_MAX_PIXELS: u64 = 178_956_970;

/// How [`decode_to_spark`] treats a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Refuse images whose header announces more than this many pixels
    /// (width x height), before allocating anything for them.
    pub max_pixels: u64,
    /// Rotate/flip as the file's EXIF orientation says, so that `height`
    /// and `width` are those of the upright picture. Spark's reader does not.
    pub apply_orientation: bool,
    /// When set to (height, width) of the upright picture: a JPEG at least
    /// twice that size in both directions is decoded at 1/2, 1/4 or 1/8 of
    /// its size in the DCT domain (the largest reduction that stays at least
    /// this size), which skips most of the inverse DCT and colour work, and
    /// at 1/8 the decoding of the AC coefficients' values. For
    /// model inputs that are resized to this size next; never for
    /// `readImages`, whose structs keep the file's own size.
    pub shrink_to: Option<(u32, u32)>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions { max_pixels: DEFAULT_MAX_PIXELS, apply_orientation: true, shrink_to: None }
    }
}

/// One decoded image in Spark's `ImageSchema` layout (`origin` is the
/// caller's business).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparkImage {
    pub height: i32,
    pub width: i32,
    /// 1 (grey), 3 (BGR) or 4 (BGRA).
    pub n_channels: i32,
    /// The OpenCV type code: [`ocv::CV_8UC1`], [`ocv::CV_8UC3`] or [`ocv::CV_8UC4`].
    pub mode: i32,
    /// `height * width * n_channels` bytes, row-major, channels interleaved.
    pub data: Vec<u8>,
}

/// Decodes one encoded image file into Spark's image layout.
///
/// Supported: JPEG (grey, YCbCr, CMYK), PNG (all colour types and depths,
/// first frame of APNG), GIF (first frame), BMP, TIFF, WebP. Never panics.
///
/// # Errors
///
/// [`ImageError::Empty`] for no bytes, [`ImageError::UnknownFormat`] when the
/// first bytes are not an image signature, [`ImageError::Unsupported`] for a
/// recognised format (or feature) this build does not decode,
/// [`ImageError::TooLarge`] when the header announces more than
/// `opts.max_pixels` pixels, and [`ImageError::Corrupt`] for damaged or
/// truncated files (including decoder panics).
pub fn decode_to_spark(bytes: &[u8], opts: &DecodeOptions) -> Result<SparkImage, ImageError> {
    decode::decode(bytes, opts)
}
