"""Distributed tuning, measured in one run:

1. Featurization passes (local mode): a 3-fold x 4-map grid over
   Pipeline([DeepImageFeaturizer(MobileNetV2), LogisticRegression]) (2 image sizes x 2 regParams)
   with Spark's CrossValidator and with sparkdl.tuning.CrossValidator: images through the network
   (counted by the engine) divided by the number of images, and the wall time.
2. Parallel trials (a standalone cluster of two 1-core workers on 127.0.0.1): a 4-map grid of
   KerasImageFileEstimator fitted with fitMultiple (one task per map) against the same 4 maps
   fitted one after another.

    source build/engine-env.sh && .venv/bin/python benches/tuning_bench.py [--fraction 0.1] [--json out.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PASSES = """
import json, sys, time
import sparkdl, sparkdl.tuning
from sparkdl.datasets import elpv
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import StringIndexer
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
spark = sparkdl.session(conf={"spark.ui.enabled": "false"})
data = StringIndexer(inputCol="label", outputCol="y").fit(elpv.labelled_paths(spark)).transform(
    elpv.labelled_paths(spark, float(sys.argv[1]), seed=42)).repartition(4).cache()
n = data.count()
f = sparkdl.DeepImageFeaturizer(inputCol="path", outputCol="features", modelName="MobileNetV2")
lr = LogisticRegression(labelCol="y", maxIter=50)
grid = ParamGridBuilder().addGrid(f.imageSize, [[160, 160], [224, 224]]).addGrid(lr.regParam, [0.01, 0.05]).build()
ev = MulticlassClassificationEvaluator(labelCol="y", metricName="accuracy")
jvm = spark.sparkContext._jvm.org.sparkdl.arrow.NativeBatches
out = {"images": n}
for name, cls in (("spark", CrossValidator), ("sparkdl", sparkdl.tuning.CrossValidator)):
    rows, start = jvm.rowsProcessed(), time.perf_counter()
    m = cls(estimator=Pipeline(stages=[f, lr]), estimatorParamMaps=grid, evaluator=ev, numFolds=3, seed=7).fit(data)
    out[name] = {"seconds": time.perf_counter() - start, "passes": (jvm.rowsProcessed() - rows) / n,
                 "avgMetrics": list(m.avgMetrics)}
print("RESULT " + json.dumps(out))
"""

TRIALS = """
import json, os, sys, time
import numpy as np
import sparkdl
from sparkdl.estimators import KerasImageFileEstimator
from pyspark.sql import functions as F
sys.path.insert(0, sys.argv[3])
from cluster import CLUSTER_APP_CONF
from tuning_job import pictures, small_model
from PIL import Image

def load_image(uri):  # defined here (in __main__): Spark ships it to the workers by value
    return np.asarray(Image.open(uri).convert("RGB"), np.float32) / 255.0

spark = sparkdl.session(master=sys.argv[1], conf=dict(CLUSTER_APP_CONF, **{"spark.ui.enabled": "false"}))
scratch = sys.argv[2]
os.makedirs(os.path.join(scratch, "images"), exist_ok=True)
rows = pictures(os.path.join(scratch, "images"))
df = spark.createDataFrame([(p, [1.0 - y, float(y)]) for p, y in rows], ["uri", "one_hot"])
small_model(os.path.join(scratch, "m.keras"))
est = KerasImageFileEstimator(inputCol="uri", outputCol="p", labelCol="one_hot", imageLoader=load_image,
                              modelFile=os.path.join(scratch, "m.keras"), kerasLoss="categorical_crossentropy")
grid = [{est.kerasFitParams: {"epochs": 150, "batch_size": b, "verbose": 0}} for b in (2, 4, 8, 16)]
est.copy(grid[0]).fit(df)  # warm: Python workers, TensorFlow in them
start = time.perf_counter()
parallel = list(est.fitMultiple(df, grid))
t_par = time.perf_counter() - start
start = time.perf_counter()
sequential = [est.copy(m).fit(df) for m in grid]
t_seq = time.perf_counter() - start
print("RESULT " + json.dumps({"maps": len(grid), "parallel_s": t_par, "sequential_s": t_seq,
                              "ratio": t_seq / t_par}))
"""


def run(code, *args, timeout=7200):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tempfile.mkdtemp(prefix="sparkdl-tuning-bench-"),
    )
    if proc.returncode != 0:
        sys.exit(proc.stderr[-5000:])
    return json.loads(proc.stdout.split("RESULT ")[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fraction", type=float, default=0.1, help="of elpv's 2,624 images, for the passes")
    p.add_argument("--json")
    args = p.parse_args()
    results = {}

    r = run(PASSES, str(args.fraction))
    results["passes"] = r
    print(f"3 folds x 4 maps (2 image sizes x 2 regParams), {r['images']} elpv images, local[*]:")
    for name in ("spark", "sparkdl"):
        x = r[name]
        print(f"  {name + ' CrossValidator':26} {x['passes']:5.1f} featurization passes  {x['seconds']:7.1f} s")
    print(
        f"  same avgMetrics: {all(abs(a - b) < 1e-9 for a, b in zip(r['spark']['avgMetrics'], r['sparkdl']['avgMetrics']))}"
    )

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from cluster import StandaloneCluster

    cluster = StandaloneCluster(tempfile.mkdtemp(prefix="sparkdl-bench-cluster-")).start()
    try:
        r = run(TRIALS, cluster.url, tempfile.mkdtemp(prefix="sparkdl-bench-trials-"), os.path.join(ROOT, "tests"))
    finally:
        cluster.stop()
    results["trials"] = r
    print(
        f"KerasImageFileEstimator, {r['maps']} maps on a standalone cluster of two 1-core workers: "
        f"fitMultiple {r['parallel_s']:.1f} s, one after another {r['sequential_s']:.1f} s, "
        f"ratio {r['ratio']:.2f}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
