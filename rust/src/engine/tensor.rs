//! Tensors as plain Rust data, the unit every backend's `run` takes and
//! returns: [`TensorValue`] (dims plus a flat, row-major buffer), and
//! [`BatchTensor`], a float32 batch buffer a backend makes so that callers
//! can write rows straight into what the model is fed.

use std::any::Any;

use half::f16;

use crate::engine::dtype::DType;
use crate::errors::{Result, SparkdlError};

/// The flat values of a tensor, one variant per [`DType`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Float32(Vec<f32>),
    Float16(Vec<f16>),
    Float64(Vec<f64>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Uint8(Vec<u8>),
    Bool(Vec<bool>),
}

/// Runs `$body` with `$v` bound to the variant's vector, whatever its type.
macro_rules! each {
    ($data:expr, $v:ident => $body:expr) => {
        match $data {
            TensorData::Float32($v) => $body,
            TensorData::Float16($v) => $body,
            TensorData::Float64($v) => $body,
            TensorData::Int32($v) => $body,
            TensorData::Int64($v) => $body,
            TensorData::Uint8($v) => $body,
            TensorData::Bool($v) => $body,
        }
    };
}

impl TensorData {
    /// An empty buffer of `dtype` with room for `capacity` values.
    pub fn with_capacity(dtype: DType, capacity: usize) -> TensorData {
        match dtype {
            DType::Float32 => TensorData::Float32(Vec::with_capacity(capacity)),
            DType::Float16 => TensorData::Float16(Vec::with_capacity(capacity)),
            DType::Float64 => TensorData::Float64(Vec::with_capacity(capacity)),
            DType::Int32 => TensorData::Int32(Vec::with_capacity(capacity)),
            DType::Int64 => TensorData::Int64(Vec::with_capacity(capacity)),
            DType::Uint8 => TensorData::Uint8(Vec::with_capacity(capacity)),
            DType::Bool => TensorData::Bool(Vec::with_capacity(capacity)),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            TensorData::Float32(_) => DType::Float32,
            TensorData::Float16(_) => DType::Float16,
            TensorData::Float64(_) => DType::Float64,
            TensorData::Int32(_) => DType::Int32,
            TensorData::Int64(_) => DType::Int64,
            TensorData::Uint8(_) => DType::Uint8,
            TensorData::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        each!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other[range]`; `false` (nothing appended) when the types differ
    /// or the range is out of bounds.
    pub fn extend_from(&mut self, other: &TensorData, range: std::ops::Range<usize>) -> bool {
        macro_rules! ext {
            ($a:expr, $b:expr) => {
                match $b.get(range) {
                    Some(s) => {
                        $a.extend_from_slice(s);
                        true
                    }
                    None => false,
                }
            };
        }
        match (self, other) {
            (TensorData::Float32(a), TensorData::Float32(b)) => ext!(a, b),
            (TensorData::Float16(a), TensorData::Float16(b)) => ext!(a, b),
            (TensorData::Float64(a), TensorData::Float64(b)) => ext!(a, b),
            (TensorData::Int32(a), TensorData::Int32(b)) => ext!(a, b),
            (TensorData::Int64(a), TensorData::Int64(b)) => ext!(a, b),
            (TensorData::Uint8(a), TensorData::Uint8(b)) => ext!(a, b),
            (TensorData::Bool(a), TensorData::Bool(b)) => ext!(a, b),
            _ => false,
        }
    }

    /// Values `range` cast to f64 (Spark ML vectors are doubles; true is 1);
    /// `None` when the range is out of bounds.
    pub fn f64_range(&self, range: std::ops::Range<usize>) -> Option<Vec<f64>> {
        Some(match self {
            TensorData::Float32(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Float16(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Float64(v) => v.get(range)?.to_vec(),
            TensorData::Int32(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Int64(v) => v.get(range)?.iter().map(|x| *x as f64).collect(),
            TensorData::Uint8(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Bool(v) => v.get(range)?.iter().map(|x| if *x { 1.0 } else { 0.0 }).collect(),
        })
    }

    /// float16 values widened to float32 (how sparkdl reads them); any other
    /// type as it is.
    pub fn widened(self) -> TensorData {
        match self {
            TensorData::Float16(v) => TensorData::Float32(v.into_iter().map(f32::from).collect()),
            other => other,
        }
    }

    /// The values as little-endian bytes (a `TensorProto.tensor_content`).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * self.dtype().size());
        match self {
            TensorData::Float32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Float16(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Float64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Int32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Int64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Uint8(v) => out.extend_from_slice(v),
            TensorData::Bool(v) => out.extend(v.iter().map(|b| u8::from(*b))),
        }
        out
    }
}

/// A dense tensor: dims and row-major values, whose count always matches.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorValue {
    dims: Vec<u64>,
    data: TensorData,
}

impl TensorValue {
    /// Checks that `data` holds exactly the product of `dims` values.
    pub fn new(dims: Vec<u64>, data: TensorData) -> Result<TensorValue> {
        let expected = element_count(&dims)
            .ok_or_else(|| SparkdlError::InvalidArgument(format!("tensor shape {dims:?} has too many elements")))?;
        if expected != data.len() as u64 {
            return Err(SparkdlError::InvalidArgument(format!(
                "a tensor of shape {dims:?} needs {expected} values, got {}",
                data.len()
            )));
        }
        Ok(TensorValue { dims, data })
    }

    pub fn f32(dims: &[u64], values: Vec<f32>) -> Result<TensorValue> {
        TensorValue::new(dims.to_vec(), TensorData::Float32(values))
    }
    pub fn f64(dims: &[u64], values: Vec<f64>) -> Result<TensorValue> {
        TensorValue::new(dims.to_vec(), TensorData::Float64(values))
    }
    pub fn i32(dims: &[u64], values: Vec<i32>) -> Result<TensorValue> {
        TensorValue::new(dims.to_vec(), TensorData::Int32(values))
    }
    pub fn i64(dims: &[u64], values: Vec<i64>) -> Result<TensorValue> {
        TensorValue::new(dims.to_vec(), TensorData::Int64(values))
    }
    pub fn u8(dims: &[u64], values: Vec<u8>) -> Result<TensorValue> {
        TensorValue::new(dims.to_vec(), TensorData::Uint8(values))
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }
    pub fn data(&self) -> &TensorData {
        &self.data
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// All values cast to f64.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.data.f64_range(0..self.data.len()).unwrap_or_default()
    }

    /// The values as little-endian bytes.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.data.to_le_bytes()
    }
}

/// The product of `dims`, `None` on overflow.
pub fn element_count(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d))
}

/// A float32 batch tensor that its backend made ([`crate::engine::Model::batch_tensor`]):
/// callers write rows into [`BatchTensor::values_mut`] and feed it as it is,
/// so the model reads the very buffer the rows were decoded into. It is kept
/// and refilled batch after batch.
pub trait BatchTensor: Send {
    fn dims(&self) -> &[u64];
    fn values(&self) -> &[f32];
    fn values_mut(&mut self) -> &mut [f32];
    /// For the backend that made it, to reach its own type.
    fn as_any(&self) -> &dyn Any;
}

/// A plain `Vec` as a batch tensor, for backends that feed borrowed memory.
pub struct VecBatch {
    dims: Vec<u64>,
    values: Vec<f32>,
}

impl VecBatch {
    pub fn new(dims: &[u64]) -> Result<VecBatch> {
        let n = element_count(dims)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| SparkdlError::InvalidArgument(format!("batch tensor shape {dims:?} is too large")))?;
        Ok(VecBatch { dims: dims.to_vec(), values: vec![0.0; n] })
    }
}

impl BatchTensor for VecBatch {
    fn dims(&self) -> &[u64] {
        &self.dims
    }
    fn values(&self) -> &[f32] {
        &self.values
    }
    fn values_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One value a run feeds: a tensor of any type, or a batch tensor.
#[derive(Clone, Copy)]
pub enum Feed<'a> {
    Value(&'a TensorValue),
    Batch(&'a dyn BatchTensor),
}

impl Feed<'_> {
    pub fn dtype(&self) -> DType {
        match self {
            Feed::Value(v) => v.dtype(),
            Feed::Batch(_) => DType::Float32,
        }
    }

    pub fn dims(&self) -> &[u64] {
        match self {
            Feed::Value(v) => v.dims(),
            Feed::Batch(b) => b.dims(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_must_match_the_shape() {
        let err = TensorValue::f32(&[2, 3], vec![1.0; 5]).unwrap_err();
        assert_eq!(err.to_string(), "a tensor of shape [2, 3] needs 6 values, got 5");
        let scalar = TensorValue::i64(&[], vec![7]).unwrap();
        assert_eq!(scalar.to_f64_vec(), vec![7.0]);
        assert!(TensorValue::u8(&[u64::MAX, 4], vec![]).is_err());
    }

    #[test]
    fn little_endian_bytes_and_ranges() {
        let t = TensorValue::i32(&[2], vec![1, -2]).unwrap();
        assert_eq!(t.to_le_bytes(), vec![1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
        let mut acc = TensorData::with_capacity(DType::Int32, 4);
        assert!(acc.extend_from(t.data(), 1..2));
        assert!(!acc.extend_from(t.data(), 1..3));
        assert!(!acc.extend_from(&TensorData::Float32(vec![1.0]), 0..1));
        assert_eq!(acc, TensorData::Int32(vec![-2]));
        assert_eq!(t.data().f64_range(0..2), Some(vec![1.0, -2.0]));
        let b = TensorData::Bool(vec![true, false]);
        assert_eq!((b.f64_range(0..2), b.to_le_bytes()), (Some(vec![1.0, 0.0]), vec![1, 0]));
    }

    #[test]
    fn float16_is_read_widened() {
        let h = TensorData::Float16(vec![f16::from_f32(0.5), f16::from_f32(-2.0)]);
        assert_eq!(h.dtype().size(), 2);
        assert_eq!(h.widened(), TensorData::Float32(vec![0.5, -2.0]));
        assert_eq!(TensorData::Int64(vec![3]).widened(), TensorData::Int64(vec![3]));
    }

    #[test]
    fn a_vec_batch_is_a_zeroed_buffer_of_its_shape() {
        let mut b = VecBatch::new(&[2, 3]).unwrap();
        assert_eq!((b.dims(), b.values().len()), (&[2u64, 3][..], 6));
        b.values_mut()[5] = 1.5;
        assert_eq!(Feed::Batch(&b).dims(), &[2, 3]);
        assert_eq!(Feed::Batch(&b).dtype(), DType::Float32);
        assert!(VecBatch::new(&[u64::MAX, 2]).is_err());
    }
}
