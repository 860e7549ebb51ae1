"""readImages / readImageFiles / tensorflow_version: these call the sparkdl JVM
library, so they need the sparkdl jar (see the ``spark`` fixture in conftest.py:
without the jar they fail, with instructions, rather than skip).

The argument-validation tests at the end need no jar: arguments are checked in
Python before the JVM is called.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyspark.sql.functions import col
from sparkdl_testkit import BAD_FILES, GOOD_FILES, LOSSLESS_FILES

import sparkdl
from sparkdl.image.imageIO import (
    imageSchema,
    imageStructToArray,
    imageStructToPIL,
    readImageFiles,
    readImages,
)

ALL_FILES = GOOD_FILES + BAD_FILES
CHANNELS = {"rgb.png": 3, "grey.png": 1, "rgba.png": 4, "bgr.bmp": 3, "photo.jpg": 3}


def _name(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


def _fields(struct_type):
    """(name, type) of a struct's fields, ignoring nullability."""
    return [(f.name, f.dataType.simpleString()) for f in struct_type.fields]


def _pil_pixels(path: Path) -> np.ndarray:
    """What PIL decodes, as an array in the image struct's BGR(A) channel order."""
    img = Image.open(path)
    img.load()
    arr = np.asarray(img)
    if arr.ndim == 2:
        return arr[:, :, np.newaxis]
    if arr.shape[2] == 3:
        return arr[:, :, ::-1]
    return arr[:, :, [2, 1, 0, 3]]


# ---------------------------------------------------------------------------
# Session
# ---------------------------------------------------------------------------


def test_session_has_jar_and_tensorflow_dir(spark):
    conf = spark.sparkContext.getConf()
    assert sparkdl.jar_path() in conf.get("spark.jars").split(",")
    lib_dir = sparkdl._jvm.tensorflow_lib_dir()
    if lib_dir is not None and "SPARKDL_TENSORFLOW_LIB_DIR" not in os.environ:
        assert conf.get("spark.sparkdl.tensorflow.libDir") == lib_dir
    # An active session with the jar is returned as it is.
    assert sparkdl.session() is spark or sparkdl.session()._jsparkSession.equals(spark._jsparkSession)


def test_tensorflow_version(spark):
    version = sparkdl.tensorflow_version(spark)
    assert isinstance(version, str)
    assert version.startswith("2."), version
    assert sparkdl.tensorflow_version() == version  # the active session


# ---------------------------------------------------------------------------
# readImages
# ---------------------------------------------------------------------------


def test_read_images_keeps_invalid_files(spark, image_dir):
    df = readImages(str(image_dir), spark=spark)
    assert df.columns == ["image", "error"]
    assert _fields(df.schema["image"].dataType) == _fields(imageSchema)
    assert df.schema["error"].dataType.simpleString() == "string"

    rows = df.collect()
    names = []
    for row in rows:
        if row.image is not None:
            names.append(_name(row.image.origin))
        else:
            assert row.error, f"a row with a null image and no error: {row}"
            names.append(None)
    good = {n: r for n, r in zip(names, rows) if n is not None}
    assert sorted(good) == sorted(GOOD_FILES), (
        f"expected decoded images for {sorted(GOOD_FILES)}, got {sorted(good)}; errors: "
        f"{[r.error for r in rows if r.image is None]}"
    )
    assert len(rows) == len(ALL_FILES), "expected one row per file, bad files included"
    bad = [r for r in rows if r.image is None]
    assert len(bad) == len(BAD_FILES)
    for row in bad:
        assert isinstance(row.error, str) and row.error.strip(), row

    for name, row in good.items():
        assert row.error is None, f"{name}: {row.error}"
        image = row.image
        assert image.origin.startswith("file:"), image.origin
        assert image.nChannels == CHANNELS[name], name
        assert image.mode == {1: 0, 3: 16, 4: 24}[image.nChannels], name
        pixels = imageStructToArray(image)
        expected = _pil_pixels(image_dir / name)
        assert pixels.shape == expected.shape, name
        if name in LOSSLESS_FILES:
            np.testing.assert_array_equal(pixels, expected, err_msg=name)
        else:  # JPEG decoders may round differently
            diff = np.abs(pixels.astype(int) - expected.astype(int))
            assert diff.mean() < 2.0 and diff.max() <= 16, (name, diff.mean(), diff.max())


def test_read_images_bgr_order(spark, tmp_path):
    Image.new("RGB", (2, 1), (255, 0, 0)).save(tmp_path / "red.png")
    (row,) = readImages(str(tmp_path), spark=spark).collect()
    assert row.error is None
    assert imageStructToArray(row.image)[0, 0].tolist() == [0, 0, 255]  # B, G, R
    assert imageStructToPIL(row.image).getpixel((1, 0)) == (255, 0, 0)


def test_read_images_drop_invalid(spark, image_dir):
    rows = readImages(str(image_dir), dropInvalid=True, spark=spark).collect()
    assert sorted(_name(r.image.origin) for r in rows) == sorted(GOOD_FILES)
    assert all(r.error is None for r in rows)


def test_read_images_matches_spark_image_source(spark, image_dir):
    ours = (
        readImages(str(image_dir), dropInvalid=True, spark=spark)
        .select(col("image").alias("ours"))
        .where(col("ours.origin").rlike(r"\.(png|bmp)$"))
    )
    spark_images = (
        spark.read.format("image")
        .option("dropInvalid", True)
        .load(str(image_dir))
        .select(col("image").alias("theirs"))
        .where(col("theirs.origin").rlike(r"\.(png|bmp)$"))
    )
    joined = ours.join(spark_images, col("ours.origin") == col("theirs.origin")).collect()
    ours_origins = sorted(r.ours.origin for r in ours.collect())
    theirs_origins = sorted(r.theirs.origin for r in spark_images.collect())
    assert len(joined) == len(LOSSLESS_FILES), f"origins differ: sparkdl {ours_origins} vs Spark {theirs_origins}"
    for row in joined:
        assert row.ours.asDict() == row.theirs.asDict(), _name(row.ours.origin)


def test_read_images_num_partitions(spark, image_dir):
    df = readImages(str(image_dir), numPartitions=3, spark=spark)
    assert df.rdd.getNumPartitions() == 3
    assert df.count() == len(ALL_FILES)


def test_read_images_recursive(spark, tmp_path):
    Image.new("L", (3, 3), 7).save(tmp_path / "top.png")
    (tmp_path / "sub").mkdir()
    Image.new("L", (2, 2), 9).save(tmp_path / "sub" / "nested.png")

    flat = readImages(str(tmp_path), spark=spark).collect()
    assert [_name(r.image.origin) for r in flat] == ["top.png"]
    deep = readImages(str(tmp_path), recursive=True, spark=spark).collect()
    assert sorted(_name(r.image.origin) for r in deep) == ["nested.png", "top.png"]


@pytest.mark.parametrize("reader", [readImages, readImageFiles])
def test_a_folder_of_sub_folders_without_recursive_says_to_pass_it(spark, tmp_path, reader):
    """photos/cats/*.jpg, photos/dogs/*.jpg read as "photos/": an error that says what to do,
    not an empty DataFrame that fails much later (e.g. in a classifier's fit)."""
    from pyspark.errors import IllegalArgumentException

    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (4, 4), (200, 40, 40)).save(tmp_path / cls / "a.jpg")
    with pytest.raises(IllegalArgumentException) as e:
        reader(str(tmp_path), spark=spark)
    message = str(e.value)
    assert f"{tmp_path} holds no files, only sub-folders (cats/, dogs/)" in message, message
    assert "pass recursive=True (Python)" in message, message
    assert reader(str(tmp_path), recursive=True, spark=spark).count() == 2


def test_read_images_sample_ratio(spark, image_dir):
    df = readImages(str(image_dir), sampleRatio=0.5, spark=spark)
    assert df.columns == ["image", "error"]
    assert df.count() <= len(ALL_FILES)


def test_read_images_uses_active_session(spark, image_dir):
    assert readImages(str(image_dir), dropInvalid=True).count() == len(GOOD_FILES)


# ---------------------------------------------------------------------------
# readImageFiles
# ---------------------------------------------------------------------------


def test_read_image_files(spark, image_dir):
    df = readImageFiles(str(image_dir), spark=spark)
    assert df.columns == ["origin", "content"]
    assert [f.dataType.simpleString() for f in df.schema.fields] == ["string", "binary"]
    rows = df.collect()
    assert sorted(_name(r.origin) for r in rows) == sorted(ALL_FILES)
    for row in rows:
        assert bytes(row.content) == (image_dir / _name(row.origin)).read_bytes(), row.origin


def test_read_image_files_num_partitions(spark, image_dir):
    df = readImageFiles(str(image_dir), numPartitions=3, spark=spark)
    assert df.rdd.getNumPartitions() == 3
    assert df.count() == len(ALL_FILES)


# ---------------------------------------------------------------------------
# Argument validation (no jar needed)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [0, 0.0, -0.5, 1.5, math.nan, "0.5", True, None])
@pytest.mark.parametrize("reader", [readImages, readImageFiles])
def test_bad_sample_ratio(reader, ratio, image_dir):
    with pytest.raises(ValueError, match=r"sampleRatio must be a number in \(0, 1\]"):
        reader(str(image_dir), sampleRatio=ratio)


@pytest.mark.parametrize("n", [0, -2, 1.5, "3", True])
@pytest.mark.parametrize("reader", [readImages, readImageFiles])
def test_bad_num_partitions(reader, n, image_dir):
    with pytest.raises(ValueError, match="numPartitions must be a positive integer or None"):
        reader(str(image_dir), numPartitions=n)


@pytest.mark.parametrize("path", ["", None, 42])
def test_bad_path(path):
    with pytest.raises(ValueError, match="path must be a non-empty string"):
        readImages(path)
