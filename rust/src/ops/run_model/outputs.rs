//! The results of one batch: TensorFlow's output tensors per chunk, which
//! chunk row each input row's outputs are in, and each failed row's reason;
//! then the Arrow columns Spark reads, in the layout each output asks for
//! ([`OutputFormat`]), written straight from the output tensors (one copy).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, ArrowPrimitiveType, BooleanBuilder, Float64Builder, Int32Builder, Int8Array, LargeBinaryBuilder,
    ListBuilder, PrimitiveBuilder, StringBuilder, StructArray, StructBuilder,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type};
use serde::{Deserialize, Serialize};

use super::{RunSpec, ERROR_COLUMN};
use crate::engine::dtype::DType;
use crate::engine::tensor::{TensorData, TensorValue};
use crate::errors::{Result, SparkdlError};

/// How one output column is laid out for Spark.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum OutputFormat {
    /// `list<T>` of the tensor's own element type (`uint8` as `int16`, since
    /// Spark has no unsigned byte): Spark's `array<float>` for float32.
    #[default]
    List,
    /// Spark ML's dense vector: `VectorUDT`'s struct (`type` 1, `size` and
    /// `indices` null, `values` as doubles).
    Vector,
    /// The `data` of a float32 image struct: the row's values as
    /// little-endian float32 bytes; `swapRgb` reverses the first three of
    /// `channels` (an RGB model output back to Spark's BGR order).
    #[serde(rename_all = "camelCase")]
    ImageData { channels: usize, swap_rgb: bool },
    /// The `k` largest values, largest first:
    /// `list<struct<index: int, probability: double>>`, or with `labels`
    /// (`[id, name]` per class index) `list<struct<class: string,
    /// description: string, probability: double>>`.
    TopK {
        k: usize,
        #[serde(default)]
        labels: Option<Vec<(String, String)>>,
    },
}

/// The outputs of one `Session::run`: per fetch, a tensor whose first
/// dimension is the chunk's rows (padding included).
struct Chunk {
    values: Vec<TensorValue>,
    rows: usize,
}

/// Row `row` of chunk `chunk`.
#[derive(Debug, Clone, Copy)]
struct Slot {
    chunk: usize,
    row: usize,
}

/// What a batch produced, row by row.
pub(super) struct Collected {
    /// Per output: the fetched tensor's element type.
    dtypes: Vec<DType>,
    chunks: Vec<Chunk>,
    slots: Vec<Option<Slot>>,
    errors: Vec<Option<String>>,
    failed_in_tf: usize,
}

impl Collected {
    pub fn new(n: usize, dtypes: Vec<DType>) -> Collected {
        Collected { dtypes, chunks: Vec::new(), slots: vec![None; n], errors: vec![None; n], failed_in_tf: 0 }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Row `row` could not be fed (null, undecodable, wrong shape).
    pub fn input_failed(&mut self, row: usize, reason: String) {
        self.errors[row] = Some(reason);
    }

    /// TensorFlow rejected row `row` when it ran alone.
    pub fn run_failed(&mut self, row: usize, reason: String) {
        self.errors[row] = Some(reason);
        self.failed_in_tf += 1;
    }

    /// `outputs` of a run over `m` rows, the first of which are `rows`. An
    /// output whose first dimension is not `m` fails the batch.
    pub fn ran(&mut self, rows: &[usize], outputs: Vec<TensorValue>, m: usize, fetches: &[&str]) -> Result<()> {
        for (out, name) in outputs.iter().zip(fetches) {
            if out.dims().first() != Some(&(m as u64)) {
                return Err(SparkdlError::InvalidArgument(format!(
                    "output '{name}' has shape {:?} for a batch of {m} rows; an output's first dimension must be the \
                     batch (one entry per input row)",
                    out.dims()
                )));
            }
        }
        let chunk = self.chunks.len();
        self.chunks.push(Chunk { values: outputs, rows: m });
        for (i, r) in rows.iter().enumerate() {
            self.slots[*r] = Some(Slot { chunk, row: i });
        }
        Ok(())
    }

    /// The Arrow batch: one column per output, then the error column. When
    /// TensorFlow rejected every row it was given (two or more, each alone),
    /// the failure is the model's, not the rows': the batch fails.
    pub fn finish(self, spec: &RunSpec) -> Result<StructArray> {
        let succeeded = self.slots.iter().filter(|s| s.is_some()).count();
        if succeeded == 0 && self.failed_in_tf >= 2 {
            let first = self.errors.iter().flatten().next().cloned().unwrap_or_default();
            return Err(SparkdlError::ModelRun {
                about_rows: false,
                message: format!(
                    "the model failed on each of the {} rows of this batch, run one by one, so the failure is not \
                     about one row: {first}",
                    self.failed_in_tf
                ),
            });
        }
        let mut fields = Vec::with_capacity(spec.outputs.len() + 1);
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(spec.outputs.len() + 1);
        for (k, o) in spec.outputs.iter().enumerate() {
            let column = self.column(k, &o.format).map_err(|e| match e {
                SparkdlError::InvalidArgument(m) => {
                    SparkdlError::InvalidArgument(format!("output column '{}': {m}", o.column))
                }
                other => other,
            })?;
            fields.push(Field::new(&o.column, column.data_type().clone(), true));
            columns.push(column);
        }
        let mut e = StringBuilder::new();
        for err in &self.errors {
            e.append_option(err.as_deref());
        }
        fields.push(Field::new(ERROR_COLUMN, DataType::Utf8, true));
        columns.push(Arc::new(e.finish()));
        Ok(StructArray::try_new(Fields::from(fields), columns, None)?)
    }

    /// Per input row: output `k`'s values, or None for a failed row.
    fn rows(&self, k: usize) -> impl Iterator<Item = Option<(&TensorData, std::ops::Range<usize>)>> + '_ {
        self.slots.iter().map(move |slot| {
            slot.map(|s| {
                let chunk = &self.chunks[s.chunk];
                let value = &chunk.values[k];
                let per = value.len() / chunk.rows.max(1);
                (value.data(), s.row * per..(s.row + 1) * per)
            })
        })
    }

    fn dtype(&self, k: usize) -> DType {
        self.dtypes[k]
    }

    fn column(&self, k: usize, format: &OutputFormat) -> Result<ArrayRef> {
        Ok(match format {
            OutputFormat::List => match self.dtype(k) {
                DType::Float32 | DType::Float16 => self.list::<Float32Type>(k),
                DType::Float64 => self.list::<Float64Type>(k),
                DType::Int32 => self.list::<Int32Type>(k),
                DType::Int64 => self.list::<Int64Type>(k),
                DType::Uint8 => self.list::<Int16Type>(k),
                DType::Bool => self.bool_list(k),
            },
            OutputFormat::Vector => self.vector(k),
            OutputFormat::ImageData { channels, swap_rgb } => self.image_data(k, *channels, *swap_rgb)?,
            OutputFormat::TopK { k: top, labels } => self.top_k(k, *top, labels.as_deref())?,
        })
    }

    /// `list<boolean>`: each row's values, nonzero numbers as true.
    fn bool_list(&self, k: usize) -> ArrayRef {
        let item = Arc::new(Field::new("item", DataType::Boolean, false));
        let mut b = ListBuilder::new(BooleanBuilder::new()).with_field(item);
        for row in self.rows(k) {
            match row {
                Some((TensorData::Bool(v), range)) => {
                    b.values().append_slice(&v[range]);
                    b.append(true);
                }
                Some((data, range)) => {
                    for x in data.f64_range(range).unwrap_or_default() {
                        b.values().append_value(x != 0.0);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    /// `list<T>`: each row's values converted to `T` (a no-op for the
    /// tensor's own type, a widening for uint8).
    fn list<T: ArrowPrimitiveType>(&self, k: usize) -> ArrayRef
    where
        T::Native: FromTensor,
    {
        let total: usize = self.rows(k).flatten().map(|(_, r)| r.len()).sum();
        let item = Arc::new(Field::new("item", T::DATA_TYPE, false));
        let mut b = ListBuilder::new(PrimitiveBuilder::<T>::with_capacity(total)).with_field(item);
        for row in self.rows(k) {
            match row {
                Some((data, range)) => {
                    T::Native::append(data, range, b.values());
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Arc::new(b.finish())
    }

    fn vector(&self, k: usize) -> ArrayRef {
        let n = self.slots.len();
        let values = self.list::<Float64Type>(k);
        let valid = NullBuffer::from(self.slots.iter().map(Option::is_some).collect::<Vec<_>>());
        let indices_item = Arc::new(Field::new("element", DataType::Int32, false));
        let fields = vector_fields();
        let mut indices = ListBuilder::new(Int32Builder::new()).with_field(indices_item);
        let mut size = Int32Builder::with_capacity(n);
        for _ in 0..n {
            indices.append(false);
            size.append_null();
        }
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Int8Array::from(vec![1i8; n])), Arc::new(size.finish()), Arc::new(indices.finish()), values];
        // Vectors' element fields carry the names Spark's own conversion
        // gives them; the values column keeps the list builder's field.
        let fields: Vec<Field> = fields
            .iter()
            .zip(&columns)
            .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), f.is_nullable()))
            .collect();
        Arc::new(StructArray::new(Fields::from(fields), columns, Some(valid)))
    }

    fn image_data(&self, k: usize, channels: usize, swap_rgb: bool) -> Result<ArrayRef> {
        if channels == 0 {
            return Err(SparkdlError::InvalidArgument("image output: channels must be positive".into()));
        }
        let total: usize = self.rows(k).flatten().map(|(_, r)| r.len() * 4).sum();
        let mut b = LargeBinaryBuilder::with_capacity(self.slots.len(), total);
        let mut pixels: Vec<f32> = Vec::new();
        let mut bytes: Vec<u8> = Vec::new();
        for row in self.rows(k) {
            let Some((data, range)) = row else {
                b.append_null();
                continue;
            };
            if range.len() % channels != 0 {
                return Err(SparkdlError::InvalidArgument(format!(
                    "image output: {} values per row is not a whole number of {channels}-channel pixels",
                    range.len()
                )));
            }
            pixels.clear();
            f32::append_to_vec(data, range, &mut pixels);
            bytes.clear();
            bytes.reserve(pixels.len() * 4);
            for px in pixels.chunks_exact(channels) {
                for c in 0..channels {
                    let src = if swap_rgb && channels >= 3 && c < 3 { 2 - c } else { c };
                    bytes.extend_from_slice(&px[src].to_le_bytes());
                }
            }
            b.append_value(&bytes);
        }
        Ok(Arc::new(b.finish()))
    }

    fn top_k(&self, k: usize, top: usize, labels: Option<&[(String, String)]>) -> Result<ArrayRef> {
        let fields = match labels {
            Some(_) => Fields::from(vec![
                Field::new("class", DataType::Utf8, true),
                Field::new("description", DataType::Utf8, true),
                Field::new("probability", DataType::Float64, false),
            ]),
            None => Fields::from(vec![
                Field::new("index", DataType::Int32, false),
                Field::new("probability", DataType::Float64, false),
            ]),
        };
        let item = Arc::new(Field::new("element", DataType::Struct(fields.clone()), false));
        let builders: Vec<Box<dyn arrow::array::ArrayBuilder>> = match labels {
            Some(_) => {
                vec![Box::new(StringBuilder::new()), Box::new(StringBuilder::new()), Box::new(Float64Builder::new())]
            }
            None => vec![Box::new(Int32Builder::new()), Box::new(Float64Builder::new())],
        };
        let mut b = ListBuilder::new(StructBuilder::new(fields, builders)).with_field(item);
        let mut values: Vec<f64> = Vec::new();
        let mut order: Vec<usize> = Vec::new();
        for row in self.rows(k) {
            let Some((data, range)) = row else {
                b.append(false);
                continue;
            };
            values.clear();
            f64::append_to_vec(data, range, &mut values);
            if let Some(l) = labels {
                if l.len() != values.len() {
                    return Err(SparkdlError::InvalidArgument(format!(
                        "top k: the label set has {} classes but the output has {} values per row",
                        l.len(),
                        values.len()
                    )));
                }
            }
            order.clear();
            order.extend(0..values.len());
            // Largest first; NaN last; ties keep the lower index first.
            order.sort_by(|a, b| {
                values[*b].partial_cmp(&values[*a]).unwrap_or_else(|| values[*a].is_nan().cmp(&values[*b].is_nan()))
            });
            let s = b.values();
            for i in order.iter().take(top) {
                match labels {
                    Some(l) => {
                        if let Some(f) = s.field_builder::<StringBuilder>(0) {
                            f.append_value(&l[*i].0);
                        }
                        if let Some(f) = s.field_builder::<StringBuilder>(1) {
                            f.append_value(&l[*i].1);
                        }
                        if let Some(f) = s.field_builder::<Float64Builder>(2) {
                            f.append_value(values[*i]);
                        }
                    }
                    None => {
                        if let Some(f) = s.field_builder::<Int32Builder>(0) {
                            f.append_value(*i as i32);
                        }
                        if let Some(f) = s.field_builder::<Float64Builder>(1) {
                            f.append_value(values[*i]);
                        }
                    }
                }
                s.append(true);
            }
            b.append(true);
        }
        Ok(Arc::new(b.finish()))
    }
}

/// `VectorUDT`'s struct fields, as Spark declares them.
fn vector_fields() -> Vec<Field> {
    vec![
        Field::new("type", DataType::Int8, false),
        Field::new("size", DataType::Int32, true),
        Field::new("indices", DataType::List(Arc::new(Field::new("element", DataType::Int32, false))), true),
        Field::new("values", DataType::List(Arc::new(Field::new("item", DataType::Float64, false))), true),
    ]
}

/// An element type output values convert to.
pub(super) trait FromTensor: Sized + Copy {
    fn append_to_vec(data: &TensorData, range: std::ops::Range<usize>, out: &mut Vec<Self>);

    fn append<T: ArrowPrimitiveType<Native = Self>>(
        data: &TensorData,
        range: std::ops::Range<usize>,
        out: &mut PrimitiveBuilder<T>,
    ) {
        // Same type: one slice copy. Otherwise an element-wise conversion.
        let mut tmp = Vec::new();
        Self::append_to_vec(data, range, &mut tmp);
        out.append_slice(&tmp);
    }
}

macro_rules! from_tensor {
    ($t:ty, $variant:ident) => {
        impl FromTensor for $t {
            fn append_to_vec(data: &TensorData, range: std::ops::Range<usize>, out: &mut Vec<$t>) {
                match data {
                    TensorData::Float32(v) => out.extend(v[range].iter().map(|x| *x as $t)),
                    TensorData::Float64(v) => out.extend(v[range].iter().map(|x| *x as $t)),
                    TensorData::Int32(v) => out.extend(v[range].iter().map(|x| *x as $t)),
                    TensorData::Int64(v) => out.extend(v[range].iter().map(|x| *x as $t)),
                    TensorData::Uint8(v) => out.extend(v[range].iter().map(|x| *x as $t)),
                    TensorData::Float16(v) => out.extend(v[range].iter().map(|x| f32::from(*x) as $t)),
                    TensorData::Bool(v) => out.extend(v[range].iter().map(|x| u8::from(*x) as $t)),
                }
            }

            fn append<T: ArrowPrimitiveType<Native = $t>>(
                data: &TensorData,
                range: std::ops::Range<usize>,
                out: &mut PrimitiveBuilder<T>,
            ) {
                match data {
                    TensorData::$variant(v) => out.append_slice(&v[range]),
                    other => {
                        let mut tmp = Vec::with_capacity(range.len());
                        Self::append_to_vec(other, range, &mut tmp);
                        out.append_slice(&tmp);
                    }
                }
            }
        }
    };
}

from_tensor!(f32, Float32);
from_tensor!(f64, Float64);
from_tensor!(i32, Int32);
from_tensor!(i64, Int64);

impl FromTensor for i16 {
    fn append_to_vec(data: &TensorData, range: std::ops::Range<usize>, out: &mut Vec<i16>) {
        match data {
            TensorData::Uint8(v) => out.extend(v[range].iter().map(|x| i16::from(*x))),
            other => {
                let mut wide = Vec::with_capacity(range.len());
                i64::append_to_vec(other, range, &mut wide);
                out.extend(wide.into_iter().map(|x| x as i16));
            }
        }
    }
}
