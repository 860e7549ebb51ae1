"""Quickstart: read a folder of images with sparkdl on local Spark and describe it.

    python examples/describe_images.py [FOLDER]

Without FOLDER it reads the 2,624 solar-cell images that the PyPI package
`elpv-dataset` ships. Decoding runs natively (Rust, through JNI and Arrow)
inside Spark tasks; nothing here needs a cluster or any configuration.
"""

import os
import sys
import time

import sparkdl
from pyspark.sql import functions as F


def default_folder() -> str:
    try:
        import elpv_dataset
    except ImportError:
        sys.exit(
            "no FOLDER given and elpv-dataset is not installed: pip install elpv-dataset, or pass a folder of images"
        )
    return os.path.join(os.path.dirname(elpv_dataset.__file__), "data", "images")


def main() -> None:
    folder = sys.argv[1] if len(sys.argv) > 1 else default_folder()
    spark = sparkdl.session(conf={"spark.ui.showConsoleProgress": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    print(
        f"sparkdl {sparkdl.__version__}: Spark {spark.version}, "
        f"libtensorflow {sparkdl.tensorflow_version()} (through JNI)"
    )

    start = time.time()
    images = sparkdl.readImages(folder, recursive=True).cache()
    total = images.count()
    elapsed = time.time() - start
    decoded = images.where(F.col("image").isNotNull())
    n_ok = decoded.count()
    print(
        f"\n{folder}\n  {total} files, {n_ok} decoded, {total - n_ok} not decoded "
        f"({elapsed:.1f} s, {total / max(elapsed, 1e-9):.0f} files/s on {spark.sparkContext.defaultParallelism} cores)"
    )

    print("\nImage shapes (height x width x channels, OpenCV mode):")
    shapes = (
        decoded.groupBy("image.height", "image.width", "image.nChannels", "image.mode")
        .count()
        .orderBy(F.desc("count"))
        .limit(10)
        .collect()
    )
    for r in shapes:
        print(f"  {r['height']:>5} x {r['width']:<5} x {r['nChannels']}  mode {r['mode']:>2}: {r['count']} images")

    if n_ok:
        first = decoded.select("image").first()["image"]
        arr = sparkdl.imageStructToArray(first)
        print(
            f"\nFirst image {first['origin']}\n  array {arr.shape} {arr.dtype}, "
            f"mean intensity {arr.mean():.1f}, min {arr.min()}, max {arr.max()}"
        )

    failures = images.where(F.col("image").isNull()).select("error").limit(5).collect()
    if failures:
        print("\nFiles that did not decode (first 5):")
        for r in failures:
            print(f"  {r['error']}")
    spark.stop()


if __name__ == "__main__":
    main()
