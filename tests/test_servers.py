"""`sparkdl serve-sql` and `sparkdl serve-connect` as users run them: each server starts once for
this module on 127.0.0.1, real clients connect (Beeline over JDBC; a PySpark Spark Connect
client), and the server stops at the end, also when a test fails."""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

STARTUP_DEADLINE_S = 300  # a bound on a slow machine's start-up, not an expected time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """coffee.png (an espresso), 6 reddish and 6 bluish noise pictures (two classes), and a text
    file named .jpg; and a tiny frozen graph (per-channel means of 8x8 images) as a .pb file."""
    import skimage

    root = tmp_path_factory.mktemp("server_pictures")
    photos = root / "photos"
    photos.mkdir()
    shutil.copy(os.path.join(os.path.dirname(skimage.__file__), "data", "coffee.png"), photos / "coffee.png")
    rng = np.random.default_rng(7)
    for cls, color in (("red", (200, 40, 40)), ("blue", (40, 60, 200))):
        for i in range(6):
            a = np.clip(rng.normal(0, 30, (48, 48, 3)) + color, 0, 255).astype(np.uint8)
            Image.fromarray(a).save(photos / f"{cls}{i}.png")
    (photos / "notes.jpg").write_text("not an image")

    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        tf.reduce_mean(x, axis=[1, 2], name="y")
    (root / "means.pb").write_bytes(g.as_graph_def().SerializeToString())
    # The same channel means as an ONNX model (NCHW, any size), for the ONNX engine.
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["means"], axes=[2, 3], keepdims=0)],
        "means",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("means", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(root / "means.onnx"))
    return root


SAVE_STAGE = textwrap.dedent("""
    import sys
    import sparkdl
    spark = sparkdl.session(master="local[1]", conf={"spark.ui.enabled": "false"})
    t = sparkdl.TFImageTransformer(inputCol="image", outputCol="m", graph=sys.argv[1], inputTensor="x:0",
                                   outputTensor="y:0", outputMode="array")
    t.write().overwrite().save(sys.argv[2])
    o = sparkdl.ONNXImageTransformer(inputCol="image", outputCol="m", modelFile=sys.argv[3], outputMode="array")
    o.write().overwrite().save(sys.argv[4])
    spark.stop()
""")


@pytest.fixture(scope="module")
def saved_model(pictures, tmp_path_factory):
    """Saved sparkdl stages for `--model means=PATH --model onnx_means=PATH` (saved by their own
    Spark application): a TensorFlow graph's and an ONNX model's."""
    folder = tmp_path_factory.mktemp("server_model")
    path, onnx_path = str(folder / "means"), str(folder / "onnx_means")
    proc = subprocess.run(
        [sys.executable, "-c", SAVE_STAGE, str(pictures / "means.pb"), path, str(pictures / "means.onnx"), onnx_path],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path, onnx_path


def _start(kind: str, saved_model: tuple, tmp_path_factory):
    port = _free_port()
    state = tmp_path_factory.mktemp(f"{kind}_state")
    log = open(state / "server.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sparkdl.cli",
            f"serve-{kind}",
            "--port",
            str(port),
            "--state-dir",
            str(state),
            "--master",
            "local[2]",
            "--model",
            f"means={saved_model[0]}",
            "--model",
            f"onnx_means={saved_model[1]}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc, port, state)
            pytest.fail(f"serve-{kind} did not start:\n" + (state / "server.log").read_text()[-4000:])
        time.sleep(0.5)
    return proc, port, state


def _stop(proc, port: int, state) -> None:
    """SIGTERM to the command (it stops its JVM); anything left, found by its state folder, is killed."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    left = subprocess.run(["pgrep", "-f", str(state)], capture_output=True, text=True).stdout.split()
    for pid in left:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def thrift_server(saved_model, tmp_path_factory):
    proc, port, state = _start("sql", saved_model, tmp_path_factory)
    try:
        yield port
    finally:
        _stop(proc, port, state)
        assert not _listening(port), "the Thrift server still listens after serve-sql stopped"


@pytest.fixture(scope="module")
def connect_server(saved_model, tmp_path_factory):
    proc, port, state = _start("connect", saved_model, tmp_path_factory)
    try:
        yield port
    finally:
        _stop(proc, port, state)
        assert not _listening(port), "the Connect server still listens after serve-connect stopped"


def beeline(port: int, sql: str):
    """Runs one statement through Beeline (JDBC); (exit code, CSV rows, output)."""
    import pyspark

    jars = os.path.join(os.path.dirname(pyspark.__file__), "jars", "*")
    proc = subprocess.run(
        [
            "java",
            "-cp",
            jars,
            "org.apache.hive.beeline.BeeLine",
            "-u",
            f"jdbc:hive2://127.0.0.1:{port}/default",
            "-n",
            "sparkdl",
            "--outputformat=csv2",
            "--silent=true",
            "--showHeader=true",
            "-e",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    # Beeline echoes its prompt before the first line of output.
    lines = [re.sub(r"^\d+: jdbc:hive2://[^>]*> ?", "", ln) for ln in proc.stdout.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("SLF4J", "WARN"))]
    return proc.returncode, lines, proc.stdout + proc.stderr


def test_jdbc_clients_get_predictions_and_the_server_survives_bad_queries(thrift_server, pictures):
    photos = pictures / "photos"
    code, rows, out = beeline(
        thrift_server,
        "SELECT path, sparkdl_predict(content, 'MobileNetV2', 1)[0].description "
        f"AS top1 FROM binaryFile.`{photos}` WHERE path LIKE '%coffee.png'",
    )
    assert code == 0, out[-3000:]
    assert rows[0] == "path,top1" and rows[1].endswith("coffee.png,espresso"), rows

    # Bad input: a file that is not an image gives null; a wrong type fails with a message naming
    # the function; an unknown model lists the names; the server goes on serving.
    code, rows, out = beeline(
        thrift_server,
        "SELECT sparkdl_predict(content, 'MobileNetV2') IS NULL AS bad "
        f"FROM binaryFile.`{photos}` WHERE path LIKE '%notes.jpg'",
    )
    assert code == 0 and rows[1:] == ["true"], out[-3000:]
    code, _, out = beeline(thrift_server, f"SELECT sparkdl_predict(length, 'MobileNetV2') FROM binaryFile.`{photos}`")
    assert code != 0 and "sparkdl_predict: the first argument (input) is bigint" in out, out[-3000:]
    code, _, out = beeline(thrift_server, f"SELECT sparkdl_featurize(content, 'AlexNet') FROM binaryFile.`{photos}`")
    assert code != 0 and "'AlexNet', which is not a named model" in out and "MobileNetV2" in out, out[-3000:]

    # The user's saved model, named on the server's command line, and the image table function.
    code, rows, out = beeline(
        thrift_server,
        "SELECT count(*) AS n, min(size(m)) AS k FROM (SELECT means(image) "
        f"AS m FROM sparkdl_read_images('{photos}', false, -1, true))",
    )
    assert code == 0 and rows[1:] == ["13,3"], out[-3000:]
    # The ONNX stage, on the ONNX engine: the red pictures' red mean is above their blue one.
    code, rows, out = beeline(
        thrift_server,
        "SELECT count(*) AS n, min(m[0] - m[2]) > 0 AS red FROM (SELECT onnx_means(image) AS m "
        f"FROM sparkdl_read_images('{photos}', false, -1, true) WHERE image.origin LIKE '%/red%')",
    )
    assert code == 0 and rows[1:] == ["6,true"], out[-3000:]


CONNECT_CLIENT = textwrap.dedent("""
    import json, os, sys, traceback
    from pyspark.sql import SparkSession, functions as F
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression
    import sparkdl

    url, photos, graph, saved = sys.argv[1:5]
    spark = SparkSession.builder.remote(url).getOrCreate()
    out = {}

    def run():
        top = spark.sql(f"SELECT sparkdl_predict(content, 'MobileNetV2', 1)[0].description AS d "
                        f"FROM binaryFile.`{photos}` WHERE path LIKE '%coffee.png'").collect()
        out["sql_top1"] = [r.d for r in top]

        images = sparkdl.readImages(photos, dropInvalid=True)
        out["images"] = images.count()
        f = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="features", modelName="MobileNetV2")
        out["features"] = len(f.transform(images).where("image.origin LIKE '%coffee.png'").head().features)
        p = sparkdl.DeepImagePredictor(inputCol="image", outputCol="top", modelName="MobileNetV2",
                                       decodePredictions=True, topK=1)
        out["predictor_top1"] = p.transform(images).where("image.origin LIKE '%coffee.png'").head().top[0].description
        t = sparkdl.TFImageTransformer(inputCol="image", outputCol="m", graph=graph, inputTensor="x:0",
                                       outputTensor="y:0", outputMode="array")
        out["tf_lengths"] = sorted({len(r.m) for r in t.transform(images).collect()})
        o = sparkdl.ONNXImageTransformer(inputCol="image", outputCol="m", modelFile=graph[:-3] + ".onnx",
                                         outputMode="array")
        out["onnx_lengths"] = sorted({len(r.m) for r in o.transform(images).collect()})

        data = images.where("image.origin NOT LIKE '%coffee.png'").withColumn(
            "label", F.when(F.col("image.origin").contains("/red"), 1.0).otherwise(0.0))
        model = Pipeline(stages=[sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="features",
                                                             modelName="MobileNetV2"),
                                 LogisticRegression(maxIter=20)]).fit(data)
        before = {r.image.origin: r.prediction for r in model.transform(data).collect()}
        out["accuracy"] = sum(before[r.image.origin] == r.label for r in data.collect()) / len(before)
        model.write().overwrite().save(saved)
        again = PipelineModel.load(saved)
        after = {r.image.origin: r.prediction for r in again.transform(data).collect()}
        out["reloaded_same"] = after == before

        try:
            sparkdl.KerasTransformer(inputCol="a", outputCol="b")
            out["keras"] = "no error"
        except NotImplementedError as e:
            out["keras"] = str(e)

    # Exit at once either way: a Spark Connect client's threads must not keep a failed run alive.
    try:
        run()
        print("RESULT " + json.dumps(out), flush=True)
        code = 0
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

""")


def test_connect_clients_use_sql_functions_and_the_python_api(connect_server, pictures, tmp_path):
    photos = str(pictures / "photos")
    script = tmp_path / "client.py"
    script.write_text(CONNECT_CLIENT)
    # A separate process: a Spark Connect client must not share this process's py4j session.
    proc = subprocess.run(
        [
            sys.executable,
            str(script),
            f"sc://127.0.0.1:{connect_server}",
            photos,
            str(pictures / "means.pb"),
            str(tmp_path / "pipeline"),
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT ")[-1])
    assert out["sql_top1"] == ["espresso"]
    assert out["images"] == 13
    assert out["features"] == 1280
    assert out["predictor_top1"] == "espresso"
    assert out["tf_lengths"] == [3]
    assert out["onnx_lengths"] == [3]
    assert out["accuracy"] == 1.0 and out["reloaded_same"] is True
    assert "Spark Connect" in out["keras"] and "TFImageTransformer" in out["keras"]
    assert glob.glob(str(tmp_path / "pipeline" / "stages" / "*"))
