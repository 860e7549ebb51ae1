"""KerasTransformer / KerasImageFileTransformer (Keras 3 model files run natively), the
announcement's Keras example, SavedModels through modelPath, native freezing from Python, and
PipelineModels holding sparkdl stages saved and loaded from PySpark."""

import os
import runpy
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf  # make test installs it; a missing TensorFlow must fail, not skip
from PIL import Image

# Spark's Python workers cannot import this test module: ship its functions by value.
from pyspark import cloudpickle  # noqa: E402

from sparkdl import KerasImageFileTransformer, KerasTransformer, TFTransformer

cloudpickle.register_pickle_by_value(sys.modules[__name__])

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def uri_dir(tmp_path_factory):
    """Seven RGB pictures of different sizes, and one file that is not an image."""
    d = tmp_path_factory.mktemp("uris")
    rng = np.random.default_rng(11)
    for i in range(7):
        Image.fromarray(rng.integers(0, 256, (30 + 9 * i, 41 + 5 * i, 3), dtype=np.uint8)).save(d / f"u{i}.png")
    (d / "zz_bad.jpg").write_text("not an image")
    return str(d)


def dense_model_file(path):
    inp = keras.Input((6,))
    out = keras.layers.Dense(4, activation="tanh")(keras.layers.Dense(8, activation="relu")(inp))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(2)
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    model.save(path)
    return model


def small_image_model_file(path):
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(3, 3, activation="relu")(inp)
    out = keras.layers.Dense(5, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3 for w in model.get_weights()])
    model.save(path)
    return model


def load12(uri):
    """A module-level loader (pickled by reference); returns (12, 12, 3) in [0, 1]."""
    from PIL import Image as _Image

    return np.asarray(_Image.open(uri).convert("RGB").resize((12, 12)), dtype=np.float32) / 255.0


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_transformer_equals_model_predict(spark, tmp_path, suffix):
    model = dense_model_file(str(tmp_path / f"dense{suffix}"))
    rng = np.random.default_rng(9)
    xs = rng.normal(size=(61, 6)).astype("float32")
    rows = [(i, f"r{i}", xs[i].tolist()) for i in range(61)] + [(61, "null", None), (62, "short", [1.0, 2.0])]
    df = spark.createDataFrame(rows, "id long, tag string, x array<float>").repartition(3)
    expected = model.predict(xs, verbose=0)
    for batch in (1, 7, 64):
        t = KerasTransformer(inputCol="x", outputCol="y", modelFile=str(tmp_path / f"dense{suffix}"), batchSize=batch)
        out = t.transform(df)
        assert out.columns == ["id", "tag", "x", "y", "y_error"]
        got = out.collect()
        assert len(got) == 63
        for r in got:
            if r.id < 61:
                assert r.tag == f"r{r.id}" and r.y_error is None
                np.testing.assert_allclose(r.y, expected[r.id], rtol=1e-5, atol=1e-5)
            else:
                assert r.y is None and r.y_error, r


def test_keras_transformer_names_a_missing_column(spark, tmp_path):
    dense_model_file(str(tmp_path / "m.keras"))
    df = spark.createDataFrame([([1.0] * 6,)], "features array<float>")
    t = KerasTransformer(inputCol="x", outputCol="y", modelFile=str(tmp_path / "m.keras"))
    with pytest.raises(ValueError, match="inputCol: no column 'x'"):
        t.transform(df)
    with pytest.raises(ValueError, match="modelFile: no such file"):
        KerasTransformer(inputCol="features", outputCol="y", modelFile=str(tmp_path / "nope.keras")).transform(df)


def test_keras_image_file_transformer_rows_and_errors(spark, uri_dir, tmp_path):

    model = small_image_model_file(str(tmp_path / "img.keras"))
    files = sorted(os.path.join(uri_dir, f) for f in os.listdir(uri_dir))
    df = spark.createDataFrame([(i, f) for i, f in enumerate(files)] + [(99, None)], "id int, uri string").repartition(
        2
    )
    expected = {f: model(load12(f)[None], training=False).numpy()[0] for f in files if not f.endswith("bad.jpg")}
    for batch in (1, 7, 64):
        calls = spark.sparkContext.accumulator(0)

        def counting_loader(uri):
            calls.add(1)
            return load12(uri)

        t = KerasImageFileTransformer(
            inputCol="uri",
            outputCol="p",
            modelFile=str(tmp_path / "img.keras"),
            imageLoader=counting_loader,
            batchSize=batch,
        )
        out = t.transform(df)
        assert out.columns == ["id", "uri", "p", "p_error"]
        got = out.collect()
        assert len(got) == 9
        assert calls.value == 8  # once per non-null URI: the loader runs once per row
        for r in got:
            if r.uri in expected:
                assert r.p_error is None
                np.testing.assert_allclose(r.p.toArray(), expected[r.uri], rtol=1e-4, atol=1e-5)
            elif r.uri is None:
                assert r.p is None and "null" in r.p_error
            else:
                assert r.p is None and "imageLoader failed on" in r.p_error and "bad.jpg" in r.p_error
    # A loader returning the wrong shape is a row error naming both shapes.
    wrong = KerasImageFileTransformer(
        inputCol="uri",
        outputCol="p",
        modelFile=str(tmp_path / "img.keras"),
        imageLoader=lambda u: np.zeros((10, 10, 3)),
        outputMode="array",
    )
    r = wrong.transform(spark.createDataFrame([(files[0],)], "uri string")).first()
    assert r.p is None and "(10, 10, 3)" in r.p_error and "(12, 12, 3)" in r.p_error
    with pytest.raises(ValueError, match="inputCol: column 'id' is int"):
        KerasImageFileTransformer(
            inputCol="id", outputCol="p", modelFile=str(tmp_path / "img.keras"), imageLoader=load12
        ).transform(df)


def test_pipeline_with_keras_and_tf_stages_saves_and_loads_without_the_model_file(spark, uri_dir, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel

    model_file = str(tmp_path / "copy.keras")
    small_image_model_file(model_file)
    files = sorted(os.path.join(uri_dir, f) for f in os.listdir(uri_dir))
    df = spark.createDataFrame([(f,) for f in files], "uri string")
    keras_stage = KerasImageFileTransformer(
        inputCol="uri",
        outputCol="p",
        modelFile=model_file,
        imageLoader=lambda u: load12(u) * 2.0 - 1.0,
        outputMode="array",
    )
    # A JVM stage after it: y = sum of the 5 probabilities (a graph built here).
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float64, [None, 5], name="x")
        tf.reduce_sum(x, axis=1, keepdims=True, name="s")
    tf_stage = TFTransformer(
        graph=g.as_graph_def(), inputMapping={"p": "x:0"}, outputMapping={"s:0": "total"}, errorCol="total_error"
    )
    fitted = Pipeline(stages=[keras_stage, tf_stage]).fit(df)
    before = [(r.uri, r.p, r.total) for r in fitted.transform(df).orderBy("uri").collect()]
    fitted.write().overwrite().save(str(tmp_path / "pipe"))
    os.remove(model_file)
    loaded = PipelineModel.load(str(tmp_path / "pipe"))
    assert [type(s).__name__ for s in loaded.stages] == ["KerasImageFileTransformer", "TFTransformer"]
    after = [(r.uri, r.p, r.total) for r in loaded.transform(df).orderBy("uri").collect()]
    assert after == before
    assert sum(1 for _, p, _ in after if p is not None) == 7
    for _, p, total in after:
        if p is not None:
            assert abs(total[0] - 1.0) < 1e-5


def test_pipeline_of_jvm_stages_loads_in_python(spark, tmp_path):
    """A PipelineModel of only JVM stages is saved by Spark's Scala writer; PySpark maps the
    stage class names back to Python through the `org.sparkdl.transformers` alias package."""
    from pyspark.ml import Pipeline, PipelineModel

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        tf.multiply(x, 3.0, name="y")
    stage = TFTransformer(graph=g.as_graph_def(), inputMapping={"v": "x"}, outputMapping={"y": "w"})
    df = spark.createDataFrame([([1.0, 2.0],), ([0.5, -1.0],)], "v array<float>")
    fitted = Pipeline(stages=[stage]).fit(df)
    fitted.write().overwrite().save(str(tmp_path / "jvm-pipe"))
    loaded = PipelineModel.load(str(tmp_path / "jvm-pipe"))
    assert isinstance(loaded.stages[0], TFTransformer)
    assert [r.w for r in loaded.transform(df).collect()] == [[3.0, 6.0], [1.5, -3.0]]


def test_tf2_saved_model_through_model_path_with_signature_names(spark, tmp_path):
    class Scaler(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([[1.0, -2.0, 0.5], [0.25, 1.0, -1.0]])

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
        def __call__(self, x):
            return {"scores": tf.matmul(x, self.w)}

    module = Scaler()
    path = str(tmp_path / "saved")
    tf.saved_model.save(module, path, signatures=module.__call__)
    rng = np.random.default_rng(5)
    xs = rng.normal(size=(19, 2)).astype("float32")
    df = spark.createDataFrame([(i, xs[i].tolist()) for i in range(19)], "id int, x array<float>").repartition(3)
    t = TFTransformer(modelPath=path, inputMapping={"x": "x"}, outputMapping={"scores": "s"}, batchSize=7)
    shutil.copytree(path, str(tmp_path / "moved"))
    shutil.rmtree(path)  # the stage holds the model's bytes
    expected = module(tf.constant(xs))["scores"].numpy()
    jvm_tmp = Path(spark._jvm.java.lang.System.getProperty("java.io.tmpdir"))
    unzipped_before = set(jvm_tmp.glob("sparkdl-savedmodel-*"))
    got = {r.id: r.s for r in t.transform(df).collect()}
    for i in range(19):
        np.testing.assert_allclose(got[i], expected[i], rtol=1e-6, atol=1e-6)
    # The executor unzips the SavedModel only to load it: no folder is left behind.
    assert set(jvm_tmp.glob("sparkdl-savedmodel-*")) == unzipped_before


def test_native_freeze_from_python(spark):
    from sparkdl.transformers import utils

    tf1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        w = tf1.get_variable("w", initializer=tf.constant([[1.0], [2.0], [-1.0]]), use_resource=False)
        y = tf.identity(tf.matmul(x, w) + 0.5, name="y")
        tf1.get_variable("unused", initializer=tf.zeros([1000]), use_resource=False)
    frozen = utils.freezeGraph(g.as_graph_def(), [y])
    gd = tf1.GraphDef.FromString(frozen)
    ops = {n.op for n in gd.node}
    assert "VariableV2" not in ops and not any(n.name.startswith("unused") for n in gd.node)
    df = spark.createDataFrame([([1.0, 1.0, 1.0],), ([0.0, 2.0, 1.0],)], "x array<float>")
    t = TFTransformer(graph=frozen, inputMapping={"x": "x:0"}, outputMapping={"y:0": "y"})
    assert [r.y for r in t.transform(df).collect()] == [[2.5], [3.5]]


def test_the_announcements_keras_example_runs(spark, uri_dir):
    sys.argv = ["keras_image_file_transformer.py", uri_dir]
    # As a script (`__main__`): cloudpickle then ships its loader function by value.
    ns = runpy.run_path(os.path.join(ROOT, "examples", "keras_image_file_transformer.py"), run_name="__main__")
    rows = ns["keras_pred_df"].collect()
    assert len(rows) == 8
    model, load = ns["model"], ns["loadAndPreprocessKerasInceptionV3"]
    for r in rows:
        if r.uri.endswith("bad.jpg"):
            assert r.predictions is None and "imageLoader failed" in r.predictions_error
            continue
        assert r.predictions_error is None and len(r.predictions) == 1000
        direct = model(load(r.uri), training=False).numpy()[0]
        np.testing.assert_allclose(r.predictions.toArray(), direct, rtol=1e-4, atol=1e-4)
