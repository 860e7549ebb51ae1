"""The SQL function against the DataFrame stage, in one run: `SELECT sparkdl_featurize(path,
'MobileNetV2') FROM paths` and `DeepImageFeaturizer(modelName='MobileNetV2').transform(paths)` on
the same JPEGs, alternated, each timed after a warm-up; the fastest of --rounds runs counts.

    source build/engine-env.sh && .venv/bin/python benches/sql_bench.py [--images 512] [--rounds 3]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pipeline_bench import count, image_folder  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json")
    args = p.parse_args()

    import sparkdl

    cores = os.cpu_count()
    _, _, files = image_folder("sparkdl-sqlbench-", args.images)
    spark = sparkdl.session(conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    paths = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(cores).cache()
    paths.count()
    paths.createOrReplaceTempView("paths")

    stage = sparkdl.DeepImageFeaturizer(inputCol="path", outputCol="f", modelName="MobileNetV2", batchSize=args.batch)
    runs = {
        "DeepImageFeaturizer.transform": lambda: count(stage.transform(paths), "f"),
        "SELECT sparkdl_featurize(...)": lambda: count(
            spark.sql("SELECT sparkdl_featurize(path, 'MobileNetV2') AS f FROM paths"), "f"
        ),
    }
    for fn in runs.values():
        fn()  # warm: the model's session, the JIT
    times = {k: [] for k in runs}
    for r in range(args.rounds):
        for name in list(runs) if r % 2 == 0 else list(reversed(list(runs))):
            start = time.perf_counter()
            n = runs[name]()
            times[name].append(n / (time.perf_counter() - start))
    print(
        f"\n{args.images} JPEGs ~500x400 -> MobileNetV2 features, {cores} cores, batch {args.batch}, "
        f"best of {args.rounds} alternated runs"
    )
    best = {k: max(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"{k:34} {best[k]:7.1f} images/s  (runs: {', '.join(f'{x:.1f}' for x in v)})")
    ratio = best["SELECT sparkdl_featurize(...)"] / best["DeepImageFeaturizer.transform"]
    print(f"SQL / DataFrame stage: {ratio:.3f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"images_per_s": times, "best": best, "ratio": ratio}, fh, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
