//! The element types sparkdl moves in and out of models, whatever the
//! backend: each backend maps its own types onto these (and names the others
//! in its messages).

use serde::{Deserialize, Serialize};

/// An element type sparkdl feeds and reads. `Float16` is read widened to
/// float32 and fed from any numbers; `Bool` is fed from and read as booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    Float32,
    Float16,
    Float64,
    Int32,
    Int64,
    Uint8,
    Bool,
}

impl DType {
    pub const ALL: [DType; 7] =
        [DType::Float32, DType::Float16, DType::Float64, DType::Int32, DType::Int64, DType::Uint8, DType::Bool];

    /// The name Python's frameworks give it (`float32`, `int64`, `bool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float16 => "float16",
            DType::Float64 => "float64",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Uint8 => "uint8",
            DType::Bool => "bool",
        }
    }

    /// From a name as [`DType::name`] writes it.
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per element in a tensor.
    pub fn size(self) -> usize {
        match self {
            DType::Float32 | DType::Int32 => 4,
            DType::Float64 | DType::Int64 => 8,
            DType::Float16 => 2,
            DType::Uint8 | DType::Bool => 1,
        }
    }

    /// The type the values of an output of this type are read as: float16
    /// is widened to float32, the others stay as they are.
    pub fn read_as(self) -> DType {
        match self {
            DType::Float16 => DType::Float32,
            other => other,
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
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
            assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{}\"", d.name()));
        }
        assert_eq!(DType::from_name("string"), None);
        assert_eq!(DType::Float16.read_as(), DType::Float32);
        assert_eq!(DType::Int64.read_as(), DType::Int64);
    }
}
