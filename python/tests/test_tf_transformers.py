"""TFImageTransformer / TFTransformer from PySpark: outputs equal TensorFlow's own (Python)
outputs on the same inputs, for batch sizes 1, 7 and 64 over uneven partitions."""

import os
import runpy
import sys

import numpy as np
import pytest
import tensorflow as tf  # make test installs it; a missing TensorFlow must fail, not skip
from PIL import Image

import sparkdl
from sparkdl import TFImageTransformer, TFTransformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(7)
    for i in range(23):
        h, w = 20 + i % 5, 24 + i % 3
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / f"p{i:02d}.png")
    return str(d)


def conv_model():
    """A tiny conv net with fixed random weights, taking (None, 16, 16, 3) RGB floats."""
    inp = tf.keras.Input((16, 16, 3))
    x = tf.keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Dense(5)(x)
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.1 for w in model.get_weights()])
    return model


def test_image_outputs_equal_tensorflow_for_batch_sizes_1_7_64(spark, photo_dir):
    from sparkdl.transformers.graph import freeze_function, frozen_io_names

    model = conv_model()
    frozen = freeze_function(model)
    (inp,), (out,) = frozen_io_names(model)
    images = sparkdl.readImages(photo_dir).repartition(3).cache()
    rows = images.collect()
    # TensorFlow's own answer: the same resize (nearest, exact) done here in numpy.
    expected = {}
    for r in rows:
        arr = sparkdl.imageStructToArray(r.image)[:, :, ::-1].astype(np.float32)  # BGR -> RGB
        # Nearest neighbour at pixel centres (the documented "nearest" of resizeMethod).
        ys = np.floor((np.arange(16) + 0.5) * arr.shape[0] / 16).astype(int)
        xs = np.floor((np.arange(16) + 0.5) * arr.shape[1] / 16).astype(int)
        expected[r.image.origin] = model(arr[ys][:, xs][None], training=False).numpy()[0]
    for batch in (1, 7, 64):
        t = TFImageTransformer(
            inputCol="image",
            outputCol="y",
            graph=frozen,
            inputTensor=inp,
            outputTensor=out,
            outputMode="array",
            resizeMethod="nearest",
            batchSize=batch,
        )
        got = t.transform(images).select("image.origin", "y", "y_error").collect()
        assert len(got) == 23
        for r in got:
            assert r.y_error is None
            np.testing.assert_allclose(r.y, expected[r.origin], rtol=1e-4, atol=1e-4)


def test_tf_transformer_on_a_keras_model_and_vectors(spark):
    from pyspark.ml.linalg import Vectors

    inp = tf.keras.Input((4,))
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, activation="tanh")(inp))
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(50, 4)).astype("float32")
    df = spark.createDataFrame([(i, Vectors.dense(x.tolist())) for i, x in enumerate(xs)], ["id", "x"]).repartition(4)
    from sparkdl.transformers.graph import frozen_io_names

    (tin,), (tout,) = frozen_io_names(model)
    t = TFTransformer(graph=model, inputMapping={"x": tin}, outputMapping={tout: "y"}, batchSize=7)
    got = {r.id: r.y for r in t.transform(df).collect()}
    expected = model.predict(xs, verbose=0)
    for i in range(50):
        np.testing.assert_allclose(got[i], expected[i], rtol=1e-5, atol=1e-5)


def test_stage_saves_and_loads_with_its_graph(spark, photo_dir, tmp_path):
    from sparkdl.transformers.graph import freeze_function, frozen_io_names

    model = conv_model()
    (inp,), (out,) = frozen_io_names(model)
    t = TFImageTransformer(
        inputCol="image", outputCol="v", graph=freeze_function(model), inputTensor=inp, outputTensor=out
    )
    images = sparkdl.readImages(photo_dir)
    before = [r.v for r in t.transform(images).orderBy("image.origin").collect()]
    t.save(str(tmp_path / "stage"))
    loaded = TFImageTransformer.load(str(tmp_path / "stage"))
    assert loaded.getOrDefault("outputTensor") == out
    after = [r.v for r in loaded.transform(images).orderBy("image.origin").collect()]
    assert before == after


def test_params_changed_or_cleared_between_transforms_reach_the_jvm(spark, photo_dir):
    """Params are sent to the JVM stage only when they changed since the last transform (see
    _ParamsSentOnce); a change, a clear and a copy must still all take effect."""
    from sparkdl.transformers.graph import freeze_function, frozen_io_names

    model = conv_model()
    (inp,), (out,) = frozen_io_names(model)
    images = sparkdl.readImages(photo_dir).limit(3)
    t = TFImageTransformer(
        inputCol="image",
        outputCol="v",
        graph=freeze_function(model),
        inputTensor=inp,
        outputTensor=out,
        outputMode="array",
        errorCol="why",
    )
    assert t.transform(images).columns[-2:] == ["v", "why"]
    t.setOutputCol("w")
    assert t.transform(images).columns[-2:] == ["w", "why"]
    t.clear(t.errorCol)  # back to the default, <outputCol>_error
    assert t.transform(images).columns[-2:] == ["w", "w_error"]
    assert not t._java_obj.isSet(t._java_obj.getParam("errorCol"))
    copied = t.copy({t.outputCol: "c"})
    assert copied.transform(images).columns[-2:] == ["c", "c_error"]
    assert t.transform(images).columns[-2:] == ["w", "w_error"]
    t.setOutputMode("vector")
    assert dict(t.transform(images).dtypes)["w"] == "vector"
    # Nothing changed: the transfer sends nothing (no py4j call reaches the JVM stage).
    sent = []
    java = t._java_obj

    class Spy:
        def __getattr__(self, name):
            sent.append(name)
            return getattr(java, name)

    t._java_obj = Spy()
    t._sent_to = t._java_obj
    t._transfer_params_to_java()
    assert sent == []
    t._java_obj = java
    t._sent_to = java


def test_wrong_tensor_name_fails_on_the_driver(spark, photo_dir):
    from sparkdl.transformers.graph import freeze_function

    t = TFImageTransformer(
        inputCol="image",
        outputCol="v",
        graph=freeze_function(conv_model()),
        inputTensor="nope:0",
        outputTensor="Identity:0",
    )
    with pytest.raises(Exception, match="no tensor 'nope:0'"):
        t.transform(sparkdl.readImages(photo_dir))


def test_the_announcements_tensorflow_example_runs(spark, photo_dir):
    sys.argv = ["tf_image_transformer.py", photo_dir]
    ns = runpy.run_path(os.path.join(ROOT, "examples", "tf_image_transformer.py"))
    rows = ns["tf_trans_df"].select("transformed_img").collect()
    assert len(rows) == 23
    for r in rows:
        img = r.transformed_img
        assert (img.height, img.width, img.nChannels) == (299, 299, 3)
        assert len(img.data) == 299 * 299 * 3 * 4
