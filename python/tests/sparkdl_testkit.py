"""Constants shared by the Python tests.

They live here, not in conftest.py, because ``make test`` collects python/tests
and tests/ in one run: both folders have a conftest.py, so ``from conftest
import ...`` would find whichever was imported last.
"""

SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
}
MASTER = "local[2]"

# Files written by the image_dir fixture.
GOOD_FILES = ["rgb.png", "grey.png", "rgba.png", "bgr.bmp", "photo.jpg"]
BAD_FILES = ["empty.jpg", "notes.jpg", "trunc.jpg"]
# Losslessly stored images: every decoder must give the same pixels.
LOSSLESS_FILES = ["rgb.png", "grey.png", "rgba.png", "bgr.bmp"]
