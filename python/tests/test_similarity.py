"""NearestNeighbors against numpy brute force on the same vectors (same ids for every query,
scores within 1e-5), nulls, vector types, errors, and save/load in a pipeline."""

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.linalg import Vectors

import sparkdl


def _brute_force(queries, index, ids, k, metric):
    q64, x64 = queries.astype(np.float64), index.astype(np.float64)
    if metric == "cosine":
        scores = (q64 @ x64.T) / np.outer(np.linalg.norm(q64, axis=1), np.linalg.norm(x64, axis=1))
    else:
        scores = -np.sqrt(((q64[:, None, :] - x64[None, :, :]) ** 2).sum(-1))
    scores = scores.astype(np.float32)
    out = []
    for row in scores:
        order = sorted(range(len(ids)), key=lambda j: (-row[j], ids[j]))[:k]
        out.append([(ids[j], float(row[j])) for j in order])
    return out


@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_matches_numpy_brute_force(spark, metric):
    rng = np.random.default_rng(3)
    dim, n_index, n_query, k = 48, 500, 30, 7
    index = rng.standard_normal((n_index, dim)).astype(np.float32)
    # Near-copies among the queries, so the top scores crowd together.
    queries = index[rng.choice(n_index, n_query)] + 0.05 * rng.standard_normal((n_query, dim)).astype(np.float32)
    ids = [int(i) for i in rng.permutation(10 * n_index)[:n_index]]
    index_df = spark.createDataFrame(
        [(ids[i], Vectors.dense(index[i].tolist())) for i in range(n_index)], ["id", "features"]
    ).repartition(3)
    query_df = spark.createDataFrame(
        [(q, queries[q].tolist()) for q in range(n_query)] + [(n_query, None)], "qid long, features array<float>"
    )
    model = sparkdl.NearestNeighbors(k=k, metric=metric, indexBlockRows=64, queryBlockRows=8).fit(index_df)
    assert model.dim == dim
    got = {r.qid: r.neighbors for r in model.transform(query_df).collect()}
    assert got[n_query] is None
    want = _brute_force(queries, index, ids, k, metric)
    for q in range(n_query):
        assert [n.id for n in got[q]] == [w[0] for w in want[q]], f"query {q}"
        np.testing.assert_allclose([n.score for n in got[q]], [w[1] for w in want[q]], atol=1e-5)


def test_wrong_length_and_bad_params_are_explained(spark, tmp_path):
    index_df = spark.createDataFrame([(1, [1.0, 0.0]), (2, [0.0, 1.0])], "id long, features array<double>")
    with pytest.raises(ValueError, match="metric must be 'cosine' or 'l2'"):
        sparkdl.NearestNeighbors(metric="dot")
    with pytest.raises(Exception, match="featuresCol: there is no column 'emb'"):
        sparkdl.NearestNeighbors(featuresCol="emb").fit(index_df)
    model = sparkdl.NearestNeighbors(k=1).fit(index_df)
    bad = spark.createDataFrame([(1, [1.0, 0.0, 0.0])], "qid long, features array<double>")
    with pytest.raises(Exception, match="a vector of 3 values where the index's vectors have 2"):
        model.transform(bad).collect()

    # Saved in a pipeline (the index copied), loaded back, same answers.
    fitted = Pipeline(stages=[sparkdl.NearestNeighbors(k=2)]).fit(index_df)
    path = str(tmp_path / "nn")
    fitted.write().save(path)
    loaded = PipelineModel.load(path)
    assert type(loaded.stages[0]).__name__ == "NearestNeighborsModel"
    q = spark.createDataFrame([(7, [0.9, 0.1])], "qid long, features array<double>")
    assert loaded.transform(q).head().neighbors == fitted.transform(q).head().neighbors
    assert [n.id for n in loaded.transform(q).head().neighbors] == [1, 2]


def test_find_duplicates_pairs_and_groups(spark):
    rng = np.random.default_rng(8)
    dim = 40
    originals = rng.standard_normal((80, dim)).astype(np.float32)
    copies = originals[:12] + 0.04 * rng.standard_normal((12, dim)).astype(np.float32)
    copies2 = originals[:4] + 0.04 * rng.standard_normal((4, dim)).astype(np.float32)
    vectors = np.concatenate([originals, copies, copies2])
    ids = list(range(100, 100 + len(vectors)))
    df = spark.createDataFrame(
        [(ids[i], vectors[i].tolist()) for i in range(len(ids))], "id long, features array<float>"
    )
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit.astype(np.float64) @ unit.T.astype(np.float64)
    want = {(ids[a], ids[b]) for a in range(len(ids)) for b in range(a + 1, len(ids)) if sims[a, b] >= 0.9}
    pairs = sparkdl.findDuplicates(df, threshold=0.9, blockRows=23).collect()
    assert {(r.id_a, r.id_b) for r in pairs} == want
    assert len(want) == 12 + 4 + 4  # copy-original, copy2-original, copy-copy2
    groups = {r.id: r.group for r in sparkdl.findDuplicates(df, threshold=0.9, groups=True).collect()}
    assert len(groups) == len(ids)
    for o in range(12):
        assert groups[ids[80 + o]] == ids[o]
    assert len(set(groups.values())) == 80
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        sparkdl.findDuplicates(df, threshold=2)


def test_ivf_probing_every_list_is_exact_and_few_probes_find_the_copies(spark, tmp_path):
    rng = np.random.default_rng(12)
    dim, n = 32, 600
    centres = rng.standard_normal((15, dim)).astype(np.float32)
    index = centres[rng.integers(0, 15, n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
    index[500:] = index[:100] + 0.03 * rng.standard_normal((100, dim)).astype(np.float32)  # 100 copies
    ids = list(range(n))
    df = spark.createDataFrame([(i, index[i].tolist()) for i in ids], "id long, features array<float>").repartition(2)

    queries = index[:20] + 0.2 * rng.standard_normal((20, dim)).astype(np.float32)
    query_df = spark.createDataFrame([(q, queries[q].tolist()) for q in range(20)], "qid long, features array<float>")
    want = _brute_force(queries, index, ids, 5, "cosine")
    every = sparkdl.NearestNeighbors(k=5, algorithm="ivf", numLists=6, nprobe=6, indexBlockRows=100).fit(df)
    got = {r.qid: r.neighbors for r in every.transform(query_df).collect()}
    for q in range(20):
        assert [x.id for x in got[q]] == [w[0] for w in want[q]], f"query {q}"
        np.testing.assert_allclose([x.score for x in got[q]], [w[1] for w in want[q]], atol=1e-5)
    path = str(tmp_path / "ivf")
    every.setNprobe(2).write().save(path)
    loaded = sparkdl.NearestNeighborsModel.load(path)
    assert loaded.getAlgorithm() == "ivf" and loaded.getNprobe() == 2
    assert [r.neighbors for r in loaded.transform(query_df).orderBy("qid").collect()] == [
        r.neighbors for r in every.transform(query_df).orderBy("qid").collect()
    ]

    unit = index / np.linalg.norm(index, axis=1, keepdims=True)
    sims = unit.astype(np.float64) @ unit.T.astype(np.float64)
    exact = {(a, b) for a in range(n) for b in range(a + 1, n) if sims[a, b] >= 0.95}
    assert len(exact) >= 100
    for nprobe, at_least in ((6, 1.0), (1, 0.9)):
        pairs = sparkdl.findDuplicates(df, threshold=0.95, algorithm="ivf", numLists=6, nprobe=nprobe, blockRows=100)
        found = {(r.id_a, r.id_b) for r in pairs.collect()}
        assert found <= exact, "every pair reported is above the threshold"
        assert len(found) / len(exact) >= at_least, f"nprobe={nprobe}: {len(found)} of {len(exact)}"
    with pytest.raises(ValueError, match="algorithm must be 'exact' or 'ivf'"):
        sparkdl.findDuplicates(df, algorithm="hnsw")
