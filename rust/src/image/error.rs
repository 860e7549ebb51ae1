//! Why a file could not be turned into a Spark image.
//!
//! Every message is one line that a Spark user can act on without knowing
//! anything about the decoders behind it: it ends up in the `error` column of
//! `readImages` and in executor logs.

/// The longest decoder message we pass on; decoders sometimes dump whole
/// buffers into their errors.
const MAX_REASON_CHARS: usize = 300;

/// A file that [`decode_to_spark`](super::decode_to_spark) could not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The file has no bytes at all.
    #[error("empty file (0 bytes)")]
    Empty,

    /// The first bytes match no image format we know of.
    #[error(
        "not a recognised image format (starts with bytes {first_bytes}{})",
        looks_like_suffix(.looks_like)
    )]
    UnknownFormat {
        /// The first (up to) four bytes, as lowercase hex separated by spaces.
        first_bytes: String,
        /// What the bytes look like instead, e.g. "text" or "a PDF document".
        looks_like: Option<&'static str>,
    },

    /// A recognised image format (or a feature of one) that this build does
    /// not decode.
    #[error("unsupported {format} image: {reason}")]
    Unsupported {
        /// The format's usual name, e.g. "AVIF".
        format: &'static str,
        reason: String,
    },

    /// The header announces more pixels than the configured limit; nothing
    /// was allocated for them.
    #[error(
        "image is {width}x{height} = {pixels} pixels, above the limit of {limit} \
         (raise spark.sparkdl.image.maxPixels to allow it)"
    )]
    TooLarge { width: u32, height: u32, pixels: u64, limit: u64 },

    /// The file starts like a supported format but its content is damaged,
    /// cut short, or crashed the decoder.
    #[error("corrupt or truncated {format}: {reason}")]
    Corrupt {
        /// The format's usual name, e.g. "JPEG".
        format: &'static str,
        reason: String,
    },
}

impl ImageError {
    /// A short stable name of the variant, for counters and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            ImageError::Empty => "empty",
            ImageError::UnknownFormat { .. } => "unknown_format",
            ImageError::Unsupported { .. } => "unsupported",
            ImageError::TooLarge { .. } => "too_large",
            ImageError::Corrupt { .. } => "corrupt",
        }
    }

    pub(crate) fn corrupt(format: &'static str, reason: impl AsRef<str>) -> Self {
        ImageError::Corrupt { format, reason: one_line(reason.as_ref()) }
    }

    pub(crate) fn unsupported(format: &'static str, reason: impl AsRef<str>) -> Self {
        ImageError::Unsupported { format, reason: one_line(reason.as_ref()) }
    }
}

fn looks_like_suffix(looks_like: &Option<&'static str>) -> String {
    match looks_like {
        Some(what) => format!(": looks like {what}"),
        None => String::new(),
    }
}

/// Collapses whitespace runs (newlines included) into single spaces and caps
/// the length, so that a decoder's message fits on one line.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REASON_CHARS + 3));
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > MAX_REASON_CHARS {
            let cut: String = out.chars().take(MAX_REASON_CHARS).collect();
            return cut + "...";
        }
    }
    if out.is_empty() {
        out.push_str("no details given by the decoder");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_the_documented_ones() {
        assert_eq!(ImageError::Empty.to_string(), "empty file (0 bytes)");
        let unknown = ImageError::UnknownFormat { first_bytes: "68 65 6c 6c".into(), looks_like: Some("text") };
        assert_eq!(
            unknown.to_string(),
            "not a recognised image format (starts with bytes 68 65 6c 6c: looks like text)"
        );
        let unknown = ImageError::UnknownFormat { first_bytes: "00 01".into(), looks_like: None };
        assert_eq!(unknown.to_string(), "not a recognised image format (starts with bytes 00 01)");
        let big = ImageError::TooLarge { width: 30000, height: 30000, pixels: 900_000_000, limit: 178_956_970 };
        assert_eq!(
            big.to_string(),
            "image is 30000x30000 = 900000000 pixels, above the limit of 178956970 \
             (raise spark.sparkdl.image.maxPixels to allow it)"
        );
        assert_eq!(
            ImageError::corrupt("JPEG", "bad\nhuffman   code").to_string(),
            "corrupt or truncated JPEG: bad huffman code"
        );
        assert_eq!(ImageError::unsupported("AVIF", "not enabled").to_string(), "unsupported AVIF image: not enabled");
    }

    #[test]
    fn one_line_caps_long_messages() {
        let long = "x ".repeat(1000);
        let short = one_line(&long);
        assert!(short.chars().count() <= MAX_REASON_CHARS + 3);
        assert!(short.ends_with("..."));
        assert!(!short.contains('\n'));
        assert_eq!(one_line("  \n "), "no details given by the decoder");
    }
}
