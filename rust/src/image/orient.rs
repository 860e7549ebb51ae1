//! Applying the EXIF orientation to pixels already in Spark's layout.
//!
//! Spark's own reader (Java ImageIO) ignores EXIF orientation, so a portrait
//! photo from a phone comes out lying on its side. We apply it by default
//! (`DecodeOptions::apply_orientation`), after channel conversion so that the
//! rotation moves as few bytes as possible. The rotation itself is the
//! `image` crate's; it only moves whole pixels, so it does not care that our
//! channels are in BGR order.

use image::metadata::Orientation;
use image::{DynamicImage, ImageBuffer};

use super::convert::SparkPixels;

/// Pixels with their dimensions after orientation.
#[derive(Debug)]
pub(crate) struct Oriented {
    pub width: u32,
    pub height: u32,
    pub pixels: SparkPixels,
}

/// Rotates/flips `pixels` (`width` x `height`) as `orientation` says.
/// `Err` only if the buffer does not match the dimensions (a bug upstream).
pub(crate) fn apply(
    orientation: Orientation,
    width: u32,
    height: u32,
    pixels: SparkPixels,
) -> Result<Oriented, String> {
    if orientation == Orientation::NoTransforms {
        return Ok(Oriented { width, height, pixels });
    }
    let (channels, len) = (pixels.channels, pixels.data.len());
    let mismatch = || format!("{len} bytes do not make a {width}x{height} image of {channels} channels");
    let mut image = match channels {
        1 => DynamicImage::ImageLuma8(ImageBuffer::from_raw(width, height, pixels.data).ok_or_else(mismatch)?),
        3 => DynamicImage::ImageRgb8(ImageBuffer::from_raw(width, height, pixels.data).ok_or_else(mismatch)?),
        4 => DynamicImage::ImageRgba8(ImageBuffer::from_raw(width, height, pixels.data).ok_or_else(mismatch)?),
        other => return Err(format!("cannot orient an image of {other} channels")),
    };
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    Ok(Oriented { width, height, pixels: SparkPixels { channels, data: image.into_bytes() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 wide, 2 high, 1 channel:
    /// ```text
    /// 1 2 3
    /// 4 5 6
    /// ```
    fn grey_3x2() -> SparkPixels {
        SparkPixels { channels: 1, data: vec![1, 2, 3, 4, 5, 6] }
    }

    fn oriented(o: Orientation) -> (u32, u32, Vec<u8>) {
        let r = apply(o, 3, 2, grey_3x2()).unwrap();
        (r.width, r.height, r.pixels.data)
    }

    #[test]
    fn all_eight_orientations() {
        assert_eq!(oriented(Orientation::NoTransforms), (3, 2, vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(oriented(Orientation::FlipHorizontal), (3, 2, vec![3, 2, 1, 6, 5, 4]));
        assert_eq!(oriented(Orientation::Rotate180), (3, 2, vec![6, 5, 4, 3, 2, 1]));
        assert_eq!(oriented(Orientation::FlipVertical), (3, 2, vec![4, 5, 6, 1, 2, 3]));
        // Rotate 90 degrees clockwise: the left column becomes the top row.
        assert_eq!(oriented(Orientation::Rotate90), (2, 3, vec![4, 1, 5, 2, 6, 3]));
        assert_eq!(oriented(Orientation::Rotate270), (2, 3, vec![3, 6, 2, 5, 1, 4]));
        assert_eq!(oriented(Orientation::Rotate90FlipH), (2, 3, vec![1, 4, 2, 5, 3, 6]));
        assert_eq!(oriented(Orientation::Rotate270FlipH), (2, 3, vec![6, 3, 5, 2, 4, 1]));
    }

    #[test]
    fn keeps_channels_together() {
        let px = SparkPixels { channels: 3, data: vec![1, 2, 3, 4, 5, 6] }; // 2x1 BGR
        let r = apply(Orientation::Rotate90, 2, 1, px).unwrap();
        assert_eq!((r.width, r.height, r.pixels.data), (1, 2, vec![1, 2, 3, 4, 5, 6]));
        let px = SparkPixels { channels: 4, data: vec![1, 2, 3, 4, 5, 6, 7, 8] }; // 2x1 BGRA
        let r = apply(Orientation::FlipHorizontal, 2, 1, px).unwrap();
        assert_eq!(r.pixels.data, vec![5, 6, 7, 8, 1, 2, 3, 4]);
    }

    #[test]
    fn size_mismatch_is_an_error_not_a_panic() {
        let px = SparkPixels { channels: 3, data: vec![1, 2] };
        assert!(apply(Orientation::Rotate90, 2, 2, px).is_err());
    }
}
