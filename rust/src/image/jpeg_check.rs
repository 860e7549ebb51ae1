//! Detecting truncated JPEGs before decoding them.
//!
//! The JPEG decoder behind `image` (zune-jpeg, in its lenient mode) does what
//! libjpeg does: when the data runs out it pads the rest of the picture with
//! grey and reports success. For a training set that is silent corruption, so
//! we walk the file's marker structure first and refuse a file whose data
//! ends before its end-of-image marker (`FF D9`).
//!
//! The walk is a single pass over the bytes with no allocation: segment
//! headers are skipped by their length field, and entropy-coded data is
//! scanned for the next `FF xx` that is not a stuffed zero or a restart
//! marker. Bytes after the end-of-image marker (trailers some cameras and
//! editors append) are ignored.
//!
//! A consequence worth knowing: a file whose pixel data is complete but that
//! lacks only the final `FF D9` is also refused. libjpeg (and so Spark's
//! reader) accepts such a file with a warning; we cannot tell it apart from a
//! file cut at a scan boundary without decoding.

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const TEM: u8 = 0x01;

/// `Ok` when the structure of `bytes` (which starts with `FF D8`) reaches the
/// end-of-image marker; otherwise the reason, as a user-facing phrase.
pub(crate) fn check_complete(bytes: &[u8]) -> Result<(), String> {
    let len = bytes.len();
    let truncated = || {
        Err(format!("the file ends before the end-of-image marker, after {len} bytes; the image data is incomplete"))
    };
    if len < 2 || bytes[0] != 0xFF || bytes[1] != SOI {
        return Err("missing the start-of-image marker".to_string());
    }
    let mut pos = 2;
    loop {
        // Find the next marker: 0xFF, any number of 0xFF fill bytes, a code.
        // Junk between segments is skipped, as libjpeg does.
        match bytes[pos..].iter().position(|&b| b == 0xFF) {
            Some(offset) => pos += offset,
            None => return truncated(),
        }
        while pos < len && bytes[pos] == 0xFF {
            pos += 1;
        }
        if pos >= len {
            return truncated();
        }
        let marker = bytes[pos];
        pos += 1;
        match marker {
            EOI => return Ok(()),
            // Markers without a length field (0x00 only appears here in
            // junk, and is skipped like it).
            0x00 | TEM | SOI | 0xD0..=0xD7 => continue,
            _ => {}
        }
        if pos + 2 > len {
            return truncated();
        }
        let seg_len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        if seg_len < 2 {
            return Err(format!("invalid length {seg_len} of the segment with marker FF {marker:02X}"));
        }
        pos += seg_len;
        if pos > len {
            return truncated();
        }
        if marker == SOS {
            match end_of_entropy_data(bytes, pos) {
                Some(next_marker) => pos = next_marker,
                None => return truncated(),
            }
        }
    }
}

/// The payload of the first APP1 "Exif" segment before the first scan (the
/// TIFF structure after `Exif\0\0`, as `Orientation::from_exif_chunk` takes
/// it), if there is one. Malformed headers simply have none.
pub(crate) fn exif(bytes: &[u8]) -> Option<&[u8]> {
    const APP1: u8 = 0xE1;
    const PREFIX: &[u8] = b"Exif\0\0";
    if bytes.len() < 2 || bytes[0] != 0xFF || bytes[1] != SOI {
        return None;
    }
    let mut pos = 2;
    loop {
        pos += bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        while bytes.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let marker = *bytes.get(pos)?;
        pos += 1;
        match marker {
            SOS | EOI => return None,
            0x00 | TEM | SOI | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let seg_len = usize::from(u16::from_be_bytes([*bytes.get(pos)?, *bytes.get(pos + 1)?]));
        if seg_len < 2 {
            return None;
        }
        let payload = bytes.get(pos + 2..pos + seg_len)?;
        if marker == APP1 && payload.starts_with(PREFIX) {
            return Some(&payload[PREFIX.len()..]);
        }
        pos += seg_len;
    }
}

/// Given the start of a scan's entropy-coded data, the position of the `FF`
/// that begins the next real marker, or `None` if the data runs out first.
fn end_of_entropy_data(bytes: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let ff = pos + bytes.get(pos..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(ff + 1)? {
            // Stuffed zero, or a restart marker inside the scan.
            0x00 | 0xD0..=0xD7 => pos = ff + 2,
            // Fill byte: the marker starts at the next 0xFF.
            0xFF => pos = ff + 1,
            _ => return Some(ff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A structurally valid (not decodable) JPEG: SOI, APP0, DQT-ish segment,
    /// SOS with entropy data holding stuffed zeros, a restart marker and fill
    /// bytes, then EOI.
    fn skeleton() -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x06, b'J', b'F', b'I', b'F']);
        b.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x04, 0x00, 0x01]);
        b.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x03, 0x01]);
        b.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0x00, 0x78]);
        b.extend_from_slice(&[0xFF, 0xFF, 0xD9]);
        b
    }

    #[test]
    fn accepts_complete_structure() {
        assert_eq!(check_complete(&skeleton()), Ok(()));
    }

    #[test]
    fn accepts_trailing_bytes_after_eoi() {
        let mut b = skeleton();
        b.extend_from_slice(b"some camera trailer");
        assert_eq!(check_complete(&b), Ok(()));
    }

    #[test]
    fn refuses_every_truncation() {
        let full = skeleton();
        for cut in 0..full.len() {
            assert!(check_complete(&full[..cut]).is_err(), "cut at {cut} accepted");
        }
    }

    #[test]
    fn refuses_a_zero_segment_length() {
        let b = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x00, 0xFF, 0xD9];
        let err = check_complete(&b).unwrap_err();
        assert!(err.contains("invalid length 0"), "{err}");
    }

    #[test]
    fn finds_the_exif_payload_before_the_scan() {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00];
        b.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x0C]);
        b.extend_from_slice(b"Exif\0\0MM\0*");
        b.extend_from_slice(&skeleton()[2..]);
        assert_eq!(exif(&b), Some(&b"MM\0*"[..]));
        assert_eq!(exif(&skeleton()), None);
        // A cut header has none, and no walk past the end.
        for cut in 0..b.len() {
            let _ = exif(&b[..cut]);
        }
        assert_eq!(exif(&b[..14]), None);
    }

    #[test]
    fn message_names_the_size() {
        let full = skeleton();
        let err = check_complete(&full[..10]).unwrap_err();
        assert_eq!(err, "the file ends before the end-of-image marker, after 10 bytes; the image data is incomplete");
    }
}
