//! One model input fed from one Arrow column: each row becomes one example
//! (the tensor without its batch dimension), or a reason it cannot.
//!
//! - Numbers: `List`, `LargeList` or `FixedSizeList` of any integer or float
//!   type (or booleans, for a bool tensor), or Spark ML vectors (dense or
//!   sparse), cast to the tensor's dtype (a value that does not fit is an
//!   error for its row). A flat row's values are reshaped to the tensor's
//!   shape without the batch dimension; one unknown dimension is worked out
//!   from the row length; a tensor of unknown rank takes the row as a 1-D
//!   feature. Nested lists (`list<list<float>>`, ...) give each row its own
//!   shape, so inputs with several unknown dimensions take rows of any shape
//!   they allow (rows of different shapes run in separate chunks); a ragged
//!   row is an error for that row.
//! - Images (the input has an `image` spec): Spark image structs, or encoded
//!   file bytes, preprocessed by [`crate::ops::preprocess`].

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Float64Array, Int32Array, LargeBinaryArray, StructArray};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type, Int32Type, Int64Type, Int8Type, UInt8Type};

use crate::arrow_io::column;
use crate::engine::dtype::DType;
use crate::engine::info::shape_text;
use crate::engine::tensor::TensorData;
use crate::engine::Model;
use crate::errors::{Result, SparkdlError};
use crate::image::DecodeOptions;
use crate::ops::preprocess::{ImageSpec, PixelsRef, Preprocessor};

/// One row's value for one input.
pub(super) struct Example {
    pub shape: Vec<u64>,
    pub data: TensorData,
}

pub(super) struct Feed<'a> {
    pub tensor: String,
    pub column: String,
    pub dtype: DType,
    /// The tensor's static shape, batch dimension included.
    pub shape: Option<Vec<i64>>,
    source: Source<'a>,
}

enum Source<'a> {
    /// Per row: the range of `values` it holds, or None when null; for nested
    /// lists also each row's shape (or why it has none).
    Numbers {
        ranges: Ranges,
        values: ArrayRef,
        shapes: Option<Vec<std::result::Result<Vec<u64>, String>>>,
    },
    Image {
        spec: ImageSpec,
        images: Images<'a>,
    },
}

enum Bytes<'a> {
    Small(&'a BinaryArray),
    Large(&'a LargeBinaryArray),
}

impl Bytes<'_> {
    fn of(a: &ArrayRef) -> Option<Bytes<'_>> {
        match a.data_type() {
            DataType::Binary => Some(Bytes::Small(a.as_binary::<i32>())),
            DataType::LargeBinary => Some(Bytes::Large(a.as_binary::<i64>())),
            _ => None,
        }
    }
    fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            Bytes::Small(a) => a.is_valid(i).then(|| a.value(i)),
            Bytes::Large(a) => a.is_valid(i).then(|| a.value(i)),
        }
    }
}

/// One row's image before preprocessing.
enum Pixels<'a> {
    Decoded(PixelsRef<'a>),
    Encoded(&'a [u8]),
}

enum Images<'a> {
    Struct { images: &'a StructArray, ints: [&'a Int32Array; 4], data: Bytes<'a> },
    Encoded(Bytes<'a>),
}

impl<'a> Feed<'a> {
    /// Checks the column against the tensor once per batch.
    pub fn new(
        model: &dyn Model,
        batch: &'a StructArray,
        column_name: &str,
        tensor: &str,
        image: Option<&ImageSpec>,
    ) -> Result<Feed<'a>> {
        let col = column(batch, column_name)?;
        let info = model.input(tensor)?;
        let dtype = info.dtype;
        let bad = |msg: String| {
            SparkdlError::InvalidArgument(format!("input column '{column_name}' for tensor '{tensor}': {msg}"))
        };
        if info.shape.as_ref().is_some_and(|s| s.is_empty()) {
            return Err(bad("the tensor is a scalar, so it cannot take a batch of rows".into()));
        }
        let source = match image {
            Some(spec) => {
                spec.validate().map_err(|e| bad(format!("image options: {e}")))?;
                Source::Image { spec: spec.clone(), images: images(col, spec).map_err(bad)? }
            }
            None => {
                let nested = nesting(col.data_type()) > 1;
                if let Some(dims) = &info.shape {
                    if !nested && dims.len() > 2 && dims[1..].iter().filter(|d| **d < 0).count() > 1 {
                        return Err(bad(format!(
                            "the tensor has shape {}, with more than one unknown dimension per example, so a flat \
                             row of numbers cannot be reshaped to it; give the column nested arrays (e.g. \
                             array<array<float>>) whose shape each row fixes, or use a model input of fixed shape",
                            shape_text(Some(dims))
                        )));
                    }
                }
                if nested {
                    let (ranges, values, shapes) = nested_numbers(col, dtype).map_err(bad)?;
                    Source::Numbers { ranges, values, shapes: Some(shapes) }
                } else {
                    let (ranges, values) = numbers(col, dtype).map_err(bad)?;
                    Source::Numbers { ranges, values, shapes: None }
                }
            }
        };
        Ok(Feed { tensor: info.name, column: column_name.to_string(), dtype, shape: info.shape, source })
    }

    /// The batch dimension when the tensor fixes it.
    pub fn fixed_batch(&self) -> Option<usize> {
        self.shape.as_ref().and_then(|s| s.first()).and_then(|d| usize::try_from(*d).ok()).filter(|d| *d > 0)
    }

    /// Row `row` as one example, or why it cannot be.
    pub fn example(&self, row: usize, pre: &mut Preprocessor) -> std::result::Result<Example, String> {
        match &self.source {
            Source::Numbers { ranges, values, shapes } => {
                let (start, end) =
                    ranges.get(row).copied().flatten().ok_or_else(|| format!("column '{}' is null", self.column))?;
                if start > end || end > values.len() {
                    return Err(format!("column '{}': malformed list offsets {start}..{end}", self.column));
                }
                let shape = match shapes {
                    Some(shapes) => {
                        self.nested_shape(shapes.get(row).cloned().unwrap_or_else(|| Err("no row".into()))?)?
                    }
                    None => self.example_shape(end - start)?,
                };
                if values.null_count() > 0 && (start..end).any(|j| values.is_null(j)) {
                    return Err(format!(
                        "column '{}' has a null element or a value that does not fit {} (tensor '{}')",
                        self.column, self.dtype, self.tensor
                    ));
                }
                let data = slice(values, self.dtype, start..end)
                    .ok_or_else(|| format!("column '{}': cannot read values {start}..{end}", self.column))?;
                Ok(Example { shape, data })
            }
            Source::Image { spec, images } => {
                let mut out = Vec::new();
                let (h, w) = match self.pixels(images, row)? {
                    Pixels::Decoded(src) => pre.append(&src, spec, &mut out),
                    Pixels::Encoded(b) => pre.append_encoded(b, &DecodeOptions::default(), spec, &mut out),
                }
                .map_err(|e| format!("column '{}': {e}", self.column))?;
                let c = spec.channels() as u64;
                let (h, w) = (h as u64, w as u64);
                let shape = if spec.layout == "NCHW" { vec![c, h, w] } else { vec![h, w, c] };
                if let Some(dims) = &self.shape {
                    let fits = dims.len() == shape.len() + 1
                        && dims[1..].iter().zip(&shape).all(|(d, s)| *d < 0 || *d as u64 == *s);
                    if !fits {
                        return Err(format!(
                            "column '{}': the image became {} ({}) but tensor '{}' takes {}; set height and width \
                             (and layout) to match",
                            self.column,
                            shape_text(Some(&shape.iter().map(|d| *d as i64).collect::<Vec<_>>())),
                            spec.layout,
                            self.tensor,
                            shape_text(Some(dims))
                        ));
                    }
                }
                Ok(Example { shape, data: from_f32(out, self.dtype) })
            }
        }
    }

    /// For an image feed with a target size into a float32 tensor whose
    /// static shape takes it: the example shape. Such feeds are preprocessed
    /// straight into the batch tensor ([`write_image`](Self::write_image)).
    pub fn direct_shape(&self) -> Option<Vec<u64>> {
        let Source::Image { spec, .. } = &self.source else { return None };
        if self.dtype != DType::Float32 {
            return None;
        }
        let (h, w, c) = (u64::from(spec.height?), u64::from(spec.width?), spec.channels() as u64);
        let shape = if spec.layout == "NCHW" { vec![c, h, w] } else { vec![h, w, c] };
        let fits = self.shape.as_ref().is_none_or(|dims| {
            dims.len() == shape.len() + 1 && dims[1..].iter().zip(&shape).all(|(d, s)| *d < 0 || *d as u64 == *s)
        });
        fits.then_some(shape)
    }

    /// Row `row` of an image feed with a [`direct_shape`](Self::direct_shape),
    /// preprocessed into `dst` (its slot of the batch tensor), or why it cannot be.
    pub fn write_image(&self, row: usize, pre: &mut Preprocessor, dst: &mut [f32]) -> std::result::Result<(), String> {
        let Source::Image { spec, images } = &self.source else {
            return Err(format!("internal: column '{}' is not an image input", self.column));
        };
        match self.pixels(images, row)? {
            Pixels::Decoded(src) => pre.write(&src, spec, dst),
            Pixels::Encoded(b) => pre.write_encoded(b, &DecodeOptions::default(), spec, dst),
        }
        .map_err(|e| format!("column '{}': {e}", self.column))
    }

    /// Row `row`'s image, checked for nulls and struct consistency.
    fn pixels<'b>(&self, images: &'b Images<'b>, row: usize) -> std::result::Result<Pixels<'b>, String> {
        match images {
            Images::Struct { images, ints, data } => {
                if images.is_null(row) || ints.iter().any(|a| a.is_null(row)) {
                    return Err(format!("column '{}' has a null image", self.column));
                }
                let bytes =
                    data.get(row).ok_or_else(|| format!("column '{}': the image has null data", self.column))?;
                let [height, width, channels, mode] = ints.map(|a| a.value(row));
                PixelsRef::from_struct(height, width, channels, mode, bytes)
                    .map(Pixels::Decoded)
                    .map_err(|e| format!("column '{}': {e}", self.column))
            }
            Images::Encoded(bytes) => bytes
                .get(row)
                .map(Pixels::Encoded)
                .ok_or_else(|| format!("column '{}' is null (no file content)", self.column)),
        }
    }

    /// A nested row's own shape, checked against the tensor's.
    fn nested_shape(&self, shape: Vec<u64>) -> std::result::Result<Vec<u64>, String> {
        let Some(dims) = &self.shape else { return Ok(shape) };
        let rest = &dims[1..];
        let fits = rest.len() == shape.len() && rest.iter().zip(&shape).all(|(d, s)| *d < 0 || *d as u64 == *s);
        if fits {
            Ok(shape)
        } else {
            Err(format!(
                "column '{}': the row has shape {} but tensor '{}' takes {} per row",
                self.column,
                shape_text(Some(&shape.iter().map(|d| *d as i64).collect::<Vec<_>>())),
                self.tensor,
                shape_text(Some(rest))
            ))
        }
    }

    /// The example shape for a row of `len` numbers.
    fn example_shape(&self, len: usize) -> std::result::Result<Vec<u64>, String> {
        let Some(dims) = &self.shape else { return Ok(vec![len as u64]) };
        let rest = &dims[1..];
        let known: u64 = rest.iter().filter(|d| **d >= 0).map(|d| *d as u64).product();
        let unknown = rest.iter().filter(|d| **d < 0).count();
        let len64 = len as u64;
        let ok = match unknown {
            0 => len64 == known,
            _ => known > 0 && len64.is_multiple_of(known) && len64 > 0,
        };
        if !ok {
            let want =
                if unknown == 0 { format!("{known} values") } else { format!("a positive multiple of {known} values") };
            return Err(format!(
                "column '{}': expected {want} per row (tensor '{}' has shape {}), got {len}",
                self.column,
                self.tensor,
                shape_text(Some(dims))
            ));
        }
        Ok(rest.iter().map(|d| if *d < 0 { len64 / known.max(1) } else { *d as u64 }).collect())
    }
}

/// Per row: the range of the list's values it holds, or None when null.
type Ranges = Vec<Option<(usize, usize)>>;

/// How many list levels a column's type has (`list<list<float>>`: 2).
fn nesting(t: &DataType) -> usize {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => 1 + nesting(f.data_type()),
        _ => 0,
    }
}

/// Element `i` of a list array: its range in the child array.
fn list_range(a: &dyn Array, i: usize) -> Option<(usize, usize)> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::List(_) => {
            a.as_list_opt::<i32>().map(|l| (l.value_offsets()[i] as usize, l.value_offsets()[i + 1] as usize))
        }
        DataType::LargeList(_) => {
            a.as_list_opt::<i64>().map(|l| (l.value_offsets()[i] as usize, l.value_offsets()[i + 1] as usize))
        }
        DataType::FixedSizeList(_, n) => a.as_fixed_size_list_opt().map(|l| {
            let start = l.value_offset_at(i);
            (start, start + *n as usize)
        }),
        _ => None,
    }
}

fn list_child(a: &dyn Array) -> Option<ArrayRef> {
    match a.data_type() {
        DataType::List(_) => a.as_list_opt::<i32>().map(|l| l.values().clone()),
        DataType::LargeList(_) => a.as_list_opt::<i64>().map(|l| l.values().clone()),
        DataType::FixedSizeList(_, _) => a.as_fixed_size_list_opt().map(|l| l.values().clone()),
        _ => None,
    }
}

/// Element `i` of nested list array `a` (of `levels` list levels): its shape
/// and the range of leaf values it holds, or why it has none.
fn shape_of(a: &dyn Array, i: usize, levels: usize) -> std::result::Result<(Vec<u64>, (usize, usize)), String> {
    let (start, end) = list_range(a, i).ok_or("it holds a null array")?;
    if levels == 1 {
        return Ok((vec![(end - start) as u64], (start, end)));
    }
    let child = list_child(a).ok_or("internal: not a list")?;
    if start == end {
        return Err("it holds an empty array, whose inner shape is unknown".into());
    }
    let mut inner: Option<Vec<u64>> = None;
    let (mut first, mut last) = (usize::MAX, 0);
    for j in start..end {
        let (s, (a0, a1)) = shape_of(child.as_ref(), j, levels - 1)?;
        match &inner {
            Some(x) if *x != s => {
                return Err(format!(
                    "it is not rectangular: it holds arrays of shapes {} and {}",
                    shape_text(Some(&x.iter().map(|d| *d as i64).collect::<Vec<_>>())),
                    shape_text(Some(&s.iter().map(|d| *d as i64).collect::<Vec<_>>()))
                ))
            }
            _ => inner = Some(s),
        }
        first = first.min(a0);
        last = last.max(a1);
    }
    let mut shape = vec![(end - start) as u64];
    shape.extend(inner.unwrap_or_default());
    Ok((shape, (first, last)))
}

/// A column of nested lists of numbers: per row the range of leaf values and
/// the row's shape (or why it has none), and the leaf values cast to `dtype`.
#[allow(clippy::type_complexity)]
fn nested_numbers(
    col: &ArrayRef,
    dtype: DType,
) -> std::result::Result<(Ranges, ArrayRef, Vec<std::result::Result<Vec<u64>, String>>), String> {
    let levels = nesting(col.data_type());
    let mut leaf = col.clone();
    for _ in 0..levels {
        leaf = list_child(leaf.as_ref()).ok_or("internal: not a list")?;
    }
    let (mut ranges, mut shapes) = (Vec::with_capacity(col.len()), Vec::with_capacity(col.len()));
    for i in 0..col.len() {
        if col.is_null(i) {
            ranges.push(None);
            shapes.push(Err("null".into()));
            continue;
        }
        match shape_of(col.as_ref(), i, levels) {
            Ok((shape, range)) => {
                ranges.push(Some(range));
                shapes.push(Ok(shape));
            }
            Err(e) => {
                // A row without a shape is an error for that row only.
                ranges.push(Some((0, 0)));
                shapes.push(Err(e));
            }
        }
    }
    let values = cast_values(&leaf, dtype)?;
    Ok((ranges, values, shapes))
}

/// Row ranges and the values cast to `dtype`, for a list column of numbers
/// or a column of Spark ML vectors.
fn numbers(col: &ArrayRef, dtype: DType) -> std::result::Result<(Ranges, ArrayRef), String> {
    let (ranges, values): (Ranges, ArrayRef) = match col.data_type() {
        DataType::List(_) => {
            let l = col.as_list::<i32>();
            let o = l.value_offsets();
            (
                (0..l.len()).map(|i| l.is_valid(i).then(|| (o[i] as usize, o[i + 1] as usize))).collect(),
                l.values().clone(),
            )
        }
        DataType::LargeList(_) => {
            let l = col.as_list::<i64>();
            let o = l.value_offsets();
            (
                (0..l.len()).map(|i| l.is_valid(i).then(|| (o[i] as usize, o[i + 1] as usize))).collect(),
                l.values().clone(),
            )
        }
        DataType::FixedSizeList(_, _) => {
            let l = col.as_fixed_size_list();
            let n = l.value_length() as usize;
            let ranges =
                (0..l.len()).map(|i| l.is_valid(i).then(|| (l.value_offset_at(i), l.value_offset_at(i) + n))).collect();
            (ranges, l.values().clone())
        }
        DataType::Struct(_) => vectors(col.as_struct())?,
        other => {
            return Err(format!(
                "the column must be an array of numbers (list<float>, list<double>, ...) or an ML vector, got {other}"
            ))
        }
    };
    Ok((ranges, cast_values(&values, dtype)?))
}

/// Leaf values cast to `dtype` (numbers, or booleans for a bool tensor).
fn cast_values(values: &ArrayRef, dtype: DType) -> std::result::Result<ArrayRef, String> {
    let elem = values.data_type();
    let boolean = *elem == DataType::Boolean;
    if !(elem.is_integer() || elem.is_floating() || boolean) {
        return Err(format!("the column's elements must be numbers or booleans, got {elem}"));
    }
    if boolean && dtype != DType::Bool {
        return Err(format!("the column holds booleans but the tensor is {dtype}; cast the column to numbers"));
    }
    let target = match dtype {
        DType::Float32 => DataType::Float32,
        DType::Float16 => DataType::Float16,
        DType::Float64 => DataType::Float64,
        DType::Int32 => DataType::Int32,
        DType::Int64 => DataType::Int64,
        DType::Uint8 => DataType::UInt8,
        // Numbers as booleans: zero is false, anything else true.
        DType::Bool => DataType::Boolean,
    };
    cast_with_options(values, &target, &CastOptions { safe: true, ..Default::default() })
        .map_err(|e| format!("cannot cast {elem} to {dtype}: {e}"))
}

/// Spark ML vectors (`VectorUDT`'s struct: `type` 0 sparse or 1 dense,
/// `size`, `indices`, `values`) as dense rows: dense vectors' values are
/// used as they are, sparse ones are expanded with zeros.
fn vectors(s: &StructArray) -> std::result::Result<(Ranges, ArrayRef), String> {
    let field = |name: &str| {
        s.column_by_name(name)
            .ok_or_else(|| format!("a vector struct has fields type, size, indices, values; '{name}' is missing"))
    };
    let kind = field("type")?.as_primitive_opt::<Int8Type>().ok_or("a vector's 'type' must be a byte")?;
    let size = field("size")?.as_primitive_opt::<Int32Type>().ok_or("a vector's 'size' must be an int")?;
    let indices = field("indices")?.as_list_opt::<i32>().ok_or("a vector's 'indices' must be an array<int>")?;
    let values = field("values")?.as_list_opt::<i32>().ok_or("a vector's 'values' must be an array<double>")?;
    let index_values =
        indices.values().as_primitive_opt::<Int32Type>().ok_or("a vector's 'indices' must be an array<int>")?;
    let value_values =
        values.values().as_primitive_opt::<Float64Type>().ok_or("a vector's 'values' must be an array<double>")?;
    let all_dense = (0..s.len()).all(|i| s.is_null(i) || kind.value(i) == 1);
    let vo = values.value_offsets();
    if all_dense {
        let ranges = (0..s.len())
            .map(|i| (s.is_valid(i) && values.is_valid(i)).then(|| (vo[i] as usize, vo[i + 1] as usize)))
            .collect();
        return Ok((ranges, values.values().clone()));
    }
    let io = indices.value_offsets();
    let mut dense: Vec<f64> = Vec::new();
    let mut ranges: Ranges = Vec::with_capacity(s.len());
    for i in 0..s.len() {
        if s.is_null(i) || values.is_null(i) {
            ranges.push(None);
            continue;
        }
        let start = dense.len();
        let (v0, v1) = (vo[i] as usize, vo[i + 1] as usize);
        if kind.value(i) == 1 {
            dense.extend_from_slice(&value_values.values()[v0..v1]);
        } else {
            let n =
                usize::try_from(size.value(i)).map_err(|_| format!("a sparse vector has size {}", size.value(i)))?;
            dense.resize(start + n, 0.0);
            let (i0, i1) = (io[i] as usize, io[i + 1] as usize);
            for (j, v) in index_values.values()[i0..i1].iter().zip(&value_values.values()[v0..v1]) {
                let j = usize::try_from(*j)
                    .ok()
                    .filter(|j| *j < n)
                    .ok_or_else(|| format!("a sparse vector of size {n} has index {j}"))?;
                dense[start + j] = *v;
            }
        }
        ranges.push(Some((start, dense.len())));
    }
    Ok((ranges, Arc::new(Float64Array::from(dense))))
}

fn slice(values: &ArrayRef, dtype: DType, r: std::ops::Range<usize>) -> Option<TensorData> {
    Some(match dtype {
        DType::Float32 => TensorData::Float32(values.as_primitive_opt::<Float32Type>()?.values().get(r)?.to_vec()),
        DType::Float64 => TensorData::Float64(values.as_primitive_opt::<Float64Type>()?.values().get(r)?.to_vec()),
        DType::Int32 => TensorData::Int32(values.as_primitive_opt::<Int32Type>()?.values().get(r)?.to_vec()),
        DType::Int64 => TensorData::Int64(values.as_primitive_opt::<Int64Type>()?.values().get(r)?.to_vec()),
        DType::Uint8 => TensorData::Uint8(values.as_primitive_opt::<UInt8Type>()?.values().get(r)?.to_vec()),
        DType::Float16 => TensorData::Float16(values.as_primitive_opt::<Float16Type>()?.values().get(r)?.to_vec()),
        DType::Bool => {
            let b = values.as_boolean_opt()?;
            if r.end > b.len() {
                return None;
            }
            TensorData::Bool(r.map(|i| b.value(i)).collect())
        }
    })
}

/// Preprocessed pixels in the tensor's type (integers rounded, saturating).
fn from_f32(v: Vec<f32>, dtype: DType) -> TensorData {
    match dtype {
        DType::Float32 => TensorData::Float32(v),
        DType::Float64 => TensorData::Float64(v.into_iter().map(f64::from).collect()),
        DType::Int32 => TensorData::Int32(v.into_iter().map(|x| x.round() as i32).collect()),
        DType::Int64 => TensorData::Int64(v.into_iter().map(|x| x.round() as i64).collect()),
        DType::Uint8 => TensorData::Uint8(v.into_iter().map(|x| x.round() as u8).collect()),
        DType::Float16 => TensorData::Float16(v.into_iter().map(half::f16::from_f32).collect()),
        DType::Bool => TensorData::Bool(v.into_iter().map(|x| x != 0.0).collect()),
    }
}

fn images<'a>(col: &'a ArrayRef, spec: &ImageSpec) -> std::result::Result<Images<'a>, String> {
    match spec.kind.as_str() {
        "struct" => {
            let DataType::Struct(_) = col.data_type() else {
                return Err(format!("image kind 'struct' needs a Spark image struct column, got {}", col.data_type()));
            };
            let s = col.as_struct();
            let int = |name: &str| -> std::result::Result<&'a Int32Array, String> {
                let c = s.column_by_name(name).ok_or_else(|| format!("the image struct has no field '{name}'"))?;
                c.as_primitive_opt::<Int32Type>()
                    .ok_or_else(|| format!("image field '{name}' must be int, got {}", c.data_type()))
            };
            let ints = [int("height")?, int("width")?, int("nChannels")?, int("mode")?];
            let data = s.column_by_name("data").ok_or("the image struct has no field 'data'")?;
            let data = Bytes::of(data)
                .ok_or_else(|| format!("image field 'data' must be binary, got {}", data.data_type()))?;
            Ok(Images::Struct { images: s, ints, data })
        }
        _ => Bytes::of(col).map(Images::Encoded).ok_or_else(|| {
            format!("image kind 'encoded' needs a binary column of file bytes, got {}", col.data_type())
        }),
    }
}
