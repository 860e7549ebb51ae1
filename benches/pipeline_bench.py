"""End-to-end image inference throughput, every path in one run, on the same images and graph.

    source build/engine-env.sh && .venv/bin/python benches/pipeline_bench.py [--images 512] [--batch 64]

Two graphs, each compared on every path (images/s, JPEG files on local disk -> features):
  cnn           a plain CNN of about 0.6 GFLOP per image, random weights (the model class of the
                project's performance baseline: 0.5 GFLOP, one TF graph)
  mobilenet_v2  the named model (torchvision's ImageNet weights), also through DeepImageFeaturizer

Paths:
  sparkdl TFImageTransformer (PySpark)   native decode + resize + TF C API in the executor JVM
  sparkdl TFImageTransformer (Scala API) the same Scala stage called directly (through py4j), no Python wrapper
  sparkdl DeepImageFeaturizer            the named-model stage (same graph)
  predict_batch_udf                      binaryFile -> decode pandas UDF -> pyspark.ml.functions.predict_batch_udf
  row-at-a-time Python UDF               decode + TF per row, graph cached per worker
  bare Python loop                       one process, no Spark: PIL decode + resize, TF on all cores
  machine limit                          cores / (per-image decode + per-image inference), measured here

Also the peak memory of the (local-mode) executor JVM: heap used and resident set size.
Timings on shared machines are noisy: read the ratios, measured side by side in one run.
"""

import argparse
import io
import json
import os
import tempfile
import threading
import time

import numpy as np
from PIL import Image

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def make_images(folder, n, seed=0):
    """n JPEGs of about 400x500 with smooth content (they compress like photos)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:400, 0:500].astype(np.float32)
    for i in range(n):
        a, b, c = rng.uniform(0.005, 0.05, 3)
        img = np.stack(
            [127 + 120 * np.sin(a * xx + i), 127 + 120 * np.cos(b * yy), 127 + 120 * np.sin(c * (xx + yy))], 2
        )
        img += rng.normal(0, 8, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(folder, f"img{i:05d}.jpg"), quality=90)


def preprocess(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.BILINEAR)
    return (np.asarray(img, np.float32) / 255.0 - MEAN) / STD


def cnn_graph_def(seed=0) -> bytes:
    """The issue's baseline model class: a plain CNN of about 0.6 GFLOP per 224x224 image as one
    frozen graph (3x3 convolutions with bias and ReLU: 32/s2, 64/s2, 128/s2, 128, 256/s2, then the
    spatial mean: 256 features), random He-initialised weights. Same tensors as MobileNetV2."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
        c_in = 3
        for i, (c_out, stride) in enumerate([(32, 2), (64, 2), (128, 2), (128, 1), (256, 2)]):
            w = rng.normal(0, np.sqrt(2 / (9 * c_in)), (3, 3, c_in, c_out)).astype(np.float32)
            x = tf.nn.conv2d(x, tf.constant(w), strides=stride, padding="SAME", name=f"conv{i}")
            x = tf.nn.relu(tf.nn.bias_add(x, tf.constant(np.full(c_out, 0.01, np.float32))))
            c_in = c_out
        tf.identity(tf.reduce_mean(x, axis=[1, 2]), name="features")
    return g.as_graph_def().SerializeToString()


class TFGraphTrivial:
    @staticmethod
    def graph_def() -> bytes:
        """input:0 [n, 224, 224, 3] -> features:0 = the mean per channel: the engine's own cost."""
        import tensorflow as tf

        g = tf.Graph()
        with g.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [None, 224, 224, 3], name="input")
            tf.identity(tf.reduce_mean(x, axis=[1, 2]), name="features")
        return g.as_graph_def().SerializeToString()


ONE_CORE = """
import sys, time, numpy as np, tensorflow as tf
gd = tf.compat.v1.GraphDef.FromString(open(sys.argv[1], "rb").read())
g = tf.Graph()
with g.as_default():
    tf.compat.v1.import_graph_def(gd, name="")
cfg = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
s = tf.compat.v1.Session(graph=g, config=cfg)
x = np.random.default_rng(0).normal(size=(int(sys.argv[2]), 224, 224, 3)).astype(np.float32)
s.run("features:0", {"input:0": x})
t = time.perf_counter()
for _ in range(3):
    s.run("features:0", {"input:0": x})
print("MS", 1000 * (time.perf_counter() - t) / 3 / len(x))
"""


def one_core_inference_ms(graph_path: str, batch: int) -> float:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", ONE_CORE, graph_path, str(batch)], capture_output=True, text=True, check=True
    ).stdout
    return float(out.split("MS")[-1])


class TFGraph:
    """The frozen graph run by TensorFlow's Python API (the baselines' engine)."""

    def __init__(self, graph_def: bytes):
        import tensorflow as tf

        gd = tf.compat.v1.GraphDef.FromString(graph_def)
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(gd, name="")
        self.sess = tf.compat.v1.Session(graph=self.graph)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.sess.run("features:0", {"input:0": batch})


REPEAT = 2


def timed(fn):
    """Runs fn REPEAT times; the fastest run (the least disturbed by the shared machine)."""
    best = None
    for _ in range(REPEAT):
        start = time.perf_counter()
        n = fn()
        s = time.perf_counter() - start
        best = (n, s) if best is None or s < best[1] else best
    return best


def proc_status_bytes(pid: int, field: str) -> int:
    """A memory field of /proc/PID/status (VmRSS, VmHWM, ...) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def image_folder(prefix: str, n: int):
    """A temporary folder with n synthetic JPEGs: (the temporary root, the folder, the sorted files)."""
    tmp = tempfile.mkdtemp(prefix=prefix)
    folder = os.path.join(tmp, "images")
    os.makedirs(folder)
    make_images(folder, n)
    return tmp, folder, sorted(os.path.join(folder, f) for f in os.listdir(folder))


def count(df, col):
    """Rows whose `col` is not null (forces the whole computation)."""
    return df.filter(df[col].isNotNull()).count()


class JvmMemory:
    """Samples the driver/executor JVM (local mode: one JVM) heap and RSS while work runs."""

    def __init__(self, spark):
        self.jvm = spark.sparkContext._jvm
        self.pid = int(self.jvm.ProcessHandle.current().pid())
        self.peak_heap = 0
        self.rss_samples = []
        self.stop = threading.Event()

    def rss(self):
        """Peak resident set size so far, bytes."""
        return proc_status_bytes(self.pid, "VmHWM")

    def _run(self):
        rt = self.jvm.java.lang.Runtime.getRuntime()
        ticks = 0
        while not self.stop.wait(0.2):
            try:
                self.peak_heap = max(self.peak_heap, rt.totalMemory() - rt.freeMemory())
            except Exception:
                return
            ticks += 1
            if ticks % 10 == 0:
                self.rss_samples.append(round(proc_status_bytes(self.pid, "VmRSS") / 2**20))

    def __enter__(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def compare(spark, name, graph_def, graph_path, paths, folder, files, args, featurizer=False):
    """Every path on the same images and graph; images/s and the ratios of our PySpark stage."""
    import sparkdl

    cores = os.cpu_count()
    r = {"graph": name}

    # --- sparkdl -----------------------------------------------------------------------
    t = sparkdl.TFImageTransformer(
        inputCol="path",
        outputCol="f",
        graph=graph_def,
        inputTensor="input:0",
        outputTensor="features:0",
        scale=1 / 255.0,
        mean=MEAN.tolist(),
        std=STD.tolist(),
        outputMode="array",
        imageSize=[224, 224],
        batchSize=args.batch,
    )
    count(t.transform(paths), "f")  # warm: session cache, JIT
    with JvmMemory(spark) as mem:
        n, s = timed(lambda: count(t.transform(paths), "f"))
    r["sparkdl_pyspark"] = n / s
    r["jvm_peak_heap_mb"] = mem.peak_heap / 2**20
    r["jvm_peak_rss_mb"] = mem.rss() / 2**20
    jstage = t._java_obj
    n, s = timed(lambda: jstage.transform(paths._jdf).filter("f IS NOT NULL").count())
    r["sparkdl_jvm"] = n / s
    if featurizer:
        f = sparkdl.DeepImageFeaturizer(inputCol="path", outputCol="f", modelName="MobileNetV2", batchSize=args.batch)
        count(f.transform(paths), "f")
        n, s = timed(lambda: count(f.transform(paths), "f"))
        r["sparkdl_featurizer"] = n / s

    # --- predict_batch_udf -----------------------------------------------------------
    import pandas as pd
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.functions import pandas_udf, udf
    from pyspark.sql.types import ArrayType, FloatType

    @pandas_udf(ArrayType(FloatType()))
    def decode(contents: pd.Series) -> pd.Series:
        return pd.Series([preprocess(c).reshape(-1) for c in contents])

    def make_predict():
        model = TFGraph(graph_def)

        def predict(x):
            return model(x.reshape(-1, 224, 224, 3))

        return predict

    predict = predict_batch_udf(
        make_predict, return_type=ArrayType(FloatType()), batch_size=args.batch, input_tensor_shapes=[[224 * 224 * 3]]
    )
    raw = spark.read.format("binaryFile").load(folder).repartition(cores)
    pbu = raw.select(predict(decode("content")).alias("f"))
    n, s = timed(lambda: count(pbu, "f"))
    r["predict_batch_udf"] = n / s

    # --- row-at-a-time Python UDF ---------------------------------------------------
    holder = {}

    @udf(ArrayType(FloatType()))
    def per_row(content):
        if "m" not in holder:
            holder["m"] = TFGraph(graph_def)
        return holder["m"](preprocess(content)[None])[0].tolist()

    n, s = timed(lambda: count(raw.select(per_row("content").alias("f")), "f"))
    r["row_udf"] = n / s

    # --- bare Python loop -------------------------------------------------------------
    model = TFGraph(graph_def)

    def loop():
        done = 0
        for i in range(0, len(files), args.batch):
            batch = np.stack([preprocess(open(f, "rb").read()) for f in files[i : i + args.batch]])
            done += len(model(batch))
        return done

    loop()
    n, s = timed(loop)
    r["bare_python_loop"] = n / s

    # --- the machine's limit ------------------------------------------------------------
    sample = [open(f, "rb").read() for f in files[:64]]
    _, s = timed(lambda: [preprocess(d) for d in sample])
    decode_ms = 1000 * s / len(sample)
    # TensorFlow sizes its intra-op pool once per process (from the first session), so the
    # one-core inference cost is measured in a fresh process.
    infer_ms = one_core_inference_ms(graph_path, args.batch)
    r["decode_ms"] = decode_ms
    r["inference_ms"] = infer_ms
    r["machine_limit"] = cores * 1000 / (decode_ms + infer_ms)
    return r


def report(r, args, cores, non_inference_ms):
    ours = r["sparkdl_pyspark"]
    r["machine_limit_native_decode"] = cores * 1000 / (non_inference_ms + r["inference_ms"])
    print(
        f"\n{args.images} JPEGs ~400x500 -> {r['graph']} features, {cores} cores, batch {args.batch}, "
        f"fastest of {args.repeat} runs per path"
    )
    print(f"{'path':42} {'images/s':>9} {'ours is':>9} {'of limit':>9}")
    for key, name in [
        ("sparkdl_pyspark", "sparkdl TFImageTransformer (PySpark)"),
        ("sparkdl_jvm", "sparkdl TFImageTransformer (Scala API)"),
        ("sparkdl_featurizer", "sparkdl DeepImageFeaturizer (PySpark)"),
        ("predict_batch_udf", "predict_batch_udf (TF in Python workers)"),
        ("row_udf", "row-at-a-time Python UDF"),
        ("bare_python_loop", "bare Python loop, no Spark"),
        ("machine_limit", "machine limit (decode + inference)"),
    ]:
        if key in r:
            print(f"{name:42} {r[key]:9.1f} {ours / r[key]:8.2f}x {r[key] / r['machine_limit']:9.2f}")
    print(
        f"per image: decode {r['decode_ms']:.1f} ms (PIL), inference {r['inference_ms']:.1f} ms (one core); "
        f"sparkdl's own cost besides inference {non_inference_ms:.1f} core-ms"
    )
    print(
        f"ours / limit: {ours / r['machine_limit']:.2f} (limit from PIL decode + inference), "
        f"{ours / r['machine_limit_native_decode']:.2f} (limit from our own costs + inference)"
    )
    print(f"executor JVM peak heap {r['jvm_peak_heap_mb']:.0f} MB, peak RSS {r['jvm_peak_rss_mb']:.0f} MB")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--graphs", nargs="*", default=["cnn", "mobilenet_v2"], choices=["cnn", "mobilenet_v2"])
    p.add_argument(
        "--scale",
        type=int,
        nargs="*",
        default=[1, 4, 16],
        help="dataset multiples for the linearity/memory run (rows reuse the files)",
    )
    p.add_argument("--repeat", type=int, default=2, help="runs per path; the fastest is kept")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    global REPEAT
    REPEAT = args.repeat

    import sparkdl
    from sparkdl.models import exportModel

    cores = os.cpu_count()
    tmp, folder, files = image_folder("sparkdl-bench-", args.images)
    spark = sparkdl.session(
        conf={"spark.ui.enabled": "false", "spark.sql.execution.arrow.maxRecordsPerBatch": str(args.batch)}
    )
    spark.sparkContext.setLogLevel("ERROR")
    paths = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(cores).cache()
    paths.count()
    results = {"images": args.images, "cores": cores, "batch": args.batch, "repeat": args.repeat}

    # --- our cost per image besides inference (a graph that only averages the pixels) -------
    t0 = sparkdl.TFImageTransformer(
        inputCol="path",
        outputCol="f",
        graph=TFGraphTrivial.graph_def(),
        inputTensor="input:0",
        outputTensor="features:0",
        scale=1 / 255.0,
        mean=MEAN.tolist(),
        std=STD.tolist(),
        outputMode="array",
        imageSize=[224, 224],
        batchSize=args.batch,
    )
    count(t0.transform(paths), "f")
    n, s = timed(lambda: count(t0.transform(paths), "f"))
    results["sparkdl_non_inference_ms"] = cores * 1000 * s / n

    graphs = {}
    for name in args.graphs:
        if name == "cnn":
            gd = cnn_graph_def()
            path = os.path.join(tmp, "cnn.pb")
            with open(path, "wb") as fh:
                fh.write(gd)
        else:
            path = exportModel("MobileNetV2", out=os.path.join(tmp, "mobilenet_v2.pb"))
            gd = open(path, "rb").read()
        graphs[name] = gd
        results[name] = compare(spark, name, gd, path, paths, folder, files, args, featurizer=name == "mobilenet_v2")
        report(results[name], args, cores, results["sparkdl_non_inference_ms"])

    # --- linearity and bounded memory (our PySpark path, the last graph) -------------------
    t = sparkdl.TFImageTransformer(
        inputCol="path",
        outputCol="f",
        graph=graphs[args.graphs[-1]],
        inputTensor="input:0",
        outputTensor="features:0",
        scale=1 / 255.0,
        mean=MEAN.tolist(),
        std=STD.tolist(),
        outputMode="array",
        imageSize=[224, 224],
        batchSize=args.batch,
    )
    results["scaling"] = []
    for factor in args.scale:
        rows = (
            spark.createDataFrame(
                [("file://" + files[i % len(files)],) for i in range(factor * len(files))], "path string"
            )
            .repartition(cores)
            .cache()
        )
        rows.count()
        count(t.transform(rows), "f") if factor == args.scale[0] else None
        with JvmMemory(spark) as mem:
            start = time.perf_counter()
            n = count(t.transform(rows), "f")
            s = time.perf_counter() - start
        results["scaling"].append(
            {
                "factor": factor,
                "images": n,
                "seconds": s,
                "images_per_s": n / s,
                "peak_heap_mb": mem.peak_heap / 2**20,
                "rss_mb_samples": mem.rss_samples,
            }
        )
        rows.unpersist()
    print(f"\nlinearity ({args.graphs[-1]}, our PySpark path):")
    for r in results["scaling"]:
        print(
            f"x{r['factor']:<3} {r['images']:6d} images {r['seconds']:7.1f} s {r['images_per_s']:7.1f} images/s "
            f"peak heap {r['peak_heap_mb']:.0f} MB, RSS every 2 s (MB): {r['rss_mb_samples']}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
