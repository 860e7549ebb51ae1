//! `readImages`' native half: (origin, content) rows in, Spark image structs
//! plus an error reason out, one output row per input row, never failing the
//! batch for a bad file.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Int32Builder, LargeBinaryArray, LargeBinaryBuilder, StringArray,
    StringBuilder, StructArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields};
use serde::{Deserialize, Serialize};

use crate::arrow_io::column;
use crate::errors::{Result, SparkdlError};
use crate::image::{decode_to_spark, DecodeOptions};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecodeConfig {
    #[serde(default = "default_max_pixels")]
    pub max_pixels: u64,
    #[serde(default = "default_true")]
    pub apply_orientation: bool,
}

fn default_max_pixels() -> u64 {
    DecodeOptions::default().max_pixels
}
fn default_true() -> bool {
    true
}

impl DecodeConfig {
    pub fn from_json(json: &str) -> Result<Self> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        Ok(serde_json::from_str(json)?)
    }
}

/// The Arrow type of Spark's image struct as we emit it. `data` is large
/// binary: one batch of decoded images can pass 2 GiB.
pub fn image_fields() -> Fields {
    Fields::from(vec![
        Field::new("origin", DataType::Utf8, true),
        Field::new("height", DataType::Int32, false),
        Field::new("width", DataType::Int32, false),
        Field::new("nChannels", DataType::Int32, false),
        Field::new("mode", DataType::Int32, false),
        Field::new("data", DataType::LargeBinary, false),
    ])
}

/// Encoded bytes of a binary or large-binary column, row by row.
enum Content<'a> {
    Small(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
}

impl Content<'_> {
    fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            Content::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Content::Large(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

pub fn decode_batch(input: &StructArray, config: &DecodeConfig) -> Result<StructArray> {
    let origin_col = column(input, "origin")?;
    let origins: StringArray = match origin_col.data_type() {
        DataType::Utf8 => origin_col.as_string::<i32>().clone(),
        DataType::LargeUtf8 => StringArray::from_iter(origin_col.as_string::<i64>().iter()),
        other => return Err(SparkdlError::InvalidArgument(format!("column 'origin' must be a string, got {other}"))),
    };
    let content_col = column(input, "content")?;
    let content = match content_col.data_type() {
        DataType::Binary => Content::Small(content_col.as_binary::<i32>()),
        DataType::LargeBinary => Content::Large(content_col.as_binary::<i64>()),
        other => {
            return Err(SparkdlError::InvalidArgument(format!(
                "column 'content' must be binary (the encoded file bytes), got {other}"
            )))
        }
    };
    let options =
        DecodeOptions { max_pixels: config.max_pixels, apply_orientation: config.apply_orientation, shrink_to: None };

    let n = input.len();
    let mut origin_b = StringBuilder::with_capacity(n, n * 64);
    let (mut height_b, mut width_b) = (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
    let (mut chan_b, mut mode_b) = (Int32Builder::with_capacity(n), Int32Builder::with_capacity(n));
    let mut data_b = LargeBinaryBuilder::with_capacity(n, 0);
    let mut error_b = StringBuilder::with_capacity(n, 0);
    let mut valid = Vec::with_capacity(n);

    for i in 0..n {
        let origin = if origins.is_valid(i) { origins.value(i) } else { "" };
        let decoded = match content.get(i) {
            Some(bytes) => decode_to_spark(bytes, &options).map_err(|e| e.to_string()),
            None => Err("no file content (the content column is null)".to_string()),
        };
        origin_b.append_value(origin);
        match decoded {
            Ok(img) => {
                height_b.append_value(img.height);
                width_b.append_value(img.width);
                chan_b.append_value(img.n_channels);
                mode_b.append_value(img.mode);
                data_b.append_value(&img.data);
                error_b.append_null();
                valid.push(true);
            }
            Err(reason) => {
                log::debug!("image {origin} not decoded: {reason}");
                // Children of a null struct slot still need a value.
                height_b.append_value(-1);
                width_b.append_value(-1);
                chan_b.append_value(-1);
                mode_b.append_value(-1);
                data_b.append_value(b"");
                error_b.append_value(reason);
                valid.push(false);
            }
        }
    }

    let children: Vec<ArrayRef> = vec![
        Arc::new(origin_b.finish()),
        Arc::new(height_b.finish()),
        Arc::new(width_b.finish()),
        Arc::new(chan_b.finish()),
        Arc::new(mode_b.finish()),
        Arc::new(data_b.finish()),
    ];
    let image = StructArray::try_new(image_fields(), children, Some(NullBuffer::from(valid)))?;
    let out_fields = Fields::from(vec![
        Field::new("image", DataType::Struct(image_fields()), true),
        Field::new("error", DataType::Utf8, true),
    ]);
    Ok(StructArray::try_new(out_fields, vec![Arc::new(image), Arc::new(error_b.finish())], None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};
    use std::io::Cursor;

    fn png_rgb(w: u32, h: u32) -> Vec<u8> {
        let img = ImageBuffer::from_fn(w, h, |x, y| Rgb([x as u8, y as u8, 200]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn batch(rows: Vec<(Option<&str>, Option<Vec<u8>>)>) -> StructArray {
        let origins: ArrayRef = Arc::new(StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>()));
        let contents: ArrayRef = Arc::new(BinaryArray::from(rows.iter().map(|r| r.1.as_deref()).collect::<Vec<_>>()));
        StructArray::new(
            Fields::from(vec![
                Field::new("origin", DataType::Utf8, true),
                Field::new("content", DataType::Binary, true),
            ]),
            vec![origins, contents],
            None,
        )
    }

    #[test]
    fn good_and_bad_rows_keep_their_positions() {
        let input = batch(vec![
            (Some("file:/a.png"), Some(png_rgb(3, 2))),
            (Some("file:/empty.jpg"), Some(vec![])),
            (Some("file:/null"), None),
            (Some("file:/text.jpg"), Some(b"hello world, not an image".to_vec())),
        ]);
        let out = decode_batch(&input, &DecodeConfig::from_json("").unwrap()).unwrap();
        assert_eq!(out.len(), 4);
        let image = out.column(0).as_struct();
        let error = out.column(1).as_string::<i32>();
        assert!(image.is_valid(0) && error.is_null(0));
        assert_eq!(image.column(1).as_primitive::<arrow::datatypes::Int32Type>().value(0), 2);
        assert_eq!(image.column(2).as_primitive::<arrow::datatypes::Int32Type>().value(0), 3);
        let data = image.column(5).as_binary::<i64>().value(0);
        // BGR: the first pixel is (r=0, g=0, b=200).
        assert_eq!(&data[..3], &[200, 0, 0]);
        for i in 1..4 {
            assert!(image.is_null(i), "row {i} should have a null image");
            assert!(!error.value(i).is_empty(), "row {i} should say why");
        }
        assert!(error.value(2).contains("null"));
    }

    #[test]
    fn options_are_validated() {
        let err = DecodeConfig::from_json(r#"{"maxPixel": 3}"#).unwrap_err();
        assert!(err.to_string().contains("maxPixel"), "{err}");
        let cfg = DecodeConfig::from_json(r#"{"maxPixels": 4}"#).unwrap();
        let out = decode_batch(&batch(vec![(Some("x"), Some(png_rgb(3, 2)))]), &cfg).unwrap();
        let error = out.column(1).as_string::<i32>();
        assert!(error.value(0).contains("maxPixels"), "{}", error.value(0));
    }

    #[test]
    fn wrong_column_types_are_explained() {
        let bad = StructArray::new(
            Fields::from(vec![Field::new("origin", DataType::Utf8, true), Field::new("content", DataType::Utf8, true)]),
            vec![Arc::new(StringArray::from(vec!["a"])), Arc::new(StringArray::from(vec!["b"]))],
            None,
        );
        let err = decode_batch(&bad, &DecodeConfig::from_json("{}").unwrap()).unwrap_err();
        assert!(err.to_string().contains("'content' must be binary"), "{err}");
    }
}
