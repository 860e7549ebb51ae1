"""The engine against an earlier build of itself, in one run: sparkdl's image stages with this
checkout's jar (A) and with another jar (B, e.g. the last release, or the commit before a change),
alternating A and B in fresh processes so both see the same machine state.

    source build/engine-env.sh
    .venv/bin/python benches/engine_ab.py --baseline-jar /path/to/old/sparkdl-spark4.2_2.13.jar [--rounds 2]

Each round and jar runs, in its own Spark session (local[*]), on the same 512 JPEGs of ~500x400:
TFImageTransformer (PySpark, paths in) with the benchmark CNN and with MobileNetV2, and
DeepImageFeaturizer (MobileNetV2). Each path is timed twice after a warm-up run; the fastest
counts. Printed: images/s per round and jar, and the best of A over the best of B.
To get a baseline jar: `git worktree add /tmp/base <commit> && make -C /tmp/base jar`.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pipeline_bench import MEAN, STD, cnn_graph_def, count, image_folder, timed  # noqa: E402


def worker(args):
    """One jar: images/s of each sparkdl path, as JSON on stdout."""
    from pyspark.sql import SparkSession

    import sparkdl
    from sparkdl._jvm import tensorflow_lib_dir

    spark = (
        SparkSession.builder.master("local[*]")
        .appName("engine-ab")
        .config("spark.jars", args.jar)
        .config("spark.ui.enabled", "false")
        .config("spark.sparkdl.tensorflow.libDir", tensorflow_lib_dir())
        .config("spark.sparkdl.models.cacheDir", args.cache)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    cores = os.cpu_count()
    files = sorted(os.path.join(args.folder, f) for f in os.listdir(args.folder))
    paths = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(cores).cache()
    paths.count()
    out = {}
    for name, graph in (("cnn", args.cnn), ("mobilenet_v2", args.mobilenet)):
        t = sparkdl.TFImageTransformer(
            inputCol="path",
            outputCol="f",
            graph=open(graph, "rb").read(),
            inputTensor="input:0",
            outputTensor="features:0",
            scale=1 / 255.0,
            mean=MEAN.tolist(),
            std=STD.tolist(),
            outputMode="array",
            imageSize=[224, 224],
            batchSize=args.batch,
        )
        count(t.transform(paths), "f")
        n, s = timed(lambda: count(t.transform(paths), "f"))
        out[f"TFImageTransformer {name}"] = n / s
    f = sparkdl.DeepImageFeaturizer(inputCol="path", outputCol="f", modelName="MobileNetV2", batchSize=args.batch)
    count(f.transform(paths), "f")
    n, s = timed(lambda: count(f.transform(paths), "f"))
    out["DeepImageFeaturizer mobilenet_v2"] = n / s
    spark.stop()
    print("RESULT " + json.dumps(out))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--baseline-jar", help="the jar to compare with (B)")
    p.add_argument("--jar", help=argparse.SUPPRESS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--cnn", help=argparse.SUPPRESS)
    p.add_argument("--mobilenet", help=argparse.SUPPRESS)
    p.add_argument("--cache", help=argparse.SUPPRESS)
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    if not args.baseline_jar or not os.path.isfile(args.baseline_jar):
        p.error("--baseline-jar: give the path of the jar to compare with")

    from sparkdl._jvm import jar_path
    from sparkdl.models import exportModel

    tmp, folder, _ = image_folder("sparkdl-engine-ab-", args.images)
    cnn = os.path.join(tmp, "cnn.pb")
    with open(cnn, "wb") as fh:
        fh.write(cnn_graph_def())
    cache = os.path.join(tmp, "models")
    mobilenet = exportModel("MobileNetV2", out=os.path.join(tmp, "mobilenet_v2.pb"))
    jars = {"A (this checkout)": jar_path(), "B (baseline)": os.path.abspath(args.baseline_jar)}
    runs = {k: [] for k in jars}
    for r in range(args.rounds):
        for label, jar in jars.items() if r % 2 == 0 else reversed(list(jars.items())):
            start = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    "--jar",
                    jar,
                    "--folder",
                    folder,
                    "--cnn",
                    cnn,
                    "--mobilenet",
                    mobilenet,
                    "--cache",
                    cache,
                    "--batch",
                    str(args.batch),
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                sys.exit(f"{label} failed:\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.split("RESULT ")[-1])
            runs[label].append(result)
            print(
                f"round {r + 1} {label}: "
                + ", ".join(f"{k} {v:.1f}" for k, v in result.items())
                + f" images/s ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    a, b = runs["A (this checkout)"], runs["B (baseline)"]
    print(f"\n{args.images} JPEGs ~500x400, batch {args.batch}, {os.cpu_count()} cores; best of {args.rounds} rounds")
    print(f"{'path':36} {'A images/s':>11} {'B images/s':>11} {'A/B':>6}")
    summary = {}
    for key in a[0]:
        best_a, best_b = max(x[key] for x in a), max(x[key] for x in b)
        summary[key] = {"a": best_a, "b": best_b, "ratio": best_a / best_b}
        print(f"{key:36} {best_a:11.1f} {best_b:11.1f} {best_a / best_b:6.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"runs": runs, "summary": summary, "baseline_jar": jars["B (baseline)"]}, fh, indent=2)


if __name__ == "__main__":
    main()
