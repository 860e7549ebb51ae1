"""Nearest neighbours, side by side in one run: sparkdl's NearestNeighbors against numpy/BLAS brute
force (the limit), Spark 4.2's SQL way and MLlib's BucketedRandomProjectionLSH.

    source build/engine-env.sh
    .venv/bin/python benches/similarity_bench.py [--index 100000] [--queries 1000] [--dim 1280]
        [--k 10] [--sql-queries N] [--lsh-queries N]

Data: clustered non-negative vectors (like pooled CNN features: 1,000 centres, each row a centre
plus noise, ReLU), the queries perturbed index rows; written once to Parquet as array<float>, read
back and cached before anything is timed. Each way answers the top-k by cosine for every query:
  numpy    one process, the normalised index times the normalised queries in one matrix product
           (BLAS on every core), argpartition + sort: the limit
  sparkdl  NearestNeighbors(k).fit(index) then transform(queries), collected; fit (sort by id,
           blocks cached) and transform timed apart, the transform's second run (after one
           warm-up)
  sql      crossJoin + vector_cosine_similarity + row_number() over (partition by query order by
           score desc) <= k (Spark 4.2+), on --sql-queries of the queries (default: all), its
           time scaled to all of them when fewer
  lsh      BucketedRandomProjectionLSH on the normalised vectors (L2 between unit vectors orders
           as cosine), approxSimilarityJoin within the distance of the exact k-th neighbours'
           largest, top-k per query by distance; on --lsh-queries of the queries, scaled likewise;
           its recall against the exact answer
Recall: the fraction of the exact top-k ids found. Printed as lines and as JSON (the last line).
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np


def make_data(n_index, n_queries, dim, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((1000, dim)).astype(np.float32)
    index = centres[rng.integers(0, 1000, n_index)] + 0.7 * rng.standard_normal((n_index, dim)).astype(np.float32)
    np.maximum(index, 0, out=index)
    picks = rng.integers(0, n_index, n_queries)
    queries = index[picks] + 0.3 * rng.standard_normal((n_queries, dim)).astype(np.float32)
    np.maximum(queries, 0, out=queries)
    return index, queries


def numpy_topk(index, queries, k):
    start = time.perf_counter()
    x = index / np.linalg.norm(index, axis=1, keepdims=True)
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = q @ x.T
    part = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.take_along_axis(scores, part, 1).argsort(axis=1)[:, ::-1]
    top = np.take_along_axis(part, order, 1)
    return time.perf_counter() - start, top, scores


def write_parquet(path, vectors, id_name):
    import pyarrow as pa
    import pyarrow.parquet as pq

    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    lists = pa.ListArray.from_arrays(pa.array(np.arange(0, vectors.size + 1, vectors.shape[1], dtype=np.int32)), flat)
    pq.write_table(pa.table({id_name: pa.array(np.arange(len(vectors), dtype=np.int64)), "features": lists}), path)


def cached_frames(spark, index, queries, prefix):
    """`index` (ids "id") and `queries` (ids "qid") written to Parquet once, read back in 2
    partitions and cached, so nothing timed later reads or converts them."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    write_parquet(os.path.join(tmp, "index.parquet"), index, "id")
    write_parquet(os.path.join(tmp, "queries.parquet"), queries, "qid")
    index_df = spark.read.parquet(os.path.join(tmp, "index.parquet")).repartition(2).cache()
    query_df = spark.read.parquet(os.path.join(tmp, "queries.parquet")).repartition(2).cache()
    index_df.count(), query_df.count()
    return index_df, query_df


def recall(found, exact_top):
    hits = sum(len(set(f) & set(e)) for f, e in zip(found, exact_top))
    return hits / exact_top.size


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--sql-queries", type=int, default=0, help="queries for the SQL way (0: all, -1: skip)")
    ap.add_argument("--lsh-queries", type=int, default=0, help="queries for LSH (0: all, -1: skip)")
    ap.add_argument("--lsh-tables", type=int, default=4)
    args = ap.parse_args()
    k = args.k

    index, queries = make_data(args.index, args.queries, args.dim)
    t_numpy, exact_top, _ = numpy_topk(index, queries, k)
    print(f"numpy: {t_numpy:.3f} s ({2 * args.index * args.queries * args.dim / t_numpy / 1e9:.1f} GFLOP/s)")

    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    import sparkdl

    spark = sparkdl.session(
        master="local[2]",
        conf={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", "spark.driver.memory": "6g"},
    )
    index_df, query_df = cached_frames(spark, index, queries, "sparkdl-similarity-bench-")
    result = {"index": args.index, "queries": args.queries, "dim": args.dim, "k": k, "numpy_s": round(t_numpy, 3)}

    start = time.perf_counter()
    model = sparkdl.NearestNeighbors(k=k).fit(index_df)
    t_fit = time.perf_counter() - start
    # The first transform pays for the JIT and the native library's first calls; the second is timed.
    model.transform(query_df).write.format("noop").mode("overwrite").save()
    start = time.perf_counter()
    out = model.transform(query_df).select("qid", "neighbors.id").collect()
    t_nn = time.perf_counter() - start
    found = [None] * args.queries
    for r in out:
        found[r.qid] = r.id
    result.update(sparkdl_fit_s=round(t_fit, 3), sparkdl_transform_s=round(t_nn, 3))
    result["sparkdl_recall"] = recall(found, exact_top)
    result["sparkdl_of_numpy"] = round(t_numpy / t_nn, 3)
    print(
        f"sparkdl: fit {t_fit:.2f} s, transform {t_nn:.2f} s ({t_numpy / t_nn:.2f} of numpy), "
        f"recall {result['sparkdl_recall']:.4f}"
    )

    def subset(n):
        n = args.queries if n == 0 else n
        return n, query_df.where(F.col("qid") < n)

    if args.sql_queries >= 0:
        n, q = subset(args.sql_queries)
        joined = q.crossJoin(index_df.withColumnRenamed("features", "x")).select(
            "qid", "id", F.expr("vector_cosine_similarity(features, x)").alias("score")
        )
        w = Window.partitionBy("qid").orderBy(F.col("score").desc(), F.col("id"))
        start = time.perf_counter()
        rows = joined.withColumn("r", F.row_number().over(w)).where(f"r <= {k}").select("qid", "id", "r").collect()
        t_sql = (time.perf_counter() - start) * args.queries / n
        sql_found = {}
        for r in sorted(rows, key=lambda r: (r.qid, r.r)):
            sql_found.setdefault(r.qid, []).append(r.id)
        result.update(sql_s=round(t_sql, 2), sql_queries_run=n, sparkdl_over_sql=round(t_sql / t_nn, 1))
        result["sql_recall"] = recall([sql_found.get(i, []) for i in range(n)], exact_top[:n])
        print(f"sql: {t_sql:.1f} s for all queries (run on {n}); sparkdl {t_sql / t_nn:.1f}x faster")

    if args.lsh_queries >= 0:
        from pyspark.ml.feature import BucketedRandomProjectionLSH
        from pyspark.ml.functions import array_to_vector

        n, q = subset(args.lsh_queries)
        unit = F.expr("transform(features, v -> v / sqrt(aggregate(features, 0D, (a, y) -> a + y * y)))")
        ix = index_df.select("id", array_to_vector(unit).alias("v")).cache()
        qv = q.select("qid", array_to_vector(unit).alias("v")).cache()
        ix.count(), qv.count()
        x = index / np.linalg.norm(index, axis=1, keepdims=True)
        qq = queries[:n] / np.linalg.norm(queries[:n], axis=1, keepdims=True)
        kth = np.sqrt(np.maximum(0, 2 - 2 * np.einsum("ij,ij->i", qq, x[exact_top[:n, -1]])))
        radius = float(kth.max()) * 1.0001
        start = time.perf_counter()
        lsh = BucketedRandomProjectionLSH(
            inputCol="v", outputCol="h", bucketLength=radius, numHashTables=args.lsh_tables, seed=1
        ).fit(ix)
        pairs = lsh.approxSimilarityJoin(qv, ix, radius, distCol="d").select(
            F.col("datasetA.qid").alias("qid"), F.col("datasetB.id").alias("id"), "d"
        )
        w = Window.partitionBy("qid").orderBy(F.col("d"), F.col("id"))
        rows = pairs.withColumn("r", F.row_number().over(w)).where(f"r <= {k}").select("qid", "id", "r").collect()
        t_lsh = (time.perf_counter() - start) * args.queries / n
        lsh_found = {}
        for r in sorted(rows, key=lambda r: (r.qid, r.r)):
            lsh_found.setdefault(r.qid, []).append(r.id)
        result.update(lsh_s=round(t_lsh, 2), lsh_queries_run=n, lsh_radius=round(radius, 4))
        result["lsh_recall"] = recall([lsh_found.get(i, []) for i in range(n)], exact_top[:n])
        print(f"lsh: {t_lsh:.1f} s for all queries (run on {n}), recall {result['lsh_recall']:.4f}")

    spark.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
