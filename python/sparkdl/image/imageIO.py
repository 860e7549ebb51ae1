"""Image structs (Spark's image schema) in Python, and the sparkdl image readers.

Images in Spark DataFrames use Spark's image schema
(``pyspark.ml.image.ImageSchema``): a struct of ``origin``, ``height``, ``width``,
``nChannels``, ``mode`` (an OpenCV type number) and ``data`` (the pixels,
row-major, channels interleaved in OpenCV's BGR(A) order).

The helpers here convert between such structs, numpy arrays and PIL images
without needing the sparkdl jar; ``readImages``, ``readImageFiles`` call the
sparkdl JVM library.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import TYPE_CHECKING, Any, Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from pyspark.sql.types import (
    BinaryType,
    IntegerType,
    Row,
    StringType,
    StructField,
    StructType,
)

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage
    from pyspark import SparkContext
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "imageSchema",
    "imageFields",
    "OcvType",
    "ocvTypes",
    "imageTypeByName",
    "imageTypeByOrdinal",
    "imageStructToArray",
    "imageArrayToStruct",
    "imageStructToPIL",
    "PIL_to_imageStruct",
    "createResizeImageUDF",
    "filesToDF",
    "readImages",
    "readImageFiles",
]

# --------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------

imageFields = ["origin", "height", "width", "nChannels", "mode", "data"]

#: The struct type of Spark's image column (``ImageSchema.imageSchema["image"].dataType``).
imageSchema = StructType(
    [
        StructField("origin", StringType(), True),
        StructField("height", IntegerType(), False),
        StructField("width", IntegerType(), False),
        StructField("nChannels", IntegerType(), False),
        StructField("mode", IntegerType(), False),
        StructField("data", BinaryType(), False),
    ]
)

_ImageStruct = Row(*imageFields)

# --------------------------------------------------------------------------
# OpenCV types
# --------------------------------------------------------------------------


class OcvType(NamedTuple):
    """An OpenCV pixel type: its name, ordinal (the ``mode`` field), channel count and
    the numpy dtype of one channel value."""

    name: str
    ord: int
    nChannels: int
    dtype: str


# OpenCV depth codes: type ordinal = depth + 8 * (channels - 1).
_OCV_DEPTHS = [
    ("8U", 0, "uint8"),
    ("8S", 1, "int8"),
    ("16U", 2, "uint16"),
    ("16S", 3, "int16"),
    ("32S", 4, "int32"),
    ("32F", 5, "float32"),
    ("64F", 6, "float64"),
]

_typesByName: Dict[str, OcvType] = {}
_typesByOrdinal: Dict[int, OcvType] = {}
for _depthName, _depth, _dtype in _OCV_DEPTHS:
    for _channels in (1, 2, 3, 4):
        _t = OcvType(f"CV_{_depthName}C{_channels}", _depth + 8 * (_channels - 1), _channels, _dtype)
        _typesByName[_t.name] = _t
        _typesByOrdinal[_t.ord] = _t
    # "CV_8U" and friends are aliases of the one-channel types.
    _typesByName[f"CV_{_depthName}"] = _typesByName[f"CV_{_depthName}C1"]
del _depthName, _depth, _dtype, _channels, _t

#: OpenCV type names -> ordinals (the image struct's ``mode``), e.g. ``ocvTypes["CV_8UC3"] == 16``.
ocvTypes: Dict[str, int] = {name: t.ord for name, t in _typesByName.items()}

# Types that arrays can be converted to (imageArrayToStruct) and PIL can show.
_SUPPORTED_DTYPES = ("uint8", "float32")


def imageTypeByName(name: str) -> OcvType:
    """The OpenCV type named ``name`` (e.g. ``"CV_8UC3"``; ``"CV_8U"`` means ``"CV_8UC1"``)."""
    try:
        return _typesByName[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown OpenCV type name {name!r}; expected one of {sorted(_typesByName)}") from None


def imageTypeByOrdinal(ordinal: int) -> OcvType:
    """The OpenCV type whose ordinal (the image struct's ``mode``) is ``ordinal``."""
    try:
        return _typesByOrdinal[int(ordinal)]
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"unknown OpenCV image mode {ordinal!r}; expected one of "
            + ", ".join(f"{t.ord} ({t.name})" for t in sorted(_typesByOrdinal.values(), key=lambda t: t.ord))
        ) from None


def _typeFor(dtype: str, nChannels: int) -> OcvType:
    for t in _typesByOrdinal.values():
        if t.dtype == dtype and t.nChannels == nChannels:
            return t
    raise ValueError(f"no OpenCV type with dtype {dtype} and {nChannels} channels")


# --------------------------------------------------------------------------
# Struct <-> numpy <-> PIL
# --------------------------------------------------------------------------


def _field(row: Any, name: str, caller: str) -> Any:
    """A field of an image struct given as a Row, a dict or any object with attributes."""
    if row is None:
        raise ValueError(
            f"{caller}: got None instead of an image struct (a null image); drop nulls "
            "first, e.g. df.where(df.image.isNotNull())"
        )
    try:
        return row[name]
    except (KeyError, TypeError, IndexError, ValueError, AttributeError):
        pass
    try:
        return getattr(row, name)
    except AttributeError:
        raise ValueError(
            f"{caller}: expected an image struct (a Row with fields {', '.join(imageFields)}), "
            f"got a {type(row).__name__} without field {name!r}"
        ) from None


def _intField(row: Any, name: str, caller: str) -> int:
    value = _field(row, name, caller)
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{caller}: the image struct field {name!r} must be an integer, got {value!r}")
    return int(value)


def imageStructToArray(imageRow: Any) -> np.ndarray:
    """Pixels of an image struct as a numpy array of shape (height, width, nChannels).

    The dtype follows the struct's OpenCV mode (uint8 for CV_8U*, float32 for CV_32F*,
    ...); channels stay in the stored (BGR / BGRA) order. The array is a fresh,
    writable copy.
    """
    caller = "imageStructToArray"
    height = _intField(imageRow, "height", caller)
    width = _intField(imageRow, "width", caller)
    nChannels = _intField(imageRow, "nChannels", caller)
    mode = _intField(imageRow, "mode", caller)
    data = _field(imageRow, "data", caller)
    imgType = imageTypeByOrdinal(mode)
    if nChannels != imgType.nChannels:
        raise ValueError(
            f"{caller}: inconsistent image struct: mode {mode} ({imgType.name}) has "
            f"{imgType.nChannels} channel(s) but nChannels is {nChannels}; fix one of them"
        )
    if height < 0 or width < 0:
        raise ValueError(f"{caller}: image height and width must be non-negative, got {height}x{width}")
    stored = np.dtype(imgType.dtype).newbyteorder("<")
    expected = height * width * nChannels * stored.itemsize
    if data is None or len(data) != expected:
        got = "null" if data is None else f"{len(data)} bytes"
        raise ValueError(
            f"{caller}: image data has {got} but height*width*nChannels*{stored.itemsize} "
            f"= {height}*{width}*{nChannels}*{stored.itemsize} = {expected} bytes are needed "
            f"for mode {imgType.name}; the struct is corrupt"
        )
    flat = np.frombuffer(bytes(data), dtype=stored)
    return flat.reshape(height, width, nChannels).astype(imgType.dtype)


def imageArrayToStruct(imgArray: Any, origin: Optional[str] = "") -> Row:
    """The image struct (a Row matching :data:`imageSchema`) of a numpy array.

    :param imgArray: an array of shape (height, width) (grey) or (height, width, C) with
        C = 1, 3 (BGR) or 4 (BGRA); dtype uint8 (-> CV_8UC*) or float32 (-> CV_32FC*;
        float64 is cast to float32).
    :param origin: the ``origin`` field (usually the image's URI).
    """
    caller = "imageArrayToStruct"
    arr = np.asarray(imgArray)
    if arr.ndim == 2:
        arr = arr[:, :, np.newaxis]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(
            f"{caller}: expected an array of shape (height, width) or "
            f"(height, width, 1|3|4), got shape {tuple(np.shape(imgArray))}"
        )
    height, width, nChannels = (int(d) for d in arr.shape)
    if height == 0 or width == 0:
        raise ValueError(f"{caller}: expected a non-empty image, got shape {tuple(np.shape(imgArray))}")
    if arr.dtype == np.uint8:
        dtype = "uint8"
    elif arr.dtype in (np.float32, np.float64):
        dtype = "float32"
    else:
        raise ValueError(
            f"{caller}: expected an array of dtype uint8 or float32 (float64 is cast to "
            f"float32), got dtype {arr.dtype}; convert it first, e.g. arr.astype(np.uint8)"
        )
    if origin is not None and not isinstance(origin, str):
        raise ValueError(f"{caller}: origin must be a string, got {type(origin).__name__}")
    imgType = _typeFor(dtype, nChannels)
    data = np.ascontiguousarray(arr, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
    return _ImageStruct(origin, height, width, nChannels, imgType.ord, bytearray(data))


def imageStructToPIL(imageRow: Any) -> "PILImage.Image":
    """A PIL image of an 8-bit image struct: mode 'L' (1 channel), 'RGB' (3 channels,
    converted from BGR) or 'RGBA' (4 channels, converted from BGRA)."""
    from PIL import Image

    mode = _intField(imageRow, "mode", "imageStructToPIL")
    imgType = imageTypeByOrdinal(mode)
    if imgType.dtype != "uint8" or imgType.nChannels not in (1, 3, 4):
        raise ValueError(
            f"imageStructToPIL: only 8-bit images with 1, 3 or 4 channels (modes CV_8UC1, "
            f"CV_8UC3, CV_8UC4) convert to PIL, got mode {mode} ({imgType.name}); use "
            "imageStructToArray for other image types"
        )
    arr = imageStructToArray(imageRow)
    if imgType.nChannels == 1:
        return Image.fromarray(np.ascontiguousarray(arr[:, :, 0]))
    if imgType.nChannels == 3:
        return Image.fromarray(np.ascontiguousarray(arr[:, :, ::-1]))
    return Image.fromarray(np.ascontiguousarray(arr[:, :, [2, 1, 0, 3]]))


def PIL_to_imageStruct(img: "PILImage.Image", origin: Optional[str] = "") -> Row:
    """The image struct of a PIL image, pixels in BGR(A) order.

    Modes 'L', 'RGB' and 'RGBA' are kept (1, 3, 4 channels); any other mode is
    converted to 'RGB' first.
    """
    from PIL import Image

    if not isinstance(img, Image.Image):
        raise ValueError(
            f"PIL_to_imageStruct: expected a PIL.Image.Image, got {type(img).__name__}; "
            "for numpy arrays use imageArrayToStruct"
        )
    if img.mode not in ("L", "RGB", "RGBA"):
        try:
            img = img.convert("RGB")
        except ValueError as e:
            raise ValueError(
                f"PIL_to_imageStruct: cannot convert a PIL image of mode {img.mode!r} to "
                f"'RGB' ({e}); convert it to 'L', 'RGB' or 'RGBA' first"
            ) from None
    arr = np.asarray(img)
    if img.mode == "RGB":
        arr = arr[:, :, ::-1]
    elif img.mode == "RGBA":
        arr = arr[:, :, [2, 1, 0, 3]]
    return imageArrayToStruct(arr, origin=origin)


# --------------------------------------------------------------------------
# Resizing
# --------------------------------------------------------------------------


def _validateSize(size: Any, caller: str) -> Tuple[int, int]:
    message = f"{caller}: size must be a pair (height, width) of positive integers, e.g. (224, 224); got {size!r}"
    if isinstance(size, (str, bytes)):
        raise ValueError(message)
    try:
        values = tuple(size)
    except TypeError:
        raise ValueError(message) from None
    if len(values) != 2:
        raise ValueError(message)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise ValueError(message)
    return int(values[0]), int(values[1])


def _resizeStruct(imageRow: Any, height: int, width: int) -> Optional[Row]:
    from PIL import Image

    if imageRow is None:
        return None
    caller = "createResizeImageUDF"
    imgType = imageTypeByOrdinal(_intField(imageRow, "mode", caller))
    if imgType.dtype not in _SUPPORTED_DTYPES:
        raise ValueError(
            f"{caller}: can resize only 8-bit unsigned (CV_8UC*) and 32-bit float "
            f"(CV_32FC*) images, got mode {imgType.ord} ({imgType.name})"
        )
    arr = imageStructToArray(imageRow)
    origin = _field(imageRow, "origin", caller)
    if arr.shape[0] != height or arr.shape[1] != width:
        # Each channel separately: 'L' images for uint8, 'F' images for float32.
        # This keeps the BGR(A) order and does not premultiply alpha.
        channels = []
        for c in range(arr.shape[2]):
            plane = Image.fromarray(np.ascontiguousarray(arr[:, :, c]))
            resized = plane.resize((width, height), resample=Image.Resampling.BILINEAR)
            channels.append(np.asarray(resized, dtype=arr.dtype))
        arr = np.stack(channels, axis=2)
    return imageArrayToStruct(arr, origin=origin)


def createResizeImageUDF(size: Sequence[int]):
    """A PySpark UDF that resizes an image struct column to ``size = (height, width)``.

    Uses PIL's bilinear filter on each channel; keeps origin, channel count and pixel
    type (CV_8UC* and CV_32FC* images). A null image gives a null result.

    Example: ``df.select(createResizeImageUDF((224, 224))("image").alias("image"))``
    """
    from pyspark.sql.functions import udf

    height, width = _validateSize(size, "createResizeImageUDF")

    def _resize(imageRow):
        return _resizeStruct(imageRow, height, width)

    return udf(_resize, imageSchema)


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------


def _pathArg(path: Any, caller: str) -> str:
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"{caller}: path must be a non-empty string (a file or folder path or URI), got {path!r}")
    return path


def _numPartitionsArg(numPartitions: Any, caller: str) -> int:
    """-1 for None, else a validated positive int."""
    if numPartitions is None:
        return -1
    if isinstance(numPartitions, bool) or not isinstance(numPartitions, numbers.Integral) or numPartitions <= 0:
        raise ValueError(f"{caller}: numPartitions must be a positive integer or None, got {numPartitions!r}")
    return int(numPartitions)


def _sampleRatioArg(sampleRatio: Any, caller: str) -> float:
    if (
        isinstance(sampleRatio, bool)
        or not isinstance(sampleRatio, numbers.Real)
        or math.isnan(float(sampleRatio))
        or not 0.0 < float(sampleRatio) <= 1.0
    ):
        raise ValueError(
            f"{caller}: sampleRatio must be a number in (0, 1] (the fraction of files to "
            f"read; 1.0 reads all), got {sampleRatio!r}"
        )
    return float(sampleRatio)


def filesToDF(
    sc_or_spark: Union["SparkContext", "SparkSession"],
    path: Union[str, Sequence[str]],
    numPartitions: Optional[int] = None,
) -> "DataFrame":
    """A DataFrame of the files under ``path`` (searched recursively), with columns
    ``filePath`` (string URI) and ``fileData`` (binary contents).

    Uses Spark's ``binaryFile`` source, so, like every Spark file source, it skips
    zero-length files and hidden files (names starting with ``.`` or ``_``).

    :param sc_or_spark: a SparkSession or SparkContext.
    :param path: a file or folder path (or URI), or a list of them.
    :param numPartitions: when given, the DataFrame is repartitioned to this many partitions.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.sql.functions import col

    caller = "filesToDF"
    if isinstance(sc_or_spark, SparkSession):
        spark = sc_or_spark
    elif isinstance(sc_or_spark, SparkContext):
        spark = SparkSession(sc_or_spark)
    else:
        raise ValueError(
            f"{caller}: the first argument must be a SparkSession or SparkContext, got {type(sc_or_spark).__name__}"
        )
    if isinstance(path, (list, tuple)):
        if not path:
            raise ValueError(f"{caller}: path must be a non-empty string or list of strings")
        paths: Union[str, list] = [_pathArg(p, caller) for p in path]
    else:
        paths = _pathArg(path, caller)
    n = _numPartitionsArg(numPartitions, caller)
    df = (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(paths)
        .select(col("path").alias("filePath"), col("content").alias("fileData"))
    )
    if n > 0:
        df = df.repartition(n)
    return df


def readImages(
    path: str,
    recursive: bool = False,
    numPartitions: Optional[int] = None,
    dropInvalid: bool = False,
    sampleRatio: float = 1.0,
    spark: Optional["SparkSession"] = None,
) -> "DataFrame":
    """Read and decode the images under ``path`` with the sparkdl native decoder.

    Returns a DataFrame with columns ``image`` (Spark's image struct, see
    :data:`imageSchema`; null when the file could not be decoded) and ``error``
    (string: null when the file decoded, else the reason).

    :param path: an image file, or a folder of image files (path or URI).
    :param recursive: also read files in sub-folders. Without it, a folder that holds only
        sub-folders (e.g. ``photos/cats``, ``photos/dogs``) fails with a message saying so,
        rather than giving no rows.
    :param numPartitions: number of partitions of the result (None: Spark's choice).
    :param dropInvalid: drop the files that could not be decoded.
    :param sampleRatio: fraction of the files to read, in (0, 1].
    :param spark: the SparkSession (None: the active one, else ``sparkdl.session()``).
    """
    from pyspark.sql import DataFrame

    from sparkdl._jvm import _jvm_api, _resolve_spark, is_connect

    caller = "readImages"
    path = _pathArg(path, caller)
    n = _numPartitionsArg(numPartitions, caller)
    ratio = _sampleRatioArg(sampleRatio, caller)
    spark = _resolve_spark(spark)
    if is_connect(spark):
        # No JVM here: the server's table function (the sparkdl SQL extension) reads them.
        return spark.sql(
            "SELECT * FROM sparkdl_read_images(:path, :recursive, :n, :drop, :ratio)",
            args={"path": path, "recursive": bool(recursive), "n": n, "drop": bool(dropInvalid), "ratio": float(ratio)},
        )
    jdf = _jvm_api(spark).readImages(spark._jsparkSession, path, bool(recursive), n, bool(dropInvalid), ratio)
    return DataFrame(jdf, spark)


def readImageFiles(
    path: str,
    recursive: bool = False,
    numPartitions: Optional[int] = None,
    sampleRatio: float = 1.0,
    spark: Optional["SparkSession"] = None,
) -> "DataFrame":
    """List the files under ``path`` lazily, without decoding them.

    Returns a DataFrame with columns ``origin`` (string URI) and ``content`` (binary,
    the encoded file bytes); decode later, e.g. with a sparkdl transformer.

    Parameters as for :func:`readImages`.
    """
    from pyspark.sql import DataFrame

    from sparkdl._jvm import _jvm_api, _resolve_spark, is_connect

    caller = "readImageFiles"
    path = _pathArg(path, caller)
    n = _numPartitionsArg(numPartitions, caller)
    ratio = _sampleRatioArg(sampleRatio, caller)
    spark = _resolve_spark(spark)
    if is_connect(spark):
        return spark.sql(
            "SELECT * FROM sparkdl_read_image_files(:path, :recursive, :n, :ratio)",
            args={"path": path, "recursive": bool(recursive), "n": n, "ratio": float(ratio)},
        )
    jdf = _jvm_api(spark).readImageFiles(spark._jsparkSession, path, bool(recursive), n, ratio)
    return DataFrame(jdf, spark)
