"""The inverted-file (IVF) index against exact search, side by side in one run: all-pairs
near-duplicates (``findDuplicates``) and top-k search (``NearestNeighbors``), their speed and their
recall against the exact answer.

    source build/engine-env.sh
    .venv/bin/python benches/ivf_bench.py [--index 100000] [--dim 1280] [--copies 2000]
        [--queries 1000] [--k 10] [--threshold 0.95] [--nprobe 1,2,4,8] [--knn-nprobe 4,8,16,32]
        [--lists 0] [--skip-exact-pairs]

Data: clustered non-negative vectors as benches/similarity_bench.py makes them (1,000 centres,
each row a centre plus noise, ReLU, like pooled CNN features), among which --copies rows are
near-duplicates of other rows (the original plus noise, cosine about 0.98); the queries are
perturbed index rows. Written once to Parquet, read back and cached before anything is timed.

  pairs   findDuplicates(threshold) exact (every pair of the n rows: n^2/2 products), then with
          algorithm="ivf" for each --nprobe; recall: the fraction of the exact pairs found, and
          the precision (always 1: every pair reported is scored exactly)
  knn     NearestNeighbors(k) exact, then algorithm="ivf" for each --knn-nprobe (the lists are
          fitted once, at the first ivf transform, and timed apart); recall@k against the exact
          top-k (numpy brute force in one process, also timed)
Printed as lines and as JSON (the last line).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from similarity_bench import cached_frames, make_data, numpy_topk, recall  # noqa: E402


def with_copies(index, copies, rng):
    """`index` with `copies` of its rows replaced by near-duplicates of other rows: (data, pairs)."""
    n = len(index)
    originals = rng.choice(n, copies, replace=False)
    slots = rng.choice(np.setdiff1d(np.arange(n), originals), copies, replace=False)
    data = index.copy()
    data[slots] = index[originals] + 0.1 * rng.standard_normal((copies, index.shape[1])).astype(np.float32)
    np.maximum(data, 0, out=data)
    return data, {(min(a, b), max(a, b)) for a, b in zip(originals.tolist(), slots.tolist())}


def timed(f):
    start = time.perf_counter()
    out = f()
    return time.perf_counter() - start, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--copies", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threshold", type=float, default=0.95)
    ap.add_argument("--lists", type=int, default=0, help="numLists (0: about the square root of the rows)")
    ap.add_argument("--nprobe", default="1,2,4,8", help="nprobe values for the all-pairs runs")
    ap.add_argument("--knn-nprobe", default="4,8,16,32", help="nprobe values for the top-k runs (empty: skip)")
    ap.add_argument("--skip-exact-pairs", action="store_true", help="no exact all-pairs run (recall vs planted)")
    args = ap.parse_args()
    rng = np.random.default_rng(7)

    index, queries = make_data(args.index, args.queries, args.dim)
    index, planted = with_copies(index, args.copies, rng)

    from pyspark.sql import functions as F

    import sparkdl
    from sparkdl.similarity import findDuplicates

    spark = sparkdl.session(
        master="local[2]",
        conf={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "8g"},
    )
    index_df, query_df = cached_frames(spark, index, queries, "sparkdl-ivf-bench-")
    result = {"index": args.index, "dim": args.dim, "copies": args.copies, "threshold": args.threshold}

    def pairs(**kw):
        rows = findDuplicates(index_df, threshold=args.threshold, **kw).collect()
        return {(r.id_a, r.id_b) for r in rows}

    # A warm-up on a slice, both ways: the JIT, MLlib's KMeans and the native library's first calls
    # are not timed below.
    findDuplicates(index_df.where(F.col("id") < 2000), threshold=args.threshold).count()
    findDuplicates(index_df.where(F.col("id") < 2000), threshold=args.threshold, algorithm="ivf").count()

    if not args.skip_exact_pairs:
        t_exact, exact = timed(lambda: pairs())
        result.update(pairs_exact_s=round(t_exact, 2), pairs_exact=len(exact))
        print(
            f"pairs exact: {t_exact:.1f} s, {len(exact)} pairs >= {args.threshold} "
            f"({len(exact & planted)} of {len(planted)} planted)"
        )
    else:
        t_exact, exact = None, planted
    for nprobe in [int(p) for p in args.nprobe.split(",") if p]:
        t, got = timed(lambda: pairs(algorithm="ivf", nprobe=nprobe, numLists=args.lists))
        r = len(got & exact) / max(1, len(exact))
        entry = {"s": round(t, 2), "recall": round(r, 4), "pairs": len(got), "false": len(got - exact)}
        if t_exact:
            entry["speedup"] = round(t_exact / t, 2)
        result[f"pairs_ivf_nprobe{nprobe}"] = entry
        print(
            f"pairs ivf nprobe={nprobe}: {t:.1f} s"
            + (f" ({t_exact / t:.1f}x faster)" if t_exact else "")
            + f", recall {r:.4f}, {entry['false']} pairs not in the exact answer"
        )

    knn = [int(p) for p in args.knn_nprobe.split(",") if p]
    if knn:
        k = args.k
        t_numpy, exact_top, _ = numpy_topk(index, queries, k)
        model = sparkdl.NearestNeighbors(k=k).fit(index_df)
        model.transform(query_df).write.format("noop").mode("overwrite").save()

        def top(m):
            found = [None] * args.queries
            for r in m.transform(query_df).select("qid", "neighbors.id").collect():
                found[r.qid] = r.id
            return found

        t_nn, found = timed(lambda: top(model))
        result.update(
            knn_numpy_s=round(t_numpy, 3), knn_exact_s=round(t_nn, 2), knn_exact_recall=recall(found, exact_top)
        )
        print(f"knn exact: {t_nn:.2f} s, recall {result['knn_exact_recall']:.4f} (numpy {t_numpy:.2f} s)")
        ivf = sparkdl.NearestNeighbors(k=k, algorithm="ivf", numLists=args.lists, nprobe=knn[0]).fit(index_df)
        t_lists, _ = timed(lambda: ivf.transform(query_df).write.format("noop").mode("overwrite").save())
        result["knn_ivf_lists_s"] = round(t_lists, 2)
        print(f"knn ivf: KMeans lists and the first search {t_lists:.1f} s")
        for nprobe in knn:
            ivf.setNprobe(nprobe)
            t, found = timed(lambda: top(ivf))
            r = recall(found, exact_top)
            result[f"knn_ivf_nprobe{nprobe}"] = {"s": round(t, 2), "recall": round(r, 4), "speedup": round(t_nn / t, 2)}
            print(f"knn ivf nprobe={nprobe}: {t:.2f} s ({t_nn / t:.1f}x faster), recall@{k} {r:.4f}")

    spark.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
