//! Engine tensors to and from the crate's typed `Tensor<T>`, and the
//! backend's batch tensor: a `Tensor<f32>` the caller writes rows into, fed
//! as it is.

use std::any::Any;

use half::f16;
use tensorflow::{Operation, SessionRunArgs, Tensor};

use crate::engine::dtype::DType;
use crate::engine::tensor::{BatchTensor, TensorData, TensorValue};
use crate::errors::{Result, SparkdlError};

/// A typed TensorFlow tensor of one of the engine's [`DType`]s.
pub(crate) enum TfTensor {
    Float32(Tensor<f32>),
    Float16(Tensor<f16>),
    Float64(Tensor<f64>),
    Int32(Tensor<i32>),
    Int64(Tensor<i64>),
    Uint8(Tensor<u8>),
    Bool(Tensor<bool>),
}

/// Copies `value` into a typed TensorFlow tensor.
pub(crate) fn to_tf(value: &TensorValue) -> Result<TfTensor> {
    fn make<T: tensorflow::TensorType>(dims: &[u64], v: &[T]) -> Result<Tensor<T>> {
        Tensor::new(dims).with_values(v).map_err(|e| SparkdlError::Internal(format!("building a tensor: {e}")))
    }
    let dims = value.dims();
    Ok(match value.data() {
        TensorData::Float32(v) => TfTensor::Float32(make(dims, v)?),
        TensorData::Float16(v) => TfTensor::Float16(make(dims, v)?),
        TensorData::Float64(v) => TfTensor::Float64(make(dims, v)?),
        TensorData::Int32(v) => TfTensor::Int32(make(dims, v)?),
        TensorData::Int64(v) => TfTensor::Int64(make(dims, v)?),
        TensorData::Uint8(v) => TfTensor::Uint8(make(dims, v)?),
        TensorData::Bool(v) => TfTensor::Bool(make(dims, v)?),
    })
}

impl TfTensor {
    pub(crate) fn add_feed<'l>(&'l self, args: &mut SessionRunArgs<'l>, op: &Operation, index: i32) {
        match self {
            TfTensor::Float32(t) => args.add_feed(op, index, t),
            TfTensor::Float16(t) => args.add_feed(op, index, t),
            TfTensor::Float64(t) => args.add_feed(op, index, t),
            TfTensor::Int32(t) => args.add_feed(op, index, t),
            TfTensor::Int64(t) => args.add_feed(op, index, t),
            TfTensor::Uint8(t) => args.add_feed(op, index, t),
            TfTensor::Bool(t) => args.add_feed(op, index, t),
        }
    }
}

/// Takes fetch `token` out of a finished run as a [`TensorValue`] of `dtype`
/// (float16 widened to float32).
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
        let t: Tensor<T> = args
            .fetch(token)
            .map_err(|e| SparkdlError::Backend(format!("TensorFlow: reading output '{name}': {e}")))?;
        Ok((t.dims().to_vec(), t.to_vec()))
    }
    let (dims, data) = match dtype {
        DType::Float32 => take::<f32>(args, token, name).map(|(d, v)| (d, TensorData::Float32(v))),
        DType::Float16 => take::<f16>(args, token, name).map(|(d, v)| (d, TensorData::Float16(v).widened())),
        DType::Float64 => take::<f64>(args, token, name).map(|(d, v)| (d, TensorData::Float64(v))),
        DType::Int32 => take::<i32>(args, token, name).map(|(d, v)| (d, TensorData::Int32(v))),
        DType::Int64 => take::<i64>(args, token, name).map(|(d, v)| (d, TensorData::Int64(v))),
        DType::Uint8 => take::<u8>(args, token, name).map(|(d, v)| (d, TensorData::Uint8(v))),
        DType::Bool => take::<bool>(args, token, name).map(|(d, v)| (d, TensorData::Bool(v))),
    }?;
    TensorValue::new(dims, data)
}

/// The backend's batch tensor: TensorFlow reads the buffer rows were written into.
pub(crate) struct TfBatch(pub(crate) Tensor<f32>);

impl BatchTensor for TfBatch {
    fn dims(&self) -> &[u64] {
        self.0.dims()
    }
    fn values(&self) -> &[f32] {
        &self.0
    }
    fn values_mut(&mut self) -> &mut [f32] {
        &mut self.0
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_a_tensorflow_tensor() {
        crate::backends::tensorflow::test_graphs::ensure_loaded();
        let t = TensorValue::f64(&[1, 2], vec![0.5, 1.5]).unwrap();
        match to_tf(&t).unwrap() {
            TfTensor::Float64(tf) => {
                assert_eq!(tf.dims(), &[1, 2]);
                assert_eq!(&tf[..], &[0.5, 1.5]);
            }
            _ => panic!("wrong variant"),
        }
        let h = TensorValue::new(vec![1], TensorData::Float16(vec![f16::from_f32(2.0)])).unwrap();
        assert!(matches!(to_tf(&h).unwrap(), TfTensor::Float16(_)));
    }
}
