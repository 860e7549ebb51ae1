"""Constants and helpers shared by the Python tests.

They live here, not in conftest.py, because ``make test`` collects python/tests
and tests/ in one run: both folders have a conftest.py, so ``from conftest
import ...`` would find whichever was imported last.
"""


def photo_paths() -> dict:
    """The pretrained-model test photos by name: scikit-image's coffee and chelsea,
    scikit-learn's china.jpg."""
    import os

    import skimage
    import sklearn

    sk = os.path.join(os.path.dirname(skimage.__file__), "data")
    return {
        "coffee": os.path.join(sk, "coffee.png"),
        "chelsea": os.path.join(sk, "chelsea.png"),
        "china": os.path.join(os.path.dirname(sklearn.__file__), "datasets", "images", "china.jpg"),
    }


def copy_test_photos(folder) -> str:
    """Copies :func:`photo_paths` into ``folder``; its path."""
    import shutil

    for p in photo_paths().values():
        shutil.copy(p, folder)
    return str(folder)


SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    # One session serves the whole run (about 200 tests): by its end the driver holds about 520 MB
    # after a full GC (the block manager's cached frames and broadcasts, bounded by Spark's unified
    # memory, plus the live stages' model bytes), and peaks near 1 GB (full GCs 985M->571M), so
    # Spark's 1g default left a broadcast in the last tests without room (a CI run failed with
    # "Not enough memory to build and broadcast the table" in findDuplicates' groups). Measured
    # with GC logs and JFR's old-object samples on a full run (2026-12-04).
    "spark.driver.memory": "2g",
}
MASTER = "local[2]"

# Files written by the image_dir fixture.
GOOD_FILES = ["rgb.png", "grey.png", "rgba.png", "bgr.bmp", "photo.jpg"]
BAD_FILES = ["empty.jpg", "notes.jpg", "trunc.jpg"]
# Losslessly stored images: every decoder must give the same pixels.
LOSSLESS_FILES = ["rgb.png", "grey.png", "rgba.png", "bgr.bmp"]
