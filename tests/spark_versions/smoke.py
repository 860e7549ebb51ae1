"""The smoke suite: what a user does first, on one Spark minor, from that minor's pyspark wheel.

Run by tests/spark_versions/run.py inside a venv that has only pyspark, numpy, pillow, pytest, the
MobileNetV2 weights and sparkdl (no TensorFlow and no onnxruntime package: libtensorflow comes from
SPARKDL_TENSORFLOW_LIB_DIR, ONNX Runtime from SPARKDL_ONNXRUNTIME_LIB, and the SavedModel and the
ONNX model from SPARKDL_SMOKE_SAVED_MODEL and SPARKDL_SMOKE_ONNX_MODEL, made by run.py). Not collected by `make test`'s
pytest run (its name is not test_*.py); run.py names it.

Each test goes through a different part of sparkdl's use of Spark internals: the image source and
table functions, the native plan node with its optimizer rules and strategy, ML persistence,
SQL function extraction, and Structured Streaming's planning of the node.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sparkdl

SAVED_MODEL = os.environ.get("SPARKDL_SMOKE_SAVED_MODEL")
ONNX_MODEL = os.environ.get("SPARKDL_SMOKE_ONNX_MODEL")
EXPECTED_PYSPARK = os.environ.get("SPARKDL_SMOKE_PYSPARK")

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
# A fresh model cache: MobileNetV2 is built from the weights package, as a new user's would be.
os.environ.setdefault("SPARKDL_CACHE_DIR", os.path.join(tempfile.mkdtemp(prefix="sparkdl-smoke-cache-"), "models"))

# Two colours, four pictures each: a classifier on MobileNetV2 features separates them.
COLOURS = {0: (200, 40, 40), 1: (40, 60, 210)}
BAD = {"empty.jpg": b"", "notes.jpg": b"not an image at all\n"}


def _picture(rgb, seed: int, size: int = 48) -> Image.Image:
    rng = np.random.default_rng(seed)
    noise = rng.integers(-30, 30, size=(size, size, 3))
    return Image.fromarray(np.clip(np.array(rgb) + noise, 0, 255).astype(np.uint8), "RGB")


@pytest.fixture(scope="module")
def spark():
    session = sparkdl.session(
        master="local[2]",
        conf={
            "spark.ui.enabled": "false",
            "spark.sql.shuffle.partitions": "2",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory) -> Path:
    """class0/*.png, class1/*.jpg (labels from folder names), plus bad files in both."""
    root = tmp_path_factory.mktemp("images")
    for label, rgb in COLOURS.items():
        folder = root / f"class{label}"
        folder.mkdir()
        for i in range(4):
            fmt = "PNG" if label == 0 else "JPEG"
            _picture(rgb, seed=10 * label + i).save(folder / f"img{i}.{fmt.lower().replace('jpeg', 'jpg')}", format=fmt)
        for name, content in BAD.items():
            (folder / name).write_bytes(content)
    good = io.BytesIO()
    _picture(COLOURS[0], seed=99).save(good, format="JPEG")
    (root / "class0" / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 3])
    return root


def test_the_runtime_is_the_expected_spark(spark):
    import pyspark

    if EXPECTED_PYSPARK:
        assert pyspark.__version__ == EXPECTED_PYSPARK
    assert spark.version == pyspark.__version__
    minor = ".".join(spark.version.split(".")[:2])
    assert os.path.basename(sparkdl.jar_path()) == f"sparkdl-spark{minor}_2.13.jar"
    assert sparkdl.jar_path() in spark.sparkContext.getConf().get("spark.jars").split(",")


def test_read_images_with_bad_files(spark, image_dir):
    df = sparkdl.readImages(str(image_dir), recursive=True)
    rows = df.collect()
    assert len(rows) == 8 + 2 * len(BAD) + 1
    assert sum(r.image is None for r in rows) == 2 * len(BAD) + 1
    good = [r for r in rows if r.image is not None]
    assert len(good) == 8 and all(r.error is None for r in good)
    assert all((r.image.height, r.image.width, r.image.nChannels) == (48, 48, 3) for r in good)
    assert all(r.error for r in rows if r.image is None)
    assert sparkdl.readImages(str(image_dir), recursive=True, dropInvalid=True).count() == 8
    # Lossless pixels come back exactly (BGR in Spark's image struct).
    png = next(r.image for r in good if r.image.origin.endswith("class0/img0.png"))
    expected = np.asarray(_picture(COLOURS[0], seed=0))
    np.testing.assert_array_equal(sparkdl.imageStructToArray(png)[:, :, ::-1], expected)


def _labelled(spark, image_dir):
    from pyspark.sql import functions as F

    images = sparkdl.readImages(str(image_dir), recursive=True, dropInvalid=True)
    return images.withColumn("label", F.element_at(F.split("image.origin", "/"), -2).substr(6, 1).cast("double"))


def test_featurizer_and_logistic_regression_fit_save_reload_predict(spark, image_dir, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression

    data = _labelled(spark, image_dir)
    featurizer = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="features", modelName="MobileNetV2")
    model = Pipeline(stages=[featurizer, LogisticRegression(maxIter=20, regParam=0.01)]).fit(data)
    predicted = {r.image.origin: (r.label, r.prediction) for r in model.transform(data).collect()}
    assert len(predicted) == 8
    assert all(label == prediction for label, prediction in predicted.values())
    assert "NativeEval" in model.transform(data)._jdf.queryExecution().optimizedPlan().toString()

    path = str(tmp_path / "pipeline")
    model.write().overwrite().save(path)
    loaded = PipelineModel.load(path)
    again = {r.image.origin: (r.label, r.prediction) for r in loaded.transform(data).collect()}
    assert again == predicted


def test_tf_image_transformer_with_a_saved_model(spark, image_dir, tmp_path):
    if not SAVED_MODEL:
        pytest.fail("SPARKDL_SMOKE_SAVED_MODEL is not set: run this suite through tests/spark_versions/run.py")
    model_copy = str(tmp_path / "saved_model")
    shutil.copytree(SAVED_MODEL, model_copy)
    images = sparkdl.readImages(str(image_dir), recursive=True, dropInvalid=True)
    t = sparkdl.TFImageTransformer(
        inputCol="image",
        outputCol="sums",
        modelPath=model_copy,
        inputTensor="x",
        outputTensor="sums",
        outputMode="array",
        batchSize=3,
    )
    rows = t.transform(images).collect()
    shutil.rmtree(model_copy)  # the stage carries the model's bytes
    assert len(rows) == 8
    for r in rows:
        rgb = sparkdl.imageStructToArray(r.image)[:, :, ::-1].astype(np.float64)
        np.testing.assert_allclose(r.sums, rgb.sum(axis=(0, 1)), rtol=1e-5)
        assert r.sums_error is None


def test_sql_functions(spark, image_dir):
    spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(image_dir)).createOrReplaceTempView(
        "smoke_files"
    )
    decoded = spark.sql("SELECT path, sparkdl_decode_image(content, path) AS image FROM smoke_files").collect()
    assert len(decoded) == 8 + 2 + 1  # Spark's binaryFile source skips the empty files
    assert sum(r.image is not None for r in decoded) == 8
    featurized = spark.sql(
        "SELECT image.origin AS origin, sparkdl_featurize(image, 'MobileNetV2') AS f "
        f"FROM sparkdl_read_images('{image_dir}', true, 2, true) WHERE image.height = 48"
    ).collect()
    assert len(featurized) == 8 and all(len(r.f) == 1280 for r in featurized)
    top = spark.sql(
        "SELECT sparkdl_predict(content, 'MobileNetV2', 2) AS top FROM smoke_files WHERE path LIKE '%img0.png'"
    ).collect()
    assert len(top) == 1 and len(top[0].top) == 2 and top[0].top[0].probability >= top[0].top[1].probability


def test_nearest_neighbors_table_function(spark, image_dir):
    # The index reads Spark's internal rows (SparkdlBridge.keyedFloatArrays), the function is a
    # table function of the extension: both per minor.
    spark.sql(
        "SELECT image.origin AS id, sparkdl_featurize(image, 'MobileNetV2') AS features "
        f"FROM sparkdl_read_images('{image_dir}', true, 2, true) WHERE image.height = 48"
    ).createOrReplaceTempView("smoke_index")
    spark.sql("SELECT id AS qid, features FROM smoke_index").createOrReplaceTempView("smoke_queries")
    rows = spark.sql(
        "SELECT qid, neighbors FROM sparkdl_nearest_neighbors('smoke_index', 'smoke_queries', 2)"
    ).collect()
    assert len(rows) == 8
    for r in rows:
        best, second = r.neighbors
        assert best.id == r.qid and best.score >= 1 - 1e-5, r
        # The nearest other picture has the same colour (the same folder).
        assert Path(second.id).parent.name == Path(r.qid).parent.name, r
    import pyspark

    if tuple(int(p) for p in pyspark.__version__.split(".")[:2]) >= (4, 2):
        # Spark 4.2's vector functions take sparkdl's features as they are, with the same scores.
        for r in rows:
            got = spark.sql(
                "SELECT vector_cosine_similarity(q.features, i.features) AS s FROM smoke_queries q "
                f"JOIN smoke_index i ON q.qid = '{r.qid}' AND i.id = '{r.neighbors[1].id}'"
            ).head()
            assert abs(got.s - r.neighbors[1].score) <= 1e-4, (got, r)


def test_a_registered_model_as_sql_function(spark, image_dir):
    # Spark 4.2 keys temporary functions by system.session.<name> (TempFunctions, per minor).
    if not SAVED_MODEL:
        pytest.fail("SPARKDL_SMOKE_SAVED_MODEL is not set: run this suite through tests/spark_versions/run.py")
    t = sparkdl.TFImageTransformer(
        inputCol="image",
        outputCol="sums",
        modelPath=SAVED_MODEL,
        inputTensor="x",
        outputTensor="sums",
        outputMode="array",
    )
    sparkdl.registerModel("smoke_sums", t, spark=spark)
    rows = spark.sql(
        f"SELECT image, smoke_sums(image) AS sums FROM sparkdl_read_images('{image_dir}', true, 2, true)"
    ).collect()
    assert len(rows) == 8
    for r in rows:
        rgb = sparkdl.imageStructToArray(r.image)[:, :, ::-1].astype(np.float64)
        np.testing.assert_allclose(r.sums, rgb.sum(axis=(0, 1)), rtol=1e-5)


def test_structured_streaming_through_the_native_node(spark, image_dir, tmp_path):
    if not SAVED_MODEL:
        pytest.fail("SPARKDL_SMOKE_SAVED_MODEL is not set: run this suite through tests/spark_versions/run.py")
    stream_dir = tmp_path / "incoming"
    shutil.copytree(image_dir / "class1", stream_dir)
    files = (
        spark.readStream.format("binaryFile")
        .option("maxFilesPerTrigger", 2)
        .schema("path string, modificationTime timestamp, length long, content binary")
        .load(str(stream_dir))
    )
    t = sparkdl.TFImageTransformer(
        inputCol="content",
        outputCol="sums",
        modelPath=SAVED_MODEL,
        inputTensor="x",
        outputTensor="sums",
        outputMode="array",
    )
    query = (
        t.transform(files)
        .select("path", "sums", "sums_error")
        .writeStream.format("memory")
        .queryName("smoke_stream")
        .trigger(availableNow=True)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    try:
        query.awaitTermination()
        assert query.exception() is None
        rows = spark.sql("SELECT * FROM smoke_stream").collect()
        assert query.lastProgress is not None
    finally:
        query.stop()
    assert len(rows) == 4 + 1  # the empty file is skipped by the source
    good = [r for r in rows if r.sums is not None]
    assert len(good) == 4 and all(r.sums_error is None for r in good)
    assert all(r.sums_error for r in rows if r.sums is None)
    # Blue pictures: the blue channel's sum is the largest.
    assert all(r.sums[2] > r.sums[0] for r in good)


def test_images_and_onnx_models_without_tensorflow(image_dir):
    """A user who only runs ONNX models needs no TensorFlow: in a process where none can be found
    (this venv has no tensorflow package, and SPARKDL_TENSORFLOW_LIB_DIR is unset), images are
    read, an ONNX model and MobileNetV2 on its default engine (ONNX Runtime) run, and only a
    TensorFlow model asks for TensorFlow."""
    import json
    import subprocess

    if not ONNX_MODEL:
        pytest.fail("SPARKDL_SMOKE_ONNX_MODEL is not set: run this suite through tests/spark_versions/run.py")
    script = f"""
import json, sparkdl
spark = sparkdl.session(master="local[2]", conf={{"spark.ui.enabled": "false"}})
images = sparkdl.readImages({str(image_dir)!r}, recursive=True).filter("image IS NOT NULL")
means = sparkdl.ONNXImageTransformer(inputCol="image", outputCol="m", modelFile={ONNX_MODEL!r}, outputMode="array")
rows = means.transform(images).select("image.origin", "m").collect()
f = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="f", modelName="MobileNetV2", outputMode="array")
sizes = sorted({{len(r.f) for r in f.transform(images).collect()}})
try:
    sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="f", modelName="MobileNetV2",
                                engine="tensorflow").transform(images).collect()
    tf_error = None
except Exception as e:
    tf_error = str(e)
print("RESULT " + json.dumps({{"means": [[r.origin, r.m] for r in rows], "sizes": sizes, "tf_error": tf_error}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "SPARKDL_TENSORFLOW_LIB_DIR"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT ") :])
    assert len(result["means"]) == 8 and result["sizes"] == [1280]
    for origin, m in result["means"]:
        red, blue = (m[0], m[2])
        assert (red > blue) if "class0" in origin else (blue > red), (origin, m)
    assert result["tf_error"] and "TensorFlow was not found" in result["tf_error"], result["tf_error"]


def test_a_jar_for_another_spark_minor_is_refused_at_once(tmp_path):
    """The JVM-side guard: a sparkdl jar built for another minor fails the session at start,
    naming the jar to use, instead of a NoSuchMethodError in a task later."""
    import pyspark

    from sparkdl import _jvm

    minor = ".".join(pyspark.__version__.split(".")[:2])
    others = [m for m in reversed(_jvm.SUPPORTED_SPARK) if m != minor]
    jars = [j for j in (_jvm._BUNDLED_JARS / _jvm.jar_name(m) for m in others) if j.is_file()]
    assert jars, "run.py needs the default Spark's jar besides this one (make python)"
    script = (
        "from pyspark.sql import SparkSession\n"
        "try:\n"
        "    SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')"
        f".config('spark.jars', {str(jars[0])!r})"
        ".config('spark.sql.extensions', 'org.sparkdl.sql.SparkdlExtensions').getOrCreate()\n"
        "    print('STARTED')\n"
        "except Exception as e:\n"
        "    print('REFUSED', e)\n"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(tmp_path)).stdout
    assert "REFUSED" in out, out
    assert f"but this is Spark {pyspark.__version__}" in out, out
    assert f"org.sparkdl:sparkdl-spark{minor}_2.13" in out, out
