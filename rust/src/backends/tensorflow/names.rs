//! TensorFlow's tensor names (`op` or `op:index`).

use crate::errors::{Result, SparkdlError};

/// A tensor: the `index`th output of operation `op`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorName {
    pub op: String,
    pub index: i32,
}

impl TensorName {
    /// Parses `op` (output 0) or `op:index`.
    pub fn parse(name: &str) -> Result<TensorName> {
        let bad = |why: &str| {
            SparkdlError::InvalidArgument(format!(
                "'{name}' is not a tensor name: {why} (write 'op_name' or 'op_name:output_index', e.g. 'input:0')"
            ))
        };
        if name.is_empty() {
            return Err(bad("it is empty"));
        }
        if name.starts_with('^') {
            return Err(bad("'^' marks a control input, not a tensor"));
        }
        match name.rsplit_once(':') {
            None => Ok(TensorName { op: name.to_string(), index: 0 }),
            Some((op, idx)) => {
                if op.is_empty() || op.contains(':') {
                    return Err(bad("the operation name is empty or has a ':'"));
                }
                let index = idx
                    .parse::<i32>()
                    .ok()
                    .filter(|i| *i >= 0)
                    .ok_or_else(|| bad("the output index is not a number"))?;
                Ok(TensorName { op: op.to_string(), index })
            }
        }
    }
}

impl std::fmt::Display for TensorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.op, self.index)
    }
}

/// The operation a GraphDef input (`op`, `op:1`, `^op`) refers to.
pub fn input_op(input: &str) -> &str {
    let s = input.strip_prefix('^').unwrap_or(input);
    match s.rsplit_once(':') {
        Some((op, idx)) if idx.bytes().all(|b| b.is_ascii_digit()) => op,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tensor_names() {
        assert_eq!(TensorName::parse("x").unwrap(), TensorName { op: "x".into(), index: 0 });
        assert_eq!(TensorName::parse("a/b:2").unwrap().to_string(), "a/b:2");
        for bad in ["", "^x", "x:", "x:y", ":0", "a:b:0", "x:-1"] {
            let err = TensorName::parse(bad).unwrap_err().to_string();
            assert!(err.contains("not a tensor name"), "{bad}: {err}");
        }
    }

    #[test]
    fn graph_def_inputs_name_their_op() {
        assert_eq!(input_op("^init"), "init");
        assert_eq!(input_op("dense/MatMul:1"), "dense/MatMul");
        assert_eq!(input_op("x"), "x");
    }
}
