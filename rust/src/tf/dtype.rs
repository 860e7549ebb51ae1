//! Element types: the five sparkdl feeds and reads ([`DType`]), and names for
//! every TensorFlow type (for [`crate::tf::info::ModelInfo`] and messages).

use serde::{Deserialize, Serialize};
use tensorflow::DataType;

/// The element types sparkdl moves in and out of TensorFlow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float32,
    Float64,
    Int32,
    Int64,
    Uint8,
}

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

impl DType {
    pub const ALL: [DType; 5] = [DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Uint8];

    /// The TensorFlow type, reference types read as their base type; `None`
    /// for types sparkdl does not move (strings, bools, resources, ...).
    pub fn from_tf(dt: DataType) -> Option<DType> {
        match base_type(dt) {
            DataType::Float => Some(DType::Float32),
            DataType::Double => Some(DType::Float64),
            DataType::Int32 => Some(DType::Int32),
            DataType::Int64 => Some(DType::Int64),
            DataType::UInt8 => Some(DType::Uint8),
            _ => None,
        }
    }

    /// From a name as [`type_name`] writes it (`"float32"`, also `"float32_ref"`).
    pub fn from_name(name: &str) -> Option<DType> {
        let base = name.strip_suffix("_ref").unwrap_or(name);
        DType::ALL.into_iter().find(|d| d.name() == base)
    }

    pub fn to_tf(self) -> DataType {
        match self {
            DType::Float32 => DataType::Float,
            DType::Float64 => DataType::Double,
            DType::Int32 => DataType::Int32,
            DType::Int64 => DataType::Int64,
            DType::Uint8 => DataType::UInt8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Uint8 => "uint8",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::Float32 | DType::Int32 => 4,
            DType::Float64 | DType::Int64 => 8,
            DType::Uint8 => 1,
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The list of supported names, for messages.
pub fn supported_names() -> String {
    DType::ALL.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refs_read_as_their_base() {
        for d in DType::ALL {
            assert_eq!(DType::from_tf(d.to_tf()), Some(d));
            assert_eq!(DType::from_name(&type_name(d.to_tf())), Some(d));
        }
        let float_ref = DataType::UnrecognizedEnumValue(101);
        assert_eq!(type_name(float_ref), "float32_ref");
        assert_eq!(base_type(float_ref), DataType::Float);
        assert_eq!(DType::from_tf(float_ref), Some(DType::Float32));
        assert_eq!(as_ref_type(DataType::Float), float_ref);
        assert_eq!(as_ref_type(float_ref), float_ref);
        assert_eq!(from_code(9), DataType::Int64);
        assert_eq!(type_name(DataType::Resource), "resource");
        assert_eq!(type_name(DataType::UnrecognizedEnumValue(77)), "dtype_77");
        assert_eq!(DType::from_tf(DataType::String), None);
        assert_eq!(serde_json::to_string(&DType::Uint8).unwrap(), "\"uint8\"");
    }
}
