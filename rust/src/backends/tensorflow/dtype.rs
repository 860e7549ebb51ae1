//! TensorFlow's element types: names for every one (for
//! [`crate::engine::info::ModelInfo`] and messages), and the mapping onto the
//! engine's [`DType`]s.

use tensorflow::DataType;

use crate::engine::dtype::DType;

/// (TF_DataType code, crate value, the name Python's `tf.DType.name` gives).
const TYPES: &[(u32, DataType, &str)] = &[
    (1, DataType::Float, "float32"),
    (2, DataType::Double, "float64"),
    (3, DataType::Int32, "int32"),
    (4, DataType::UInt8, "uint8"),
    (5, DataType::Int16, "int16"),
    (6, DataType::Int8, "int8"),
    (7, DataType::String, "string"),
    (8, DataType::Complex64, "complex64"),
    (9, DataType::Int64, "int64"),
    (10, DataType::Bool, "bool"),
    (11, DataType::QInt8, "qint8"),
    (12, DataType::QUInt8, "quint8"),
    (13, DataType::QInt32, "qint32"),
    (14, DataType::BFloat16, "bfloat16"),
    (15, DataType::QInt16, "qint16"),
    (16, DataType::QUInt16, "quint16"),
    (17, DataType::UInt16, "uint16"),
    (18, DataType::Complex128, "complex128"),
    (19, DataType::Half, "float16"),
    (20, DataType::Resource, "resource"),
    (21, DataType::Variant, "variant"),
    (22, DataType::UInt32, "uint32"),
    (23, DataType::UInt64, "uint64"),
];

/// TensorFlow marks reference types (a `VariableV2`'s output) as code + 100.
const REF_OFFSET: u32 = 100;

/// The TF_DataType code of `dt`.
pub fn code(dt: DataType) -> u32 {
    if let DataType::UnrecognizedEnumValue(c) = dt {
        return c;
    }
    TYPES.iter().find(|(_, d, _)| *d == dt).map(|(c, _, _)| *c).unwrap_or(0)
}

/// The crate's value for TF_DataType `code`.
pub fn from_code(code: u32) -> DataType {
    TYPES.iter().find(|(c, _, _)| *c == code).map(|(_, d, _)| *d).unwrap_or(DataType::UnrecognizedEnumValue(code))
}

/// The reference type of `dt` (`float32` -> `float32_ref`).
pub fn as_ref_type(dt: DataType) -> DataType {
    let c = code(dt);
    if c > REF_OFFSET {
        dt
    } else {
        DataType::UnrecognizedEnumValue(c + REF_OFFSET)
    }
}

/// `dt` without its reference marker: `float32_ref` is read as `float32`.
pub fn base_type(dt: DataType) -> DataType {
    match dt {
        DataType::UnrecognizedEnumValue(c) if c > REF_OFFSET => {
            TYPES.iter().find(|(code, _, _)| *code == c - REF_OFFSET).map(|(_, d, _)| *d).unwrap_or(dt)
        }
        other => other,
    }
}

/// Python's name for `dt` (`float32`, `int64`, `float32_ref`, ...).
pub fn type_name(dt: DataType) -> String {
    let c = code(dt);
    let (base, suffix) = if c > REF_OFFSET { (c - REF_OFFSET, "_ref") } else { (c, "") };
    match TYPES.iter().find(|(code, _, _)| *code == base) {
        Some((_, _, name)) => format!("{name}{suffix}"),
        None => format!("dtype_{c}"),
    }
}

/// The engine type of `dt`, reference types read as their base type; `None`
/// for types sparkdl does not move (strings, resources, ...).
pub fn from_tf(dt: DataType) -> Option<DType> {
    match base_type(dt) {
        DataType::Float => Some(DType::Float32),
        DataType::Half => Some(DType::Float16),
        DataType::Double => Some(DType::Float64),
        DataType::Int32 => Some(DType::Int32),
        DataType::Int64 => Some(DType::Int64),
        DataType::UInt8 => Some(DType::Uint8),
        DataType::Bool => Some(DType::Bool),
        _ => None,
    }
}

pub fn to_tf(d: DType) -> DataType {
    match d {
        DType::Float32 => DataType::Float,
        DType::Float16 => DataType::Half,
        DType::Float64 => DataType::Double,
        DType::Int32 => DataType::Int32,
        DType::Int64 => DataType::Int64,
        DType::Uint8 => DataType::UInt8,
        DType::Bool => DataType::Bool,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refs_read_as_their_base() {
        for d in DType::ALL {
            assert_eq!(from_tf(to_tf(d)), Some(d));
            assert_eq!(DType::from_name(&type_name(to_tf(d))), Some(d));
        }
        let float_ref = DataType::UnrecognizedEnumValue(101);
        assert_eq!(type_name(float_ref), "float32_ref");
        assert_eq!(base_type(float_ref), DataType::Float);
        assert_eq!(from_tf(float_ref), Some(DType::Float32));
        assert_eq!(as_ref_type(DataType::Float), float_ref);
        assert_eq!(as_ref_type(float_ref), float_ref);
        assert_eq!(from_code(9), DataType::Int64);
        assert_eq!(type_name(DataType::Resource), "resource");
        assert_eq!(type_name(DataType::UnrecognizedEnumValue(77)), "dtype_77");
        assert_eq!(from_tf(DataType::String), None);
    }
}
