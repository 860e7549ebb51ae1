//! "Did you mean" suggestions for names a user typed (tensors, inputs, outputs).

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
    fn suggests_close_names_first() {
        let ops = ["input", "inputs_1", "dense/MatMul", "output", "dense/BiasAdd"];
        assert_eq!(close_names("inptu", ops, 5), vec!["input"]);
        assert_eq!(close_names("input", ops, 3), vec!["input", "inputs_1"]);
        assert_eq!(close_names("matmul", ops, 5), vec!["dense/MatMul"]);
        assert!(close_names("zzzzzzzz", ops, 5).is_empty());
        assert_eq!(did_you_mean("outptu", ops), " Did you mean: output?");
    }
}
