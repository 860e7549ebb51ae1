//! Tensor names (`op` or `op:index`) and "did you mean" suggestions.

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

/// Up to `limit` of `candidates` that look like `wanted`: close in edit
/// distance, or containing it (or contained in it), closest first.
pub fn close_names<'a, I>(wanted: &str, candidates: I, limit: usize) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let w = wanted.to_lowercase();
    let max_dist = (w.chars().count() / 3).max(2);
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lc = c.to_lowercase();
            let d = edit_distance(&w, &lc);
            let related = d <= max_dist || (w.len() >= 3 && (lc.contains(&w) || w.contains(&lc) && lc.len() >= 3));
            related.then(|| (d, c.to_string()))
        })
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored.into_iter().take(limit).map(|(_, c)| c).collect()
}

/// " Did you mean: a, b?" or "" when nothing is close.
pub fn did_you_mean<'a, I>(wanted: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    let close = close_names(wanted, candidates, 5);
    if close.is_empty() {
        String::new()
    } else {
        format!(" Did you mean: {}?", close.join(", "))
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
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

    #[test]
    fn suggests_close_names_first() {
        let ops = ["input", "inputs_1", "dense/MatMul", "output", "dense/BiasAdd"];
        assert_eq!(close_names("inptu", ops, 5), vec!["input"]);
        assert_eq!(close_names("input", ops, 3), vec!["input", "inputs_1"]);
        assert_eq!(close_names("matmul", ops, 5), vec!["dense/MatMul"]);
        assert!(close_names("zzzzzzzz", ops, 5).is_empty());
        assert_eq!(did_you_mean("outptu", ops), " Did you mean: output?");
    }
}
