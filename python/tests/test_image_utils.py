"""Image struct helpers, the resize UDF and filesToDF. Needs no sparkdl jar."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from pyspark.sql import SparkSession
from pyspark.sql.types import IntegerType, StructField, StructType
from sparkdl_testkit import MASTER, SPARK_CONF

import sparkdl
from sparkdl.image import imageIO
from sparkdl.image.imageIO import (
    PIL_to_imageStruct,
    createResizeImageUDF,
    filesToDF,
    imageArrayToStruct,
    imageSchema,
    imageStructToArray,
    imageStructToPIL,
    imageTypeByName,
    imageTypeByOrdinal,
    ocvTypes,
)


@pytest.fixture(scope="module")
def plain_spark():
    """A SparkSession for this module that does not need the sparkdl jar.

    An already active session is reused (and left running). When the jar exists the
    session is made by sparkdl.session(), so that the same JVM can serve the jar tests
    that may run later in this process; otherwise a plain local session is used.
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    try:
        sparkdl.jar_path()
        have_jar = True
    except FileNotFoundError:
        have_jar = False
    if have_jar:
        session = sparkdl.session(master=MASTER, conf=SPARK_CONF)
    else:
        builder = SparkSession.builder.master(MASTER).appName("sparkdl-tests")
        for key, value in SPARK_CONF.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    yield session
    session.stop()


def _rand(shape, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.uint8:
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    return rng.standard_normal(size=shape).astype(dtype)


# ---------------------------------------------------------------------------
# Schema and OpenCV types
# ---------------------------------------------------------------------------


def test_image_schema_equals_spark(plain_spark):
    from pyspark.ml.image import ImageSchema

    assert imageSchema == ImageSchema.imageSchema["image"].dataType
    assert imageIO.imageFields == ImageSchema.imageFields


def test_ocv_types_match_spark_and_opencv(plain_spark):
    from pyspark.ml.image import ImageSchema

    for name, ordinal in ImageSchema.ocvTypes.items():
        if name != "Undefined":
            assert ocvTypes[name] == ordinal
    assert ocvTypes["CV_8U"] == ocvTypes["CV_8UC1"] == 0
    assert ocvTypes["CV_8UC3"] == 16
    assert ocvTypes["CV_8UC4"] == 24
    assert ocvTypes["CV_32FC1"] == 5
    assert ocvTypes["CV_32FC3"] == 21
    assert ocvTypes["CV_32FC4"] == 29
    t = imageTypeByOrdinal(21)
    assert (t.name, t.nChannels, t.dtype) == ("CV_32FC3", 3, "float32")
    assert imageTypeByName("CV_8U") == imageTypeByOrdinal(0)
    with pytest.raises(ValueError, match="unknown OpenCV image mode 99"):
        imageTypeByOrdinal(99)
    with pytest.raises(ValueError, match="unknown OpenCV type name 'CV_9X'"):
        imageTypeByName("CV_9X")


# ---------------------------------------------------------------------------
# numpy <-> struct
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, dtype, mode",
    [
        ((4, 5), np.uint8, 0),
        ((4, 5, 1), np.uint8, 0),
        ((4, 5, 3), np.uint8, 16),
        ((4, 5, 4), np.uint8, 24),
        ((4, 5), np.float32, 5),
        ((4, 5, 1), np.float32, 5),
        ((4, 5, 3), np.float32, 21),
        ((4, 5, 4), np.float32, 29),
    ],
)
def test_array_struct_round_trip(shape, dtype, mode):
    arr = _rand(shape, dtype)
    row = imageArrayToStruct(arr, origin="mem://a")
    assert row.origin == "mem://a"
    assert (row.height, row.width, row.mode) == (4, 5, mode)
    assert row.nChannels == (shape[2] if len(shape) == 3 else 1)
    assert len(row.data) == arr.size * np.dtype(dtype).itemsize
    assert list(row.__fields__) == imageIO.imageFields

    back = imageStructToArray(row)
    assert back.dtype == np.dtype(dtype)
    assert back.shape == (4, 5, row.nChannels)
    np.testing.assert_array_equal(back, arr.reshape(back.shape))
    back[0, 0, 0] = 0  # a writable copy


def test_float64_is_cast_to_float32():
    arr = np.linspace(0, 1, 2 * 3 * 3).reshape(2, 3, 3)
    row = imageArrayToStruct(arr)
    assert row.mode == ocvTypes["CV_32FC3"]
    back = imageStructToArray(row)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, arr.astype(np.float32))


def test_struct_layout_is_row_major_interleaved():
    arr = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    row = imageArrayToStruct(arr)
    assert bytes(row.data) == bytes(range(18))
    farr = np.array([[1.5, -2.0]], dtype=np.float32)
    assert bytes(imageArrayToStruct(farr).data) == np.array([1.5, -2.0], "<f4").tobytes()


def test_struct_from_dict_and_spark_row(plain_spark):
    arr = _rand((3, 2, 3))
    row = imageArrayToStruct(arr, origin="x")
    as_dict = row.asDict()
    np.testing.assert_array_equal(imageStructToArray(as_dict), arr)
    df = plain_spark.createDataFrame([(row,)], StructType([StructField("image", imageSchema)]))
    assert df.schema["image"].dataType == imageSchema
    collected = df.collect()[0].image
    assert collected == row
    np.testing.assert_array_equal(imageStructToArray(collected), arr)


@pytest.mark.parametrize(
    "bad, message",
    [
        (
            np.zeros((2, 3, 5), np.uint8),
            r"expected an array of shape \(height, width\) or \(height, width, 1\|3\|4\), got shape \(2, 3, 5\)",
        ),
        (np.zeros((2, 3, 2), np.uint8), r"got shape \(2, 3, 2\)"),
        (np.zeros((2,), np.uint8), r"got shape \(2,\)"),
        (np.zeros((1, 2, 3, 3), np.uint8), r"got shape \(1, 2, 3, 3\)"),
        (np.zeros((0, 3, 3), np.uint8), r"expected a non-empty image, got shape \(0, 3, 3\)"),
        (np.zeros((2, 3, 3), np.int32), r"expected an array of dtype uint8 or float32 .*got dtype int32"),
        (np.zeros((2, 3), np.uint16), r"got dtype uint16"),
        (np.zeros((2, 3), bool), r"got dtype bool"),
    ],
)
def test_array_to_struct_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        imageArrayToStruct(bad)


def test_struct_to_array_errors():
    good = imageArrayToStruct(_rand((2, 2, 3)))
    with pytest.raises(ValueError, match="got None instead of an image struct"):
        imageStructToArray(None)
    with pytest.raises(ValueError, match="unknown OpenCV image mode 7"):
        imageStructToArray(dict(good.asDict(), mode=7))
    with pytest.raises(ValueError, match="has 3 channel\\(s\\) but nChannels is 1"):
        imageStructToArray(dict(good.asDict(), nChannels=1))
    with pytest.raises(ValueError, match="image data has 11 bytes but .* = 12 bytes"):
        imageStructToArray(dict(good.asDict(), data=bytes(11)))
    with pytest.raises(ValueError, match="field 'height' must be an integer"):
        imageStructToArray(dict(good.asDict(), height=None))
    with pytest.raises(ValueError, match="without field 'height'"):
        imageStructToArray(object())


def test_struct_to_array_other_depths():
    arr = np.array([[[1, 2], [3, 65535]]], dtype=np.uint16)  # CV_16UC2
    row = {
        "origin": "",
        "height": 1,
        "width": 2,
        "nChannels": 2,
        "mode": ocvTypes["CV_16UC2"],
        "data": arr.astype("<u2").tobytes(),
    }
    np.testing.assert_array_equal(imageStructToArray(row), arr)


# ---------------------------------------------------------------------------
# PIL <-> struct, channel order
# ---------------------------------------------------------------------------


def test_pil_rgb_is_stored_as_bgr():
    img = Image.new("RGB", (3, 2), (10, 20, 30))  # R=10, G=20, B=30
    img.putpixel((2, 1), (200, 100, 50))
    row = PIL_to_imageStruct(img)
    assert (row.height, row.width, row.nChannels, row.mode) == (2, 3, 3, 16)
    arr = imageStructToArray(row)
    assert arr[0, 0].tolist() == [30, 20, 10]  # B, G, R
    assert arr[1, 2].tolist() == [50, 100, 200]
    assert bytes(row.data[:3]) == bytes([30, 20, 10])
    back = imageStructToPIL(row)
    assert back.mode == "RGB" and back.size == (3, 2)
    assert back.getpixel((2, 1)) == (200, 100, 50)
    assert np.array_equal(np.asarray(back), np.asarray(img))


def test_pil_rgba_is_stored_as_bgra():
    img = Image.new("RGBA", (2, 2), (1, 2, 3, 4))
    img.putpixel((1, 0), (250, 150, 50, 128))
    row = PIL_to_imageStruct(img, origin="o")
    assert (row.nChannels, row.mode, row.origin) == (4, 24, "o")
    arr = imageStructToArray(row)
    assert arr[0, 0].tolist() == [3, 2, 1, 4]
    assert arr[0, 1].tolist() == [50, 150, 250, 128]
    back = imageStructToPIL(row)
    assert back.mode == "RGBA"
    assert np.array_equal(np.asarray(back), np.asarray(img))


def test_pil_grey_round_trip():
    arr = _rand((4, 6))
    img = Image.fromarray(arr)
    assert img.mode == "L"
    row = PIL_to_imageStruct(img)
    assert (row.nChannels, row.mode) == (1, 0)
    np.testing.assert_array_equal(imageStructToArray(row)[:, :, 0], arr)
    back = imageStructToPIL(row)
    assert back.mode == "L"
    np.testing.assert_array_equal(np.asarray(back), arr)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_array_struct_pil_round_trip(channels):
    shape = (5, 7) if channels == 1 else (5, 7, channels)
    arr = _rand(shape, seed=channels)
    row = imageArrayToStruct(arr)
    again = PIL_to_imageStruct(imageStructToPIL(row))
    assert again == row


def test_other_pil_modes_become_rgb():
    img = Image.new("P", (2, 2))
    img.putpalette([0, 0, 0, 255, 128, 0] + [0] * 762)
    img.putpixel((0, 0), 1)
    row = PIL_to_imageStruct(img)
    assert (row.nChannels, row.mode) == (3, 16)
    assert imageStructToArray(row)[0, 0].tolist() == [0, 128, 255]
    assert PIL_to_imageStruct(Image.new("1", (3, 3))).nChannels == 3
    assert PIL_to_imageStruct(Image.new("LA", (3, 3))).nChannels == 3


def test_pil_errors():
    with pytest.raises(ValueError, match="only 8-bit images .* got mode 21 \\(CV_32FC3\\)"):
        imageStructToPIL(imageArrayToStruct(np.zeros((2, 2, 3), np.float32)))
    with pytest.raises(ValueError, match="expected a PIL.Image.Image, got ndarray"):
        PIL_to_imageStruct(np.zeros((2, 2, 3), np.uint8))


# ---------------------------------------------------------------------------
# Resize UDF
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(0, 3), (3,), (1, 2, 3), "ab", 5, (2.0, 3), (-1, 4), (True, 4), None])
def test_resize_udf_validates_size(size):
    with pytest.raises(ValueError, match=r"size must be a pair \(height, width\) of positive integers"):
        createResizeImageUDF(size)


def test_resize_udf(plain_spark):
    rgb = _rand((6, 8, 3), seed=1)
    grey = _rand((5, 5), seed=2)
    bgra = _rand((4, 4, 4), seed=3)
    floats = _rand((6, 4, 3), np.float32, seed=4)
    same = _rand((3, 4, 3), seed=5)
    structs = [
        imageArrayToStruct(rgb, "rgb"),
        imageArrayToStruct(grey, "grey"),
        imageArrayToStruct(bgra, "bgra"),
        imageArrayToStruct(floats, "floats"),
        imageArrayToStruct(same, "same"),
        None,
    ]
    schema = StructType([StructField("id", IntegerType()), StructField("image", imageSchema)])
    df = plain_spark.createDataFrame(list(enumerate(structs)), schema)
    resize = createResizeImageUDF((3, 4))
    out = df.select("id", resize("image").alias("image"))
    assert out.schema["image"].dataType == imageSchema
    rows = {r.id: r.image for r in out.collect()}

    for i, struct in enumerate(structs[:-1]):
        result = rows[i]
        assert (result.origin, result.height, result.width) == (struct.origin, 3, 4)
        assert result.nChannels == struct.nChannels
        assert result.mode == struct.mode
    assert rows[5] is None

    # The same pixels as PIL's bilinear resize of the whole picture.
    expected_rgb = imageStructToPIL(structs[0]).resize((4, 3), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(np.asarray(imageStructToPIL(rows[0])), np.asarray(expected_rgb))
    expected_grey = Image.fromarray(grey).resize((4, 3), Image.Resampling.BILINEAR)
    np.testing.assert_array_equal(imageStructToArray(rows[1])[:, :, 0], np.asarray(expected_grey))
    resized_floats = imageStructToArray(rows[3])
    assert resized_floats.dtype == np.float32
    for c in range(3):
        plane = Image.fromarray(floats[:, :, c]).resize((4, 3), Image.Resampling.BILINEAR)
        np.testing.assert_allclose(resized_floats[:, :, c], np.asarray(plane), rtol=1e-6)
    np.testing.assert_array_equal(imageStructToArray(rows[4]), same)


# ---------------------------------------------------------------------------
# filesToDF
# ---------------------------------------------------------------------------


def test_files_to_df(plain_spark, image_dir, tmp_path):
    df = filesToDF(plain_spark, str(image_dir))
    assert df.columns == ["filePath", "fileData"]
    assert [f.dataType.typeName() for f in df.schema.fields] == ["string", "binary"]
    rows = df.collect()
    # Spark's file sources skip zero-length files (here empty.jpg).
    non_empty = [p for p in image_dir.iterdir() if p.stat().st_size > 0]
    assert len(rows) == len(non_empty) == len(os.listdir(image_dir)) - 1
    for r in rows:
        name = r.filePath.rsplit("/", 1)[-1]
        assert bytes(r.fileData) == (image_dir / name).read_bytes()

    # Recursive, from a SparkContext, repartitioned.
    (tmp_path / "a" / "b").mkdir(parents=True)
    for p in ["one.bin", "a/two.bin", "a/b/three.bin"]:
        (tmp_path / p).write_bytes(p.encode())
    nested = filesToDF(plain_spark.sparkContext, str(tmp_path), numPartitions=2)
    assert nested.rdd.getNumPartitions() == 2
    assert sorted(bytes(r.fileData).decode() for r in nested.collect()) == ["a/b/three.bin", "a/two.bin", "one.bin"]


def test_files_to_df_errors(plain_spark, image_dir):
    with pytest.raises(ValueError, match="SparkSession or SparkContext"):
        filesToDF("spark", str(image_dir))
    with pytest.raises(ValueError, match="numPartitions must be a positive integer"):
        filesToDF(plain_spark, str(image_dir), numPartitions=0)
    with pytest.raises(ValueError, match="path must be a non-empty string"):
        filesToDF(plain_spark, "")


# ---------------------------------------------------------------------------
# Importing the package
# ---------------------------------------------------------------------------


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_without_tensorflow():
    proc = _run_python(
        """
        import sys
        sys.modules["tensorflow"] = None  # any `import tensorflow` now fails
        import sparkdl
        for name in sparkdl.__all__:
            getattr(sparkdl, name)
        import sparkdl.image, sparkdl._jvm
        sparkdl.readImages
        assert sparkdl._jvm.tensorflow_lib_dir() is None
        print("ok", sparkdl.__version__)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok 0.1.0"


def test_import_does_not_load_tensorflow():
    proc = _run_python(
        """
        import sys
        import sparkdl
        for name in sparkdl.__all__:
            getattr(sparkdl, name)
        from sparkdl.image import *
        assert "tensorflow" not in sys.modules, "sparkdl imported tensorflow"
        print("ok")
        """
    )
    assert proc.returncode == 0, proc.stderr


def test_public_api():
    expected = {
        "session",
        "jar_path",
        "tensorflow_version",
        "readImages",
        "readImageFiles",
        "filesToDF",
        "imageSchema",
        "imageStructToArray",
        "imageArrayToStruct",
        "imageStructToPIL",
        "PIL_to_imageStruct",
        "createResizeImageUDF",
        "__version__",
    }
    assert expected <= set(sparkdl.__all__)
    assert expected <= set(dir(sparkdl))
    assert sparkdl.imageSchema is imageSchema
    with pytest.raises(AttributeError):
        sparkdl.no_such_name


# ---------------------------------------------------------------------------
# The JVM class check, with the real py4j gateway
# ---------------------------------------------------------------------------


def test_jvm_api_detects_missing_class(plain_spark, monkeypatch):
    from sparkdl import _jvm

    # py4j answers a JavaPackage for a class that is not on the class path.
    monkeypatch.setattr(_jvm, "PYTHON_API_CLASS", "org.sparkdl.python.NoSuchClass")
    with pytest.raises(RuntimeError, match=r"org\.sparkdl\.python\.NoSuchClass is not loadable.*--jars"):
        _jvm._jvm_api(plain_spark)
    monkeypatch.setattr(_jvm, "PYTHON_API_CLASS", "java.lang.System")
    assert _jvm._jvm_api(plain_spark).getProperty("java.version")
