"""sparkdl against its peers for batch image inference, in one run, on two image sets:
512 ordinary photos of ~500x400 and 48 phone-sized photos of 4032x3024 (12 MP), JPEG files on
local disk in, features out, the same TensorFlow graph on every path.

    make bench-venv                 # once: .venv-bench = the test venv's packages + Daft + Ray Data
    source build/engine-env.sh && .venv-bench/bin/python benches/peer_bench.py

Paths (2 cores: the machine's):
  sparkdl TFImageTransformer   PySpark and Scala API (paths column in; native read, decode, resize, TF)
  sparkdl SQL function         the same model as a SQL function (`SELECT cnn(path) FROM paths`)
  sparkdl DeepImageFeaturizer  MobileNetV2 (PySpark; SQL: sparkdl_featurize), float32 and bf16
  Daft                         from_glob_path -> download() -> decode_image() -> resize(224, 224)
                               -> a @daft.cls batch method running the graph in a TF session
  Ray Data                     read_images(size=224x224) -> map_batches with an actor running TF
  bare loop                    one process: PIL decode + resize, TF on all cores, batches of 64
  draft-mode loop              the same with PIL's draft mode (libjpeg-turbo's DCT scaling)
  predict_batch_udf            binaryFile -> PIL decode pandas UDF -> predict_batch_udf (TF1 session)
  limit                        cores / (sparkdl's own decode+preprocess per image, one thread,
                               measured here + one-core inference, measured in a fresh process)

Graphs: `cnn`, the benchmark CNN of pipeline_bench.py (about 0.6 GFLOP), and `mobilenet_v2`, the
named model's frozen graph (`sparkdl.models.exportModel`). Daft and Ray run in this process's
machine only: Daft's native runner (no server), Ray started with 127.0.0.1 and no dashboard.
Each path: a warm-up run, then the fastest of --repeat runs. Timings on a shared machine are
noisy: read the ratios, measured side by side in this one run.
"""

import argparse
import io
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")  # no telemetry calls from Daft
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
# Spark's Python workers import pipeline_bench too (the UDFs below reference its TFGraph).
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p)

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from pipeline_bench import MEAN, STD, TFGraph, cnn_graph_def, count, make_images, one_core_inference_ms  # noqa: E402

SIZE = 224
REPEAT = 2


def make_phone_photos(folder, n, seed=0, width=4032, height=3024):
    """n JPEGs of 4032x3024 (quality 90) that compress like phone photos (2-3 MB each): broad
    shapes and gradients with texture, upscaled smoothly, plus fine sensor-like grain."""
    rng = np.random.default_rng(seed)
    grain = rng.normal(0, 3, (1024, 1024, 3)).astype(np.float32)
    sw, sh = width // 8, height // 8
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    for i in range(n):
        a, b, c = rng.uniform(0.01, 0.06, 3)
        small = np.stack(
            [127 + 100 * np.sin(a * xx + i), 127 + 100 * np.cos(b * yy + i), 127 + 90 * np.sin(c * (xx + yy))], 2
        )
        small += rng.normal(0, 10, small.shape)
        big = np.asarray(
            Image.fromarray(np.clip(small, 0, 255).astype(np.uint8)).resize((width, height), Image.BICUBIC), np.float32
        )
        dy, dx = rng.integers(0, 1024, 2)
        big += np.tile(np.roll(grain, (dy, dx), (0, 1)), (height // 1024 + 1, width // 1024 + 1, 1))[:height, :width]
        Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(
            os.path.join(folder, f"photo{i:04d}.jpg"), quality=90
        )


def image_set(kind, n, root):
    folder = os.path.join(root, kind)
    os.makedirs(folder, exist_ok=True)
    if len(os.listdir(folder)) != n:
        (make_images if kind == "small" else make_phone_photos)(folder, n)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder))
    return folder, files


def timed(fn):
    """A warm-up run, then the fastest of REPEAT runs: (rows, seconds)."""
    fn()
    best = None
    for _ in range(REPEAT):
        start = time.perf_counter()
        n = fn()
        s = time.perf_counter() - start
        best = (n, s) if best is None or s < best[1] else best
    return best


def preprocess(data, draft=False):
    img = Image.open(io.BytesIO(data))
    if draft:
        img.draft("RGB", (SIZE, SIZE))  # libjpeg-turbo's DCT scaling, never below the size asked
    img = img.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    return (np.asarray(img, np.float32) / 255.0 - MEAN) / STD


def normalise(batch_u8):
    return (batch_u8.astype(np.float32) / 255.0 - MEAN) / STD


# --- sparkdl ------------------------------------------------------------------------------------


def sparkdl_paths(spark, paths, graph_def, graph_name, batch, r):
    import sparkdl

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
        imageSize=[SIZE, SIZE],
        batchSize=batch,
    )
    n, s = timed(lambda: count(t.transform(paths), "f"))
    r["sparkdl TFImageTransformer (PySpark)"] = n / s
    jstage = t._java_obj
    n, s = timed(lambda: jstage.transform(paths._jdf).filter("f IS NOT NULL").count())
    r["sparkdl TFImageTransformer (Scala API)"] = n / s
    fn = f"bench_{graph_name}"
    sparkdl.registerModel(fn, t, spark)
    n, s = timed(lambda: count(spark.sql(f"SELECT {fn}(path) AS f FROM paths"), "f"))
    r["sparkdl SQL function"] = n / s


def warm_jvm(spark, files, graph_def, batch, cores, passes):
    """Untimed passes of the sparkdl paths (PySpark, Scala API, SQL) over `files`."""
    import sparkdl

    warm = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(cores).cache()
    warm.createOrReplaceTempView("warm_paths")
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
        imageSize=[SIZE, SIZE],
        batchSize=batch,
    )
    sparkdl.registerModel("bench_warmup", t, spark)
    for _ in range(passes):
        count(t.transform(warm), "f")
        t._java_obj.transform(warm._jdf).filter("f IS NOT NULL").count()
        count(spark.sql("SELECT bench_warmup(path) AS f FROM warm_paths"), "f")
    warm.unpersist()


def sparkdl_featurizer(spark, paths, batch, r):
    import sparkdl

    for precision in ("float32", "bf16"):
        f = sparkdl.DeepImageFeaturizer(
            inputCol="path", outputCol="f", modelName="MobileNetV2", batchSize=batch, precision=precision
        )
        n, s = timed(lambda: count(f.transform(paths), "f"))
        r[f"sparkdl DeepImageFeaturizer {precision} (PySpark)"] = n / s
    n, s = timed(lambda: count(spark.sql("SELECT sparkdl_featurize(path, 'MobileNetV2') AS f FROM paths"), "f"))
    r["sparkdl SQL sparkdl_featurize float32"] = n / s


# --- the peers ----------------------------------------------------------------------------------


def daft_path(folder, graph_path, batch, r):
    import daft
    from daft import DataType
    from daft.functions import decode_image, download, resize

    @daft.cls(max_concurrency=1)
    class Model:
        def __init__(self, path):
            self.model = TFGraph(open(path, "rb").read())

        @daft.method.batch(return_dtype=DataType.list(DataType.float32()), batch_size=batch)
        def __call__(self, images):
            x = normalise(np.stack(images.to_pylist()))
            return list(self.model(x))

    model = Model(graph_path)

    def run():
        df = daft.from_glob_path(os.path.join(folder, "*.jpg"))
        df = df.with_column("image", resize(decode_image(download(df["path"]), mode="RGB"), SIZE, SIZE))
        df = df.select(model(df["image"]).alias("f"))
        return len(df.collect())

    n, s = timed(run)
    r["Daft (decode_image + resize, @daft.cls batch UDF)"] = n / s


class RayModel:
    def __init__(self, graph_path):
        self.model = TFGraph(open(graph_path, "rb").read())

    def __call__(self, batch):
        return {"f": self.model(normalise(batch["image"]))}


def ray_path(files, graph_path, batch, cores, r):
    import ray

    ray.init(
        num_cpus=cores,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False

        def run():
            ds = ray.data.read_images(files, size=(SIZE, SIZE), mode="RGB")
            ds = ds.map_batches(RayModel, fn_constructor_args=(graph_path,), batch_size=batch, concurrency=1)
            return ds.materialize().count()

        n, s = timed(run)
        r["Ray Data (read_images + map_batches actor)"] = n / s
    finally:
        ray.shutdown()


def python_loops(files, graph_def, batch, r, draft_too):
    model = TFGraph(graph_def)

    def loop(draft):
        done = 0
        for i in range(0, len(files), batch):
            x = np.stack([preprocess(open(f, "rb").read(), draft) for f in files[i : i + batch]])
            done += len(model(x))
        return done

    n, s = timed(lambda: loop(False))
    r["bare Python loop (PIL)"] = n / s
    if draft_too:
        n, s = timed(lambda: loop(True))
        r["draft-mode loop (PIL draft)"] = n / s


def predict_batch_udf_path(spark, folder, graph_def, batch, cores, r):
    import pandas as pd
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, FloatType

    @pandas_udf(ArrayType(FloatType()))
    def decode(contents: pd.Series) -> pd.Series:
        return pd.Series([preprocess(c).reshape(-1) for c in contents])

    def make_predict():
        model = TFGraph(graph_def)
        return lambda x: model(x.reshape(-1, SIZE, SIZE, 3))

    predict = predict_batch_udf(
        make_predict, return_type=ArrayType(FloatType()), batch_size=batch, input_tensor_shapes=[[SIZE * SIZE * 3]]
    )
    raw = spark.read.format("binaryFile").load(folder).repartition(cores)
    n, s = timed(lambda: count(raw.select(predict(decode("content")).alias("f")), "f"))
    r["predict_batch_udf"] = n / s


# --- the limit ----------------------------------------------------------------------------------


def sparkdl_decode_ms(files):
    """sparkdl's decode + resize + normalisation per image, one thread, on these files (the
    engine's own code, through rust/examples/preprocess_cost.rs)."""
    cmd = [
        "cargo",
        "run",
        "-q",
        "--release",
        "-p",
        "sparkdl-native",
        "--example",
        "preprocess_cost",
        "--",
        str(SIZE),
        str(SIZE),
    ] + files[:64]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(out.split("MS")[-1])


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--small", type=int, default=512, help="~500x400 photos")
    p.add_argument("--large", type=int, default=48, help="4032x3024 photos")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeat", type=int, default=2, help="timed runs per path after a warm-up; the fastest counts")
    p.add_argument(
        "--jvm-warmup",
        type=int,
        default=3,
        help="untimed passes of sparkdl over the small set first, so the JVM's JIT has compiled Spark's "
        "and sparkdl's code, as in any job longer than a few seconds (Daft and Ray have no JIT)",
    )
    p.add_argument("--sets", nargs="*", default=["small", "large"], choices=["small", "large"])
    p.add_argument("--skip", nargs="*", default=[], help="paths to leave out: daft ray loops pbu sql featurizer")
    p.add_argument("--data", default=os.path.join(ROOT, "target", "peer-bench"), help="where the images are kept")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    global REPEAT
    REPEAT = args.repeat

    import sparkdl
    from sparkdl.models import exportModel

    cores = os.cpu_count()
    os.makedirs(args.data, exist_ok=True)
    cnn_path = os.path.join(args.data, "cnn.pb")
    with open(cnn_path, "wb") as fh:
        fh.write(cnn_graph_def())
    spark = sparkdl.session(conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    mnv2_path = exportModel("MobileNetV2", out=os.path.join(args.data, "mobilenet_v2.pb"))
    graphs = {"cnn": (open(cnn_path, "rb").read(), cnn_path), "mobilenet_v2": (open(mnv2_path, "rb").read(), mnv2_path)}
    infer_ms = {name: one_core_inference_ms(path, args.batch) for name, (_, path) in graphs.items()}
    results = {
        "cores": cores,
        "batch": args.batch,
        "repeat": args.repeat,
        "one_core_inference_ms": infer_ms,
        "load_before": load_average(),
        "sets": {},
    }
    print("one-core inference per image: " + ", ".join(f"{k} {v:.2f} ms" for k, v in infer_ms.items()))

    if args.jvm_warmup:
        warm_jvm(
            spark, image_set("small", args.small, args.data)[1], graphs["cnn"][0], args.batch, cores, args.jvm_warmup
        )

    for kind in args.sets:
        n_files = args.small if kind == "small" else args.large
        folder, files = image_set(kind, n_files, args.data)
        mb = sum(os.path.getsize(f) for f in files) / len(files) / 2**20
        w, h = Image.open(files[0]).size
        paths = spark.createDataFrame([("file://" + f,) for f in files], "path string").repartition(cores).cache()
        paths.count()
        paths.createOrReplaceTempView("paths")
        decode_ms = sparkdl_decode_ms(files)
        s = {"files": len(files), "size": f"{w}x{h}", "mean_mb": mb, "sparkdl_decode_ms": decode_ms, "graphs": {}}
        results["sets"][kind] = s
        for name, (gd, path) in graphs.items():
            r = {}
            print(f"\n[{kind} {w}x{h}, {name}] load {load_average()}", flush=True)
            if name == "cnn":
                sparkdl_paths(spark, paths, gd, name, args.batch, r)
            elif "featurizer" not in args.skip:
                sparkdl_featurizer(spark, paths, args.batch, r)
            if "daft" not in args.skip:
                daft_path(folder, path, args.batch, r)
            if name == "cnn":
                if "ray" not in args.skip:
                    ray_path(files, path, args.batch, cores, r)
                if "loops" not in args.skip:
                    python_loops(files, gd, args.batch, r, draft_too=kind == "large")
                if "pbu" not in args.skip:
                    predict_batch_udf_path(spark, folder, gd, args.batch, cores, r)
            r["limit (sparkdl decode + one-core inference)"] = cores * 1000 / (decode_ms + infer_ms[name])
            s["graphs"][name] = r
            report(kind, name, s, r, infer_ms[name])
        paths.unpersist()
    results["load_after"] = load_average()
    print(f"\nload average before {results['load_before']}, after {results['load_after']}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    spark.stop()


def report(kind, name, s, r, infer_ms):
    ours = r.get("sparkdl TFImageTransformer (PySpark)") or r.get("sparkdl DeepImageFeaturizer float32 (PySpark)")
    limit = r["limit (sparkdl decode + one-core inference)"]
    print(
        f"{s['files']} JPEGs {s['size']} ({s['mean_mb']:.2f} MB each) -> {name}; sparkdl decode+preprocess "
        f"{s['sparkdl_decode_ms']:.2f} ms/image (one thread), inference {infer_ms:.2f} ms/image (one core)"
    )
    print(f"{'path':58} {'images/s':>9} {'sparkdl is':>11} {'of limit':>9}")
    for k, v in r.items():
        ratio = f"{ours / v:10.2f}x" if ours else f"{'-':>11}"  # sparkdl's own path left out (--skip)
        print(f"{k:58} {v:9.1f} {ratio} {v / limit:9.2f}")
    print(flush=True)


if __name__ == "__main__":
    main()
