"""Models as SQL functions from Python: sparkdl's own, registerModel and registerKerasImageUDF."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

import sparkdl


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """coffee.png (an espresso) and four small RGB pictures of 32x32."""
    import skimage

    d = tmp_path_factory.mktemp("sql_photos")
    shutil.copy(os.path.join(os.path.dirname(skimage.__file__), "data", "coffee.png"), d / "coffee.png")
    rng = np.random.default_rng(3)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(d / f"small{i}.png")
    return d


def test_sparkdl_functions_in_sql(spark, photos):
    rows = spark.sql(
        f"SELECT path, sparkdl_predict(content, 'MobileNetV2', 2) AS top, "
        f"sparkdl_featurize(content, 'MobileNetV2') AS f, "
        f"sparkdl_decode_image(content, path).width AS w FROM binaryFile.`{photos}`"
    ).collect()
    assert len(rows) == 5
    coffee = [r for r in rows if r.path.endswith("coffee.png")][0]
    assert coffee.top[0].description == "espresso" and len(coffee.top) == 2
    assert len(coffee.f) == 1280 and coffee.w == 600
    assert all(r.w == 32 for r in rows if "small" in r.path)


def test_register_model_and_pipeline(spark, photos):
    from pyspark.ml import Pipeline

    images = sparkdl.readImages(str(photos))
    images.createOrReplaceTempView("sql_images")
    featurizer = sparkdl.DeepImageFeaturizer(
        inputCol="image", outputCol="f", modelName="MobileNetV2", outputMode="array"
    )
    sparkdl.registerModel("mobilenet_features", featurizer)
    got = spark.sql("SELECT image.origin AS o, mobilenet_features(image) AS f FROM sql_images").collect()
    direct = {r.image.origin: r.f for r in featurizer.transform(images).collect()}
    assert len(got) == 5 and all(np.allclose(r.f, direct[r.o], rtol=1e-5, atol=1e-5) for r in got)

    predictor = sparkdl.DeepImagePredictor(
        inputCol="image", outputCol="p", modelName="MobileNetV2", decodePredictions=True, topK=1
    )
    model = Pipeline(stages=[predictor]).fit(images)
    sparkdl.registerModel("top1", model)
    top = spark.sql(
        "SELECT top1(image)[0].description AS d FROM sql_images WHERE image.origin LIKE '%coffee.png'"
    ).collect()
    assert [r.d for r in top] == ["espresso"]

    with pytest.raises(ValueError, match="cannot be a SQL function"):
        sparkdl.registerModel("x", sparkdl.KerasTransformer(inputCol="a", outputCol="b"))


def _small_keras_model():
    import keras

    inp = keras.Input(shape=(32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(3, activation="softmax")(x)
    return keras.Model(inp, out)


def test_register_keras_image_udf_without_and_with_preprocessor(spark, photos, tmp_path):
    model = _small_keras_model()
    images = sparkdl.readImages(str(photos))
    images.createOrReplaceTempView("keras_images")

    # Without a preprocessor: 32x32 pictures go in as they are (RGB, 0-255).
    sparkdl.registerKerasImageUDF("small_model", model)
    got = {
        r.o: r.p
        for r in spark.sql(
            "SELECT image.origin AS o, small_model(image) AS p FROM keras_images WHERE image.origin LIKE '%small%'"
        ).collect()
    }
    assert len(got) == 4
    for origin, p in got.items():
        path = origin[len("file://") :]
        x = np.asarray(Image.open(path).convert("RGB"), np.float32)[None]
        assert np.allclose(p, model.predict(x, verbose=0)[0], atol=1e-5), origin

    # With the original's preprocessor contract: a path to a uint8 array of the input shape.
    def preprocess(path):
        return np.asarray(Image.open(path).convert("RGB").resize((32, 32)), np.uint8)

    path = str(tmp_path / "small.keras")
    model.save(path)
    sparkdl.registerKerasImageUDF("small_model_pre", path, preprocessor=preprocess)
    rows = spark.sql("SELECT image.origin AS o, small_model_pre(image) AS p FROM keras_images").collect()
    assert len(rows) == 5
    for r in rows:
        x = preprocess(r.o[len("file://") :]).astype(np.float32)[None]
        assert np.allclose(r.p, model.predict(x, verbose=0)[0], atol=1e-5), r.o
