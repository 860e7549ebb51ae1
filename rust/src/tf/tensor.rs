//! [`TensorValue`]: a dense tensor as plain Rust data (dims plus a flat,
//! row-major `Vec`), the unit [`crate::tf::model::LoadedModel::run`] takes and
//! returns; and its conversions to and from the crate's typed `Tensor<T>`.

use tensorflow::{Operation, SessionRunArgs, Tensor};

use crate::errors::{Result, SparkdlError};
use crate::tf::dtype::DType;

/// The flat values of a tensor, one variant per [`DType`].
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    Float32(Vec<f32>),
    Float64(Vec<f64>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Uint8(Vec<u8>),
}

impl TensorData {
    /// An empty buffer of `dtype` with room for `capacity` values.
    pub fn with_capacity(dtype: DType, capacity: usize) -> TensorData {
        match dtype {
            DType::Float32 => TensorData::Float32(Vec::with_capacity(capacity)),
            DType::Float64 => TensorData::Float64(Vec::with_capacity(capacity)),
            DType::Int32 => TensorData::Int32(Vec::with_capacity(capacity)),
            DType::Int64 => TensorData::Int64(Vec::with_capacity(capacity)),
            DType::Uint8 => TensorData::Uint8(Vec::with_capacity(capacity)),
        }
    }

    pub fn dtype(&self) -> DType {
        match self {
            TensorData::Float32(_) => DType::Float32,
            TensorData::Float64(_) => DType::Float64,
            TensorData::Int32(_) => DType::Int32,
            TensorData::Int64(_) => DType::Int64,
            TensorData::Uint8(_) => DType::Uint8,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TensorData::Float32(v) => v.len(),
            TensorData::Float64(v) => v.len(),
            TensorData::Int32(v) => v.len(),
            TensorData::Int64(v) => v.len(),
            TensorData::Uint8(v) => v.len(),
        }
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
            (TensorData::Float64(a), TensorData::Float64(b)) => ext!(a, b),
            (TensorData::Int32(a), TensorData::Int32(b)) => ext!(a, b),
            (TensorData::Int64(a), TensorData::Int64(b)) => ext!(a, b),
            (TensorData::Uint8(a), TensorData::Uint8(b)) => ext!(a, b),
            _ => false,
        }
    }

    /// Values `range` cast to f64 (Spark ML vectors are doubles); `None` when
    /// the range is out of bounds.
    pub fn f64_range(&self, range: std::ops::Range<usize>) -> Option<Vec<f64>> {
        Some(match self {
            TensorData::Float32(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Float64(v) => v.get(range)?.to_vec(),
            TensorData::Int32(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
            TensorData::Int64(v) => v.get(range)?.iter().map(|x| *x as f64).collect(),
            TensorData::Uint8(v) => v.get(range)?.iter().map(|x| f64::from(*x)).collect(),
        })
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
    pub fn into_data(self) -> TensorData {
        self.data
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

    /// The values as little-endian bytes (a `TensorProto.tensor_content`).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * self.dtype().size());
        match &self.data {
            TensorData::Float32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Float64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Int32(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Int64(v) => v.iter().for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            TensorData::Uint8(v) => out.extend_from_slice(v),
        }
        out
    }

    /// Copies into a typed TensorFlow tensor.
    pub(crate) fn to_tf(&self) -> Result<TfTensor> {
        fn make<T: tensorflow::TensorType>(dims: &[u64], v: &[T]) -> Result<Tensor<T>> {
            Tensor::new(dims).with_values(v).map_err(|e| SparkdlError::Internal(format!("building a tensor: {e}")))
        }
        Ok(match &self.data {
            TensorData::Float32(v) => TfTensor::Float32(make(&self.dims, v)?),
            TensorData::Float64(v) => TfTensor::Float64(make(&self.dims, v)?),
            TensorData::Int32(v) => TfTensor::Int32(make(&self.dims, v)?),
            TensorData::Int64(v) => TfTensor::Int64(make(&self.dims, v)?),
            TensorData::Uint8(v) => TfTensor::Uint8(make(&self.dims, v)?),
        })
    }
}

/// The product of `dims`, `None` on overflow.
pub fn element_count(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d))
}

/// A typed TensorFlow tensor of one of the [`DType`]s.
pub(crate) enum TfTensor {
    Float32(Tensor<f32>),
    Float64(Tensor<f64>),
    Int32(Tensor<i32>),
    Int64(Tensor<i64>),
    Uint8(Tensor<u8>),
}

impl TfTensor {
    pub(crate) fn add_feed<'l>(&'l self, args: &mut SessionRunArgs<'l>, op: &Operation, index: i32) {
        match self {
            TfTensor::Float32(t) => args.add_feed(op, index, t),
            TfTensor::Float64(t) => args.add_feed(op, index, t),
            TfTensor::Int32(t) => args.add_feed(op, index, t),
            TfTensor::Int64(t) => args.add_feed(op, index, t),
            TfTensor::Uint8(t) => args.add_feed(op, index, t),
        }
    }
}

/// Takes fetch `token` out of a finished run as a [`TensorValue`] of `dtype`.
pub(crate) fn fetch(
    args: &mut SessionRunArgs<'_>,
    token: tensorflow::FetchToken,
    dtype: DType,
    name: &str,
) -> Result<TensorValue> {
    fn take<T: tensorflow::TensorType + Copy>(
        args: &mut SessionRunArgs<'_>,
        token: tensorflow::FetchToken,
        name: &str,
    ) -> Result<(Vec<u64>, Vec<T>)> {
        let t: Tensor<T> =
            args.fetch(token).map_err(|e| SparkdlError::TensorFlow(format!("reading output '{name}': {e}")))?;
        Ok((t.dims().to_vec(), t.to_vec()))
    }
    let value = match dtype {
        DType::Float32 => take::<f32>(args, token, name).map(|(d, v)| (d, TensorData::Float32(v))),
        DType::Float64 => take::<f64>(args, token, name).map(|(d, v)| (d, TensorData::Float64(v))),
        DType::Int32 => take::<i32>(args, token, name).map(|(d, v)| (d, TensorData::Int32(v))),
        DType::Int64 => take::<i64>(args, token, name).map(|(d, v)| (d, TensorData::Int64(v))),
        DType::Uint8 => take::<u8>(args, token, name).map(|(d, v)| (d, TensorData::Uint8(v))),
    }?;
    TensorValue::new(value.0, value.1)
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
    }

    #[test]
    fn converts_to_a_tensorflow_tensor() {
        let t = TensorValue::f64(&[1, 2], vec![0.5, 1.5]).unwrap();
        match t.to_tf().unwrap() {
            TfTensor::Float64(tf) => {
                assert_eq!(tf.dims(), &[1, 2]);
                assert_eq!(&tf[..], &[0.5, 1.5]);
            }
            _ => panic!("wrong variant"),
        }
    }
}
