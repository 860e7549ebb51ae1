use proptest::prelude::*;

use super::*;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [-1, 1).
    fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn vectors(&mut self, rows: usize, dim: usize) -> Vec<f32> {
        (0..rows * dim).map(|_| self.uniform()).collect()
    }
}

/// The best `k` by the plain definition, in f64 sums over every pair, ranked
/// by the f32 score (the one returned) and then the smaller position.
fn brute_force(
    queries: &[f32],
    index: &[f32],
    dim: usize,
    offset: u64,
    k: usize,
    metric: Metric,
) -> Vec<Vec<(u64, f32)>> {
    queries
        .chunks_exact(dim)
        .map(|q| {
            let mut all: Vec<(u64, f32)> = index
                .chunks_exact(dim)
                .enumerate()
                .map(|(r, x)| {
                    let score = match metric {
                        Metric::Cosine => {
                            let dot: f64 = q.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum();
                            let nq: f64 = q.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt();
                            let nx: f64 = x.iter().map(|&b| b as f64 * b as f64).sum::<f64>().sqrt();
                            if nq == 0.0 || nx == 0.0 {
                                0.0
                            } else {
                                (dot / (nq * nx)) as f32
                            }
                        }
                        Metric::L2 => {
                            let d2: f64 = q.iter().zip(x).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
                            -(d2.sqrt() as f32)
                        }
                    };
                    (offset + r as u64, score + 0.0)
                })
                .collect();
            all.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
            all.truncate(k);
            all
        })
        .collect()
}

fn assert_same(got: Vec<TopK>, want: &[Vec<(u64, f32)>], context: &str) {
    assert_eq!(got.len(), want.len(), "{context}: one list per query");
    for (qi, (got, want)) in got.into_iter().zip(want).enumerate() {
        let got = got.into_sorted();
        let got_ids: Vec<u64> = got.iter().map(|p| p.0).collect();
        let want_ids: Vec<u64> = want.iter().map(|p| p.0).collect();
        assert_eq!(got_ids, want_ids, "{context}: query {qi} ids\n got {got:?}\nwant {want:?}");
        for ((_, g), (_, w)) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-5, "{context}: query {qi} score {g} vs brute force {w}");
        }
    }
}

fn message(err: SparkdlError) -> String {
    match err {
        SparkdlError::InvalidArgument(m) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn metric_parses_its_names_and_explains_unknown_ones() {
    assert_eq!("cosine".parse::<Metric>().unwrap(), Metric::Cosine);
    assert_eq!("L2".parse::<Metric>().unwrap(), Metric::L2);
    assert_eq!(Metric::L2.to_string(), "l2");
    let err = message("dot".parse::<Metric>().unwrap_err());
    assert!(err.contains("\"dot\"") && err.contains("\"cosine\"") && err.contains("\"l2\""), "{err}");
}

#[test]
fn matches_brute_force_over_shapes_k_and_tiles() {
    let mut rng = Rng(0x5eed);
    let tile_choices =
        [Tiles { query_rows: 1, index_rows: 1 }, Tiles { query_rows: 3, index_rows: 7 }, Tiles::default()];
    for &(nq, ni, dim) in &[(1, 1, 1), (5, 23, 3), (17, 61, 9), (9, 130, 33)] {
        let queries = rng.vectors(nq, dim);
        let index = rng.vectors(ni, dim);
        for metric in [Metric::Cosine, Metric::L2] {
            for k in [1, 4, ni, ni + 5] {
                let want = brute_force(&queries, &index, dim, 1000, k, metric);
                for tiles in tile_choices {
                    let got = search(&queries, &index, dim, 1000, k, metric, tiles).unwrap();
                    assert_same(got, &want, &format!("{metric} {nq}x{ni}x{dim} k={k} {tiles:?}"));
                }
            }
        }
    }
}

#[test]
fn matches_brute_force_at_embedding_dimension() {
    // At dim 1280 the f32 products' error is largest; the exact re-score
    // must still give brute force's ids and scores.
    let mut rng = Rng(42);
    let (nq, ni, dim) = (6, 400, 1280);
    let queries = rng.vectors(nq, dim);
    // Shift the index towards the first query so many rows crowd the top.
    let mut index = rng.vectors(ni, dim);
    for row in index.chunks_exact_mut(dim) {
        for (v, q) in row.iter_mut().zip(&queries[..dim]) {
            *v = 0.2 * *v + q;
        }
    }
    for metric in [Metric::Cosine, Metric::L2] {
        let want = brute_force(&queries, &index, dim, 0, 10, metric);
        let got = search(&queries, &index, dim, 0, 10, metric, Tiles { query_rows: 4, index_rows: 150 }).unwrap();
        assert_same(got, &want, &format!("{metric} dim 1280"));
    }
}

#[test]
fn duplicate_vectors_rank_the_smaller_position_first() {
    let mut rng = Rng(7);
    let dim = 5;
    let base = rng.vectors(1, dim);
    let other = rng.vectors(1, dim);
    // Rows 0, 2 and 5 are copies of `base`; a query equal to `base` must get
    // them in position order whatever the tiling.
    let mut index = Vec::new();
    for r in 0..8 {
        index.extend(if [0, 2, 5].contains(&r) { &base } else { &other });
    }
    for metric in [Metric::Cosine, Metric::L2] {
        for tiles in [Tiles { query_rows: 1, index_rows: 3 }, Tiles::default()] {
            let got = search(&base, &index, dim, 10, 2, metric, tiles).unwrap();
            let ids: Vec<u64> = got.into_iter().next().unwrap().into_sorted().iter().map(|p| p.0).collect();
            assert_eq!(ids, vec![10, 12], "{metric} {tiles:?}");
        }
    }
}

#[test]
fn zero_vectors_score_zero_under_cosine_and_are_points_under_l2() {
    let dim = 3;
    let queries = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let index = [0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 3.0, 0.0];
    let got = search(&queries, &index, dim, 0, 3, Metric::Cosine, Tiles::default()).unwrap();
    let lists: Vec<Vec<(u64, f32)>> = got.into_iter().map(TopK::into_sorted).collect();
    assert_eq!(lists[0], vec![(0, 0.0), (1, 0.0), (2, 0.0)], "a zero query scores 0 everywhere");
    assert_eq!(lists[1], vec![(0, 0.0), (2, 0.0), (1, -1.0)], "a zero index row scores 0");
    let got = search(&queries, &index, dim, 0, 3, Metric::L2, Tiles::default()).unwrap();
    let lists: Vec<Vec<(u64, f32)>> = got.into_iter().map(TopK::into_sorted).collect();
    assert_eq!(lists[0], vec![(0, 0.0), (1, -2.0), (2, -3.0)]);
    assert_eq!(lists[1], vec![(0, -1.0), (1, -3.0), (2, -(10.0f32).sqrt())]);
}

#[test]
fn cosine_handles_rows_of_any_magnitude() {
    // Rows from 1e-30 to 1e30 in one block go through normalised copies;
    // rows from 1e-3 to 1e3 are multiplied as they are and scaled after.
    let mut rng = Rng(1234);
    let (nq, ni, dim) = (5, 60, 16);
    for magnitudes in [[1e-30f32, 1e-3, 1.0, 1e3, 1e30], [1e-3, 0.1, 1.0, 10.0, 1e3]] {
        let mut scaled = |rows: usize| -> Vec<f32> {
            let mut v = rng.vectors(rows, dim);
            for (r, row) in v.chunks_exact_mut(dim).enumerate() {
                row.iter_mut().for_each(|x| *x *= magnitudes[r % magnitudes.len()]);
            }
            v
        };
        let (queries, index) = (scaled(nq), scaled(ni));
        let want = brute_force(&queries, &index, dim, 0, 6, Metric::Cosine);
        let got = search(&queries, &index, dim, 0, 6, Metric::Cosine, Tiles { query_rows: 2, index_rows: 16 }).unwrap();
        assert_same(got, &want, &format!("cosine, magnitudes {magnitudes:?}"));
    }
}

#[test]
fn l2_handles_huge_and_tiny_magnitudes() {
    let mut rng = Rng(99);
    let (nq, ni, dim) = (4, 50, 16);
    for magnitude in [1e30f32, 1e-30] {
        let queries: Vec<f32> = rng.vectors(nq, dim).iter().map(|v| v * magnitude).collect();
        let index: Vec<f32> = rng.vectors(ni, dim).iter().map(|v| v * magnitude).collect();
        let want = brute_force(&queries, &index, dim, 0, 5, Metric::L2);
        let got = search(&queries, &index, dim, 0, 5, Metric::L2, Tiles { query_rows: 3, index_rows: 8 }).unwrap();
        for (g, w) in got.into_iter().zip(&want) {
            let g = g.into_sorted();
            assert_eq!(g.iter().map(|p| p.0).collect::<Vec<_>>(), w.iter().map(|p| p.0).collect::<Vec<_>>());
            for ((_, gs), (_, ws)) in g.iter().zip(w) {
                assert!(((gs - ws) / ws).abs() < 1e-6, "magnitude {magnitude}: {gs} vs {ws}");
            }
        }
    }
}

#[test]
fn split_index_blocks_merge_to_one_pass() {
    let mut rng = Rng(3);
    let (nq, ni, dim) = (11, 100, 12);
    let queries = rng.vectors(nq, dim);
    let mut index = rng.vectors(ni, dim);
    // A few duplicates across the block boundaries, so ties cross blocks.
    index.copy_within(5 * dim..6 * dim, 70 * dim);
    index.copy_within(5 * dim..6 * dim, 40 * dim);
    let tiles = Tiles { query_rows: 4, index_rows: 9 };
    for metric in [Metric::Cosine, Metric::L2] {
        for k in [1, 7, 150] {
            let whole: Vec<Vec<(u64, f32)>> = search(&queries, &index, dim, 500, k, metric, tiles)
                .unwrap()
                .into_iter()
                .map(TopK::into_sorted)
                .collect();
            let blocks: Vec<Vec<TopK>> = [(0, 37), (37, 64), (64, 100)]
                .iter()
                .map(|&(a, b)| {
                    search(&queries, &index[a * dim..b * dim], dim, 500 + a as u64, k, metric, tiles).unwrap()
                })
                .collect();
            for qi in 0..nq {
                let [a, b, c] = [&blocks[0][qi], &blocks[1][qi], &blocks[2][qi]];
                let left = a.clone().merge(b.clone()).merge(c.clone());
                let right = a.clone().merge(b.clone().merge(c.clone()));
                let shuffled = c.clone().merge(a.clone()).merge(b.clone());
                for merged in [left, right, shuffled] {
                    assert_eq!(merged.into_sorted(), whole[qi], "{metric} k={k} query {qi}");
                }
            }
        }
    }
}

fn topk_of(k: usize, pairs: &[(u64, f32)]) -> TopK {
    let mut list = TopK::new(k).unwrap();
    for &(position, score) in pairs {
        list.push(position, score);
    }
    list
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn merge_is_associative_and_matches_one_pass(
        scores in prop::collection::vec(-4i8..4, 0..40),
        cuts in (0usize..40, 0usize..40),
        k in 1usize..12,
    ) {
        // Few distinct scores, so ties are everywhere.
        let pairs: Vec<(u64, f32)> = scores.iter().enumerate().map(|(i, &s)| (i as u64 * 3, s as f32)).collect();
        let (lo, hi) = (cuts.0.min(cuts.1).min(pairs.len()), cuts.0.max(cuts.1).min(pairs.len()));
        let a = topk_of(k, &pairs[..lo]);
        let b = topk_of(k, &pairs[lo..hi]);
        let c = topk_of(k, &pairs[hi..]);
        let one_pass = topk_of(k, &pairs).into_sorted();
        prop_assert_eq!(a.clone().merge(b.clone()).merge(c.clone()).into_sorted(), one_pass.clone());
        prop_assert_eq!(a.clone().merge(b.clone().merge(c.clone())).into_sorted(), one_pass.clone());
        prop_assert_eq!(c.merge(b).merge(a).into_sorted(), one_pass);
    }
}

#[test]
fn topk_keeps_the_best_k_and_breaks_ties_by_position() {
    let list = topk_of(3, &[(9, 0.5), (4, 0.9), (7, 0.5), (2, 0.1), (5, 0.5), (8, -0.0)]);
    assert_eq!(list.k(), 3);
    assert_eq!(list.into_sorted(), vec![(4, 0.9), (5, 0.5), (7, 0.5)]);
    // 0.0 and -0.0 tie, so position decides, and -0.0 comes back as 0.0.
    let list = topk_of(1, &[(8, -0.0), (3, 0.0)]).into_sorted();
    assert_eq!(list, vec![(3, 0.0)]);
    assert!(topk_of(1, &[(8, -0.0)]).into_sorted()[0].1.is_sign_positive());
}

#[test]
fn topk_never_keeps_nan_and_merges_to_the_smaller_k() {
    let mut list = TopK::new(2).unwrap();
    assert!(!list.push(1, f32::NAN));
    assert!(list.is_empty());
    assert!(list.push(2, f32::NEG_INFINITY));
    assert_eq!(list.len(), 1);
    let wide = topk_of(5, &[(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]);
    let narrow = topk_of(2, &[(5, 2.5), (6, 0.0)]);
    let merged = wide.merge(narrow);
    assert_eq!(merged.k(), 2);
    assert_eq!(merged.into_sorted(), vec![(4, 4.0), (3, 3.0)]);
    assert!(message(TopK::new(0).unwrap_err()).contains("k must be at least 1"));
}

#[test]
fn bad_inputs_are_explained() {
    let ok = [1.0f32; 6];
    let t = Tiles::default();
    let err = |r: Result<Vec<TopK>>| message(r.unwrap_err());
    assert!(err(search(&ok, &ok, 0, 0, 1, Metric::Cosine, t)).contains("dim must be at least 1"));
    let m = err(search(&ok[..5], &ok, 3, 0, 1, Metric::Cosine, t));
    assert!(m.contains("queries hold 5 floats") && m.contains("dim = 3"), "{m}");
    let m = err(search(&ok, &ok[..4], 3, 0, 1, Metric::L2, t));
    assert!(m.contains("index hold 4 floats"), "{m}");
    assert!(err(search(&ok, &ok, 3, 0, 0, Metric::L2, t)).contains("k must be at least 1"));
    let m = err(search(&ok, &ok, 3, 0, 1, Metric::L2, Tiles { query_rows: 0, index_rows: 5 }));
    assert!(m.contains("tile sizes must be at least 1"), "{m}");
    let m = err(search(&ok, &ok, 3, u64::MAX - 1, 1, Metric::L2, t));
    assert!(m.contains("index_offset"), "{m}");

    let mut bad = ok;
    bad[4] = f32::NAN;
    let m = err(search(&bad, &ok, 3, 0, 1, Metric::Cosine, t));
    assert!(m.contains("query row 1") && m.contains("NaN at column 1"), "{m}");
    bad[4] = f32::INFINITY;
    let m = err(search(&ok, &bad, 3, 20, 1, Metric::L2, t));
    assert!(m.contains("index row 1 (position 21)") && m.contains("inf at column 1"), "{m}");
}

#[test]
fn empty_blocks_give_empty_results() {
    let rows = [1.0f32, 2.0];
    assert!(search(&[], &rows, 2, 0, 3, Metric::Cosine, Tiles::default()).unwrap().is_empty());
    let got = search(&rows, &[], 2, 0, 3, Metric::L2, Tiles::default()).unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0].is_empty() && got[0].k() == 3);
}

#[test]
fn search_above_finds_every_pair_over_the_threshold_exactly() {
    let mut rng = Rng(77);
    for &(nq, ni, dim) in &[(7, 90, 16), (12, 300, 1280)] {
        let queries = rng.vectors(nq, dim);
        // Index rows near the queries (several per query, at varying distances) among random ones.
        let mut index = rng.vectors(ni, dim);
        for (r, row) in index.chunks_exact_mut(dim).enumerate().filter(|(r, _)| r % 3 == 0) {
            let q = &queries[(r % nq) * dim..(r % nq + 1) * dim];
            let noise = 0.05 * (r % 7) as f32;
            for (v, &qv) in row.iter_mut().zip(q) {
                *v = qv + noise * *v;
            }
        }
        let all = brute_force(&queries, &index, dim, 100, ni, Metric::Cosine);
        for threshold in [0.999f32, 0.95, 0.8, 0.0] {
            for tiles in [Tiles { query_rows: 5, index_rows: 33 }, Tiles::default()] {
                let got = search_above(&queries, &index, dim, 100, threshold, tiles).unwrap();
                for (qi, (got, all)) in got.iter().zip(&all).enumerate() {
                    let mut want: Vec<(u64, f32)> = all.iter().copied().filter(|p| p.1 >= threshold).collect();
                    want.sort_by_key(|p| p.0);
                    let ids = |v: &[(u64, f32)]| v.iter().map(|p| p.0).collect::<Vec<_>>();
                    assert_eq!(ids(got), ids(&want), "dim {dim} threshold {threshold} query {qi} {tiles:?}");
                    for ((_, g), (_, w)) in got.iter().zip(&want) {
                        assert!((g - w).abs() <= 1e-5, "{g} vs {w}");
                    }
                }
            }
        }
    }
}

#[test]
fn search_above_explains_a_threshold_that_is_not_a_similarity() {
    let err = message(search_above(&[1.0], &[1.0], 1, 0, 1.5, Tiles::default()).unwrap_err());
    assert!(err.contains("threshold 1.5") && err.contains("[-1, 1]"), "{err}");
    assert!(search_above(&[], &[1.0, 2.0], 2, 0, 0.5, Tiles::default()).unwrap().is_empty());
}
