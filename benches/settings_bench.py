"""TensorFlow session settings side by side: XLA JIT, thread spinning, the intra-op and inter-op
pool sizes, and batches in flight, each against the defaults, on the same images in one run.

    source build/engine-env.sh && .venv/bin/python benches/settings_bench.py [--images 512] [--rounds 2]

TensorFlow sizes its thread pools once per process, so every setting runs in a fresh Spark
application (local[2]): a child process that warms up (untimed passes), then times --repeat passes
of the benchmark CNN (`TFImageTransformer`) and MobileNetV2 (`DeepImageFeaturizer`) over JPEG paths
of ~500x400 and keeps the fastest. The settings are run in turn, --rounds times, so slow phases of
a shared machine hit them alike; the table gives each setting's best round and its ratio to the
defaults' best round.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SETTINGS = [
    ("defaults", {}),
    ("xlaJit=true", {"spark.sparkdl.tensorflow.xlaJit": "true"}),
    ("threadSpinning=false", {"spark.sparkdl.tensorflow.threadSpinning": "false"}),
    ("intraOpThreads=1", {"spark.sparkdl.tensorflow.intraOpThreads": "1"}),
    ("interOpThreads=1", {"spark.sparkdl.tensorflow.interOpThreads": "1"}),
    ("batch.inFlight=1", {"spark.sparkdl.batch.inFlight": "1"}),
]


def child(folder, conf, warmup, repeat, batch):
    """One Spark application under `conf`: images/s of both paths."""
    from pipeline_bench import MEAN, STD, cnn_graph_def, count

    import sparkdl

    spark = sparkdl.session(master="local[2]", conf=dict(conf, **{"spark.ui.enabled": "false"}))
    spark.sparkContext.setLogLevel("ERROR")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    paths = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(2).cache()
    paths.count()
    stages = {
        "cnn": sparkdl.TFImageTransformer(
            inputCol="path",
            outputCol="f",
            graph=cnn_graph_def(),
            inputTensor="input:0",
            outputTensor="features:0",
            scale=1 / 255.0,
            mean=MEAN.tolist(),
            std=STD.tolist(),
            outputMode="array",
            imageSize=[224, 224],
            batchSize=batch,
        ),
        "mobilenet_v2": sparkdl.DeepImageFeaturizer(
            inputCol="path", outputCol="f", modelName="MobileNetV2", batchSize=batch
        ),
    }
    out = {}
    for name, stage in stages.items():
        for _ in range(warmup):
            count(stage.transform(paths), "f")
        best = None
        for _ in range(repeat):
            start = time.perf_counter()
            n = count(stage.transform(paths), "f")
            s = time.perf_counter() - start
            best = s if best is None else min(best, s)
        out[name] = n / best
    spark.stop()
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--data", default=os.path.join(os.path.dirname(HERE), "target", "settings-bench"))
    p.add_argument("--json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    folder = os.path.join(os.path.abspath(args.data), "images")
    if args.child is not None:
        r = child(folder, json.loads(args.child), args.warmup, args.repeat, args.batch)
        print("RESULT " + json.dumps(r), flush=True)
        return
    from pipeline_bench import make_images

    os.makedirs(folder, exist_ok=True)
    if len(os.listdir(folder)) != args.images:
        for f in os.listdir(folder):
            os.remove(os.path.join(folder, f))
        make_images(folder, args.images)
    results = {name: [] for name, _ in SETTINGS}
    for r in range(args.rounds):
        for name, conf in SETTINGS:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                json.dumps(conf),
                "--data",
                args.data,
                "--warmup",
                str(args.warmup),
                "--repeat",
                str(args.repeat),
                "--batch",
                str(args.batch),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            got = json.loads(out.split("RESULT ")[-1])
            results[name].append(got)
            print(f"round {r + 1} {name:22} " + "  ".join(f"{k} {v:6.1f}" for k, v in got.items()), flush=True)
    best = {name: {g: max(run[g] for run in runs) for g in runs[0]} for name, runs in results.items()}
    base = best["defaults"]
    print(f"\n{'setting':22} {'CNN images/s':>13} {'vs defaults':>11} {'MobileNetV2':>12} {'vs defaults':>11}")
    for name, b in best.items():
        print(
            f"{name:22} {b['cnn']:13.1f} {b['cnn'] / base['cnn']:11.2f} {b['mobilenet_v2']:12.1f} "
            f"{b['mobilenet_v2'] / base['mobilenet_v2']:11.2f}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"runs": results, "best": best}, fh, indent=2)


if __name__ == "__main__":
    main()
