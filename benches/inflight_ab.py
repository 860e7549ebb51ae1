"""Batches in flight, A/B in one warm JVM: `spark.sparkdl.batch.inFlight` 1 (one batch at a time on
the task's thread) against 2 (the default), switched between alternated runs of the benchmark CNN
(`TFImageTransformer` over JPEG paths), on 2 partitions and on 1.

    source build/engine-env.sh && .venv/bin/python benches/inflight_ab.py [--sets small large] [--rounds 3]

The image sets are peer_bench.py's (512 JPEGs of ~500x400, 48 of 4032x3024), made on first use in
--data. Prints, per set and partition count, the best and the median images/s of each setting.
"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pipeline_bench import MEAN, STD, cnn_graph_def, count  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sets", nargs="*", default=["small", "large"], choices=["small", "large"])
    p.add_argument("--partitions", nargs="*", type=int, default=[2, 1])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--data", default=os.path.join(os.path.dirname(HERE), "target", "peer-bench"))
    args = p.parse_args()

    from peer_bench import image_set

    import sparkdl

    spark = sparkdl.session(master="local[2]", conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    graph = cnn_graph_def()
    key = "spark.sparkdl.batch.inFlight"
    for kind in args.sets:
        _, files = image_set(kind, 512 if kind == "small" else 48, args.data)
        for parts in args.partitions:
            paths = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(parts).cache()
            paths.count()
            t = sparkdl.TFImageTransformer(
                inputCol="path",
                outputCol="f",
                graph=graph,
                inputTensor="input:0",
                outputTensor="features:0",
                scale=1 / 255.0,
                mean=MEAN.tolist(),
                std=STD.tolist(),
                outputMode="array",
                imageSize=[224, 224],
                batchSize=args.batch,
            )
            runs = {1: [], 2: []}
            for v in (1, 2):  # warm-up
                spark.conf.set(key, str(v))
                count(t.transform(paths), "f")
            for _ in range(args.rounds):
                for v in (1, 2):
                    spark.conf.set(key, str(v))
                    start = time.perf_counter()
                    n = count(t.transform(paths), "f")
                    runs[v].append(n / (time.perf_counter() - start))
            print(
                f"{kind:5} {parts} partition(s): "
                + " | ".join(
                    f"inFlight={v} best {max(r):.1f} median {statistics.median(r):.1f}" for v, r in runs.items()
                ),
                flush=True,
            )
            paths.unpersist()
    spark.conf.unset(key)
    spark.stop()


if __name__ == "__main__":
    main()
