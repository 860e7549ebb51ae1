"""Every kind of broken or unusual file a lake holds, made here, through readImages, every image
stage and the SQL functions: no crash, exactly one output row per input row, a null result with
a reason where the image is unusable, the right result where it is."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

import sparkdl


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height RGB pixels, with a tiny (invalid) body."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _exif_rotated(w: int, h: int) -> bytes:
    """A w x h JPEG with EXIF orientation 6 (display rotated 90 degrees: h x w)."""
    img = Image.fromarray(np.random.default_rng(1).integers(0, 255, (h, w, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(img, exif=exif.tobytes())


# name -> (bytes, expected): expected is (height, width, channels) for a usable image, else None.
def corpus():
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    jpeg, png = _jpeg(rgb, quality=90), _png(rgb)
    files = {
        "zero.jpg": (b"", None),
        "notes.jpg": (b"these are not pixels", None),
        "page.jpg": (b"<!DOCTYPE html><html><body>404 Not Found</body></html>", None),
        "png_named.jpg": (png, (40, 60, 3)),  # wrong extension, right content
        "jpeg_named.png": (jpeg, (40, 60, 3)),
        "cmyk.jpg": (_jpeg(rgb.convert("CMYK")), (40, 60, 3)),
        "progressive.jpg": (_jpeg(rgb, progressive=True), (40, 60, 3)),
        "grey16.png": (_png(Image.fromarray((rng.integers(0, 65535, (20, 30))).astype(np.uint16))), (20, 30, 1)),
        "palette.png": (_png(rgb.convert("P")), (40, 60, 3)),
        "alpha.png": (_png(rgb.convert("RGBA")), (40, 60, 4)),
        "one_pixel.png": (_png(Image.new("RGB", (1, 1), (10, 20, 30))), (1, 1, 3)),
        "bomb.png": (_bomb_png(30000, 30000), None),
        "exif_rotated.jpg": (_exif_rotated(60, 40), (60, 40, 3)),
        "with space é.png": (png, (40, 60, 3)),  # a path with a space and non-ASCII
    }
    frames = [Image.fromarray(rng.integers(0, 255, (16, 24, 3), dtype=np.uint8)) for _ in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    files["animated.gif"] = (buf.getvalue(), (16, 24, 3))  # the first frame
    for cut in (1, 2, 10, 100, len(jpeg) // 2, len(jpeg) - 300):
        files[f"jpeg_cut_{cut}.jpg"] = (jpeg[:cut], None)
    for cut in (1, 8, 20, 40, len(png) // 2, len(png) - 13):
        files[f"png_cut_{cut}.png"] = (png[:cut], None)
    return files


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    d = tmp_path_factory.mktemp("lake")
    files = corpus()
    for name, (data, _) in files.items():
        (d / name).write_bytes(data)
    return d, files


def _name(origin: str) -> str:
    from urllib.parse import unquote, urlparse

    return os.path.basename(unquote(urlparse(origin).path))


def test_read_images_gives_one_row_per_file_with_the_right_result_or_a_reason(spark, lake):
    d, files = lake
    rows = sparkdl.readImages(str(d)).collect()
    assert len(rows) == len(files)
    for r in rows:
        name = _name(r.image.origin) if r.image is not None else None
        if r.image is None:
            assert r.error, r
            continue
        expected = files[name][1]
        assert expected is not None, f"{name} should not decode"
        assert (r.image.height, r.image.width, r.image.nChannels) == expected, name
    decoded = {_name(r.image.origin) for r in rows if r.image is not None}
    assert decoded == {n for n, (_, e) in files.items() if e is not None}


def test_every_image_stage_and_sql_function_keeps_every_row(spark, lake, tmp_path):
    import tensorflow as tf

    d, files = lake
    usable = {n for n, (_, e) in files.items() if e is not None}
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
        tf.reduce_mean(x, axis=[1, 2], name="y")
    images = sparkdl.readImages(str(d))
    content = sparkdl.readImageFiles(str(d))
    # A duplicate path, a null content, a file deleted between listing and reading.
    gone = tmp_path / "gone.png"
    gone.write_bytes(files["one_pixel.png"][0])
    listed = sparkdl.readImageFiles(str(tmp_path))
    gone.unlink()
    extra = spark.createDataFrame([(content.first().origin, None)], "origin string, content binary")
    content = content.unionByName(content.limit(1)).unionByName(extra).unionByName(listed)
    n_content = len(files) + 3

    stages = [
        sparkdl.TFImageTransformer(
            inputCol="image",
            outputCol="o",
            graph=g.as_graph_def(),
            inputTensor="x:0",
            outputTensor="y:0",
            outputMode="array",
        ),
        sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="o", modelName="MobileNetV2"),
        sparkdl.DeepImagePredictor(
            inputCol="image", outputCol="o", modelName="MobileNetV2", decodePredictions=True, topK=1
        ),
    ]
    for stage in stages:
        for df, n, col in (
            (images, len(files), "image"),
            (content, n_content, "content"),
            (content.select("origin"), n_content, "origin"),
        ):
            out = stage.copy({stage.inputCol: col}).transform(df).collect()
            assert len(out) == n, (type(stage).__name__, col)
            for r in out:
                assert (r.o is None) == (r.o_error is not None), (type(stage).__name__, col, r.o_error)
            ok = sum(r.o is not None for r in out)
            # Structs: the readable ones. Bytes: the readable files and the duplicate, not the null
            # content nor the deleted file. Paths: the same, plus the null-content row's path,
            # which names a readable file.
            expected = {"image": len(usable), "content": len(usable) + 1, "origin": len(usable) + 2}[col]
            assert ok == expected, (type(stage).__name__, col, ok)

    content.createOrReplaceTempView("lake_content")
    got = spark.sql(
        "SELECT sparkdl_decode_image(content, origin) AS i, sparkdl_featurize(content, 'MobileNetV2') AS f, "
        "sparkdl_predict(content, 'MobileNetV2', 1) AS p FROM lake_content"
    ).collect()
    assert len(got) == n_content
    assert sum(r.i is not None for r in got) == len(usable) + 1
    assert all((r.i is None) == (r.f is None) == (r.p is None) for r in got)
