"""Shared fixtures.

``spark`` is ONE SparkSession for the whole test run, created by
``sparkdl.session()`` and so needing the sparkdl jar: when the jar cannot be
found, every test using it fails (not skips) with a message saying how to
build or point at the jar. Tests that need no jar use ``plain_spark``
(see test_image_utils.py) instead.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import sparkdl

# Python UDF workers must run this interpreter (with numpy, PIL and sparkdl), not
# whatever `python3` is first on PATH.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

# Named models are built into a cache: use a fresh one, so the tests exercise the weight sources.
os.environ.setdefault(
    "SPARKDL_CACHE_DIR", os.path.join(__import__("tempfile").mkdtemp(prefix="sparkdl-model-cache-"), "models")
)

from sparkdl_testkit import BAD_FILES, GOOD_FILES, LOSSLESS_FILES, MASTER, SPARK_CONF  # noqa: F401,E402


def jar_or_fail() -> str:
    """The sparkdl jar, or fail the calling test with instructions."""
    try:
        return sparkdl.jar_path()
    except FileNotFoundError as e:
        reason = str(e)
    pytest.fail(
        "this test needs the sparkdl JVM jar, which was not found.\n"
        f"{reason}\n"
        "Build the jar (make jar: <repo>/target/sparkdl-spark<minor>_2.13.jar) or set "
        "SPARKDL_JAR, then rerun.",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def spark():
    """The shared SparkSession with the sparkdl jar on its class path."""
    jar_or_fail()
    session = sparkdl.session(master=MASTER, conf=SPARK_CONF)
    yield session
    session.stop()


def _pixels(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def _save(img: Image.Image, path: Path, fmt: str, **kwargs) -> None:
    img.save(path, format=fmt, **kwargs)


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    """A folder of small images (good and bad), written with PIL.

    Good: rgb.png (RGB 7x5), grey.png (L 6x4), rgba.png (RGBA 5x3), bgr.bmp
    (RGB 4x6), photo.jpg (RGB 16x12). Bad: empty.jpg (0 bytes), notes.jpg (text),
    trunc.jpg (a JPEG cut in half).
    """
    folder = tmp_path_factory.mktemp("images")
    _save(Image.fromarray(_pixels(5, 7, 3, 1)), folder / "rgb.png", "PNG")
    _save(Image.fromarray(_pixels(4, 6, 1, 2)), folder / "grey.png", "PNG")
    _save(Image.fromarray(_pixels(3, 5, 4, 3)), folder / "rgba.png", "PNG")
    _save(Image.fromarray(_pixels(6, 4, 3, 4)), folder / "bgr.bmp", "BMP")

    # A smooth picture, so that JPEG keeps it recognisable.
    yy, xx = np.mgrid[0:12, 0:16]
    smooth = np.stack([xx * 15, yy * 20, (xx + yy) * 8], axis=2).astype(np.uint8)
    _save(Image.fromarray(smooth), folder / "photo.jpg", "JPEG", quality=95)

    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("these are notes, not a JPEG image\n")
    buf = io.BytesIO()
    Image.fromarray(_pixels(64, 64, 3, 5)).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    (folder / "trunc.jpg").write_bytes(data[: len(data) // 2])

    assert sorted(p.name for p in folder.iterdir()) == sorted(GOOD_FILES + BAD_FILES)
    return folder
