"""ONNX Runtime against TensorFlow on the same network, side by side in one run.

    source build/engine-env.sh
    .venv/bin/python benches/onnx_bench.py [--images 512] [--rounds 2]

1. One-core inference: MobileNetV2 as sparkdl builds it from torchvision's weights, written once as
   a frozen TensorFlow graph and once as an ONNX model (the same weights, BatchNorm folded alike),
   each run by its runtime's own Python API with one intra-op and one inter-op thread, batch 32,
   the two alternating in fresh processes; ms per image, the best round of each.
2. sparkdl end to end: DeepImageFeaturizer (MobileNetV2) on each engine, local[*], N JPEGs of
   500x400, from a column of paths and from Spark's binaryFile source (content bytes; also read with
   spark.sql.files.openCostInBytes at 64 KB, which packs the files into fewer partitions); images/s,
   the fastest of two timed runs after a warm-up, per engine and route (`--ab-rounds N`: the ONNX
   engine under three session settings alternating job by job, N rounds, medians).
3. The same .onnx elsewhere: Daft (decode_image + resize, a @daft.cls batch UDF running an
   onnxruntime session; only where daft is installed: `make bench-venv` and run this with
   .venv-bench/bin/python), predict_batch_udf with onnxruntime (binaryFile, a PIL decode pandas
   UDF, one ORT thread per Python worker), and a plain PIL + onnxruntime loop on all cores.
4. sparkdl's own limit: cores / (its decode + preprocess per image on one thread, measured by
   rust/examples/preprocess_cost.rs on these files + one-core ONNX Runtime inference).
5. Short jobs (`--cold-rounds`, 2 by default; 0 skips them): each engine and route as the first
   and only job of a fresh process (a cold JVM, no cache, no warm-up: the session, the model and
   binaryFile's listing are part of the job), the processes alternating; images/s of the job, the
   better of the rounds.
Printed as lines and as JSON (the last line), with the ratios.
"""

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from peer_bench import normalise, preprocess, sparkdl_decode_ms  # noqa: E402
from pipeline_bench import count, image_folder, one_core_inference_ms, timed  # noqa: E402

SIZE = 224


def ort_session(path, threads=0):
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def nchw(batch_hwc):
    return np.ascontiguousarray(batch_hwc.transpose(0, 3, 1, 2))


def daft_onnx(folder, onnx_path, batch):
    import daft
    from daft import DataType
    from daft.functions import decode_image, download, resize

    @daft.cls(max_concurrency=1)
    class Model:
        def __init__(self, path):
            self.session = ort_session(path)

        @daft.method.batch(return_dtype=DataType.list(DataType.float32()), batch_size=batch)
        def __call__(self, images):
            x = nchw(normalise(np.stack(images.to_pylist())))
            return list(self.session.run(["features"], {"input": x})[0])

    model = Model(onnx_path)

    def run():
        df = daft.from_glob_path(os.path.join(folder, "*.jpg"))
        df = df.with_column("image", resize(decode_image(download(df["path"]), mode="RGB"), SIZE, SIZE))
        return len(df.select(model(df["image"]).alias("f")).collect())

    return timed(run)


def pbu_onnx(spark, folder, onnx_path, batch, cores):
    import pandas as pd
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType

    @pandas_udf(ArrayType(FloatType()))
    def decode(contents: pd.Series) -> pd.Series:
        return pd.Series([preprocess(c).transpose(2, 0, 1).reshape(-1) for c in contents])

    def make_predict():
        session = ort_session(onnx_path, threads=1)
        return lambda x: session.run(["features"], {"input": x.reshape(-1, 3, SIZE, SIZE)})[0]

    predict = predict_batch_udf(
        make_predict, return_type=ArrayType(FloatType()), batch_size=batch, input_tensor_shapes=[[3 * SIZE * SIZE]]
    )
    raw = spark.read.format("binaryFile").load(folder).repartition(cores)
    return timed(lambda: count(raw.select(predict(decode("content")).alias("f")), "f"))


def loop_onnx(files, onnx_path, batch):
    session = ort_session(onnx_path)

    def loop():
        done = 0
        for i in range(0, len(files), batch):
            x = nchw(np.stack([preprocess(open(f, "rb").read()) for f in files[i : i + batch]]))
            done += len(session.run(["features"], {"input": x})[0])
        return done

    return timed(loop)


ORT_ONE_CORE = """
import sys, time, numpy as np, onnxruntime as ort
o = ort.SessionOptions()
o.intra_op_num_threads = 1
o.inter_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], o, providers=["CPUExecutionProvider"])
x = np.random.default_rng(0).normal(size=(int(sys.argv[2]), 3, 224, 224)).astype(np.float32)
s.run(["features"], {"input": x})
t = time.perf_counter()
for _ in range(3):
    s.run(["features"], {"input": x})
print("MS", 1000 * (time.perf_counter() - t) / 3 / len(x))
"""


COLD_JOB = """
import sys, time, os
import sparkdl
engine, route, folder = sys.argv[1:4]
spark = sparkdl.session(master="local[*]", conf={"spark.ui.enabled": "false"})
start = time.perf_counter()
if route == "paths":
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    df, col = spark.createDataFrame([(p,) for p in files], "path string"), "path"
else:
    df, col = spark.read.format("binaryFile").load(folder).select("content"), "content"
f = sparkdl.DeepImageFeaturizer(inputCol=col, outputCol="f", modelName="MobileNetV2", engine=engine)
n = f.transform(df).filter("f is not null").count()
print("JOB", n, time.perf_counter() - start)
spark.stop()
"""


def session_ab(live_conf, paths, content, rounds, cores, n_files):
    """The ONNX featurizer under three session settings, alternating job by job for `rounds` rounds:
    the default pool, one session per model, and the pool with two intra-op threads per session
    (cores oversubscribed as TensorFlow's concurrent runs are); images/s of each job, and the median."""
    import statistics

    import sparkdl

    variants = {
        "pool (default)": {},
        "1 session": {"spark.sparkdl.onnx.sessions": "1"},
        f"pool, {2 * cores} intra-op threads": {"spark.sparkdl.engine.intraOpThreads": str(2 * cores)},
    }
    keys = {k for v in variants.values() for k in v}
    jobs = {}
    for route, df, col in (("paths", paths, "path"), ("binaryFile", content, "content")):
        out = sparkdl.DeepImageFeaturizer(
            inputCol=col, outputCol="f", modelName="MobileNetV2", engine="onnx"
        ).transform(df)
        for r in range(rounds + 1):
            for name, settings in variants.items():
                for k in keys:
                    live_conf.remove(k)
                for k, v in settings.items():
                    live_conf.set(k, v)
                n, s = timed_once(lambda: count(out, "f"))
                assert n == n_files, (name, route, n)
                if r > 0:  # round 0 loads each setting's sessions
                    jobs.setdefault(f"{name} {route}", []).append(round(n / s, 1))
    for k in keys:
        live_conf.remove(k)
    result = {k: {"jobs": v, "median": statistics.median(v)} for k, v in jobs.items()}
    for k, v in result.items():
        print(f"ONNX sessions A/B, {k}: median {v['median']:.1f} images/s of {v['jobs']}")
    return result


def timed_once(fn):
    start = time.perf_counter()
    n = fn()
    return n, time.perf_counter() - start


def cold_job(engine, route, folder):
    """(rows, seconds) of one featurizer job, the first of a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", COLD_JOB, engine, route, folder], capture_output=True, text=True, check=True
    )
    n, s = out.stdout.split("JOB")[-1].split()
    return int(n), float(s)


def one_core_ms(path, batch):
    """ONNX Runtime's one-core inference per image, in a fresh process (pipeline_bench's
    one_core_inference_ms is TensorFlow's, the same way)."""
    out = subprocess.run(
        [sys.executable, "-c", ORT_ONE_CORE, path, str(batch)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.split("MS")[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--cold-rounds", type=int, default=2)
    ap.add_argument("--only-sparkdl", action="store_true", help="skip the peers and the one-core runs")
    ap.add_argument("--conf", action="append", default=[], help="a Spark setting k=v of the warm session")
    ap.add_argument("--ab-rounds", type=int, default=0, help="rounds of the ONNX session-settings A/B (0: none)")
    args = ap.parse_args()

    import sparkdl
    from sparkdl import models

    conf = dict(kv.split("=", 1) for kv in args.conf)
    spark = sparkdl.session(master="local[*]", conf={"spark.ui.enabled": "false", **conf})
    tmp, folder, files = image_folder("sparkdl-onnx-bench-", args.images)
    try:
        pb = models.exportModel("MobileNetV2", out=os.path.join(tmp, "mobilenet_v2.pb"))
        onnx_path = models.exportModel("MobileNetV2", out=os.path.join(tmp, "mobilenet_v2.onnx"), engine="onnx")
        one_core = {"tensorflow": [], "onnx": []}
        for _ in range(0 if args.only_sparkdl else args.rounds):
            one_core["tensorflow"].append(one_core_inference_ms(pb, args.batch))
            one_core["onnx"].append(one_core_ms(onnx_path, args.batch))

        paths = spark.createDataFrame([(p,) for p in files], "path string").repartition(
            spark.sparkContext.defaultParallelism
        )
        paths.cache().count()
        content = spark.read.format("binaryFile").load(folder).select("content")
        content.cache().count()
        # binaryFile counts each file as 4 MB more than its size (openCostInBytes) when it packs files
        # into partitions: 500x400 JPEGs of ~40 KB become 16 partitions of 32 files here. The same
        # source read with the open cost at 64 KB packs them into as many partitions as cores.
        spark.conf.set("spark.sql.files.openCostInBytes", str(64 << 10))
        # (a glob filter too, so the cache does not answer it with the first read's partitions)
        packed = spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg").load(folder).select("content")
        packed.cache().count()
        spark.conf.unset("spark.sql.files.openCostInBytes")
        partitions = {
            "paths": paths.rdd.getNumPartitions(),
            "binaryFile": content.rdd.getNumPartitions(),
            "binaryFile, openCost 64k": packed.rdd.getNumPartitions(),
        }
        print(f"partitions: {partitions}")
        routes = (
            ("paths", paths, "path"),
            ("binaryFile", content, "content"),
            ("binaryFile, openCost 64k", packed, "content"),
        )
        rates = {}
        for engine in ("tensorflow", "onnx"):
            for route, df, col in routes:
                f = sparkdl.DeepImageFeaturizer(inputCol=col, outputCol="f", modelName="MobileNetV2", engine=engine)
                out = f.transform(df)
                count(out, "f")  # warm-up: the session, the model, the pages
                n, s = timed(lambda: count(out, "f"))
                assert n == len(files), (engine, route, n)
                rates[(engine, route)] = n / s
        cores = spark.sparkContext.defaultParallelism
        # Local mode's executor reads the driver's live SparkConf: the A/B sets it between jobs.
        live_conf = spark.sparkContext._jvm.org.apache.spark.SparkEnv.get().conf()
        ab = session_ab(live_conf, paths, content, args.ab_rounds, cores, len(files)) if args.ab_rounds else {}
        cold = {}
        for _ in range(args.cold_rounds):
            for engine in ("tensorflow", "onnx"):
                for route in ("paths", "binaryFile"):
                    n, s = cold_job(engine, route, folder)
                    assert n == len(files), (engine, route, n)
                    cold[(engine, route)] = max(cold.get((engine, route), 0.0), n / s)
        for (engine, route), v in cold.items():
            print(f"short job (cold JVM), {engine} {route}: {v:.1f} images/s")
        for engine in ("tensorflow", "onnx") if cold else ():
            p, b = cold[(engine, "paths")], cold[(engine, "binaryFile")]
            print(f"short job binaryFile / paths on {engine}: {b / p:.3f}")
        for (engine, route), v in rates.items():
            print(f"warm DeepImageFeaturizer, {engine} {route}: {v:.1f} images/s")
        result = {
            "images_per_s": {f"{e} {r}": round(v, 1) for (e, r), v in rates.items()},
            "cold_images_per_s": {f"{e} {r}": round(v, 1) for (e, r), v in cold.items()},
            "session_ab": ab,
            "partitions": partitions,
            "images": len(files),
            "cores": cores,
        }
        if args.only_sparkdl:
            print(json.dumps(result))
            return
        peers = {}
        if importlib.util.find_spec("daft") is not None:
            n, s = daft_onnx(folder, onnx_path, args.batch)
            peers["Daft + onnxruntime batch UDF"] = n / s
        n, s = pbu_onnx(spark, folder, onnx_path, args.batch, cores)
        peers["predict_batch_udf + onnxruntime"] = n / s
        n, s = loop_onnx(files, onnx_path, args.batch)
        peers["PIL + onnxruntime loop"] = n / s
        decode_ms = sparkdl_decode_ms(files)
        limit = cores * 1000.0 / (decode_ms + min(one_core["onnx"]))
        result.update(
            one_core_ms={k: min(v) for k, v in one_core.items()},
            one_core_rounds=one_core,
            peers_images_per_s={k: round(v, 1) for k, v in peers.items()},
            sparkdl_decode_ms=decode_ms,
            limit_images_per_s=round(limit, 1),
        )
        tf_ms, ort_ms = result["one_core_ms"]["tensorflow"], result["one_core_ms"]["onnx"]
        print(
            f"one-core MobileNetV2 inference, batch {args.batch}: TensorFlow {tf_ms:.2f} ms/image, "
            f"ONNX Runtime {ort_ms:.2f} ms/image (TF/ORT {tf_ms / ort_ms:.2f}x)"
        )
        for route in ("paths", "binaryFile"):
            t, o = rates[("tensorflow", route)], rates[("onnx", route)]
            print(
                f"DeepImageFeaturizer, {route}: TensorFlow {t:.1f} images/s, ONNX Runtime {o:.1f} (ONNX/TF {o / t:.2f}x)"
            )
        onnx_paths = rates[("onnx", "paths")]
        for name, v in peers.items():
            print(f"{name}: {v:.1f} images/s (sparkdl ONNX paths over it: {onnx_paths / v:.2f}x)")
        best = max(onnx_paths, rates[("onnx", "binaryFile")])
        print(
            f"sparkdl's limit: {limit:.1f} images/s ({cores} x 1000 / ({decode_ms:.2f} ms decode + {ort_ms:.2f} ms "
            f"inference)); the best ONNX route at {best / limit:.2f} of it"
        )
        for engine in ("tensorflow", "onnx"):
            p = rates[(engine, "paths")]
            print(
                f"warm binaryFile / paths on {engine}: {rates[(engine, 'binaryFile')] / p:.3f}, with openCost 64k: "
                f"{rates[(engine, 'binaryFile, openCost 64k')] / p:.3f}"
            )
        print(json.dumps(result))
    finally:
        spark.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
