"""ImageSignature: the native stage against an independent numpy reading of its definition
(docs/SIMILARITY-SIGNATURE.md), copies found among different pictures, nulls, errors, and
save/load in a pipeline."""

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from pyspark.ml import Pipeline, PipelineModel
from skimage import data as skdata

import sparkdl


def _tent(m, n, s):
    step = m * s / n
    half = max(1.5 * step, 1.0)
    centres = m * (1 - s) / 2 + (np.arange(n) + 0.5) * step
    w = np.maximum(0, 1 - np.abs((np.arange(m) + 0.5)[None, :] - centres[:, None]) / half)
    return w / w.sum(1, keepdims=True)


def _zoom():
    u = 0.025 * np.arange(-28, 22)
    w = np.exp(-(u**2) / (2 * 0.35**2))
    z = sum(wj * np.kron(_tent(96, 12, 0.5 * np.exp(uj)), _tent(96, 12, 0.5 * np.exp(uj))) for wj, uj in zip(w, u))
    return z / w.sum()


def _reference(rgb_or_grey, zoom):
    """The signature as the document defines it, in float64 with dense matrices."""
    img = rgb_or_grey.astype(np.float64)
    if img.ndim == 2:
        planes = [img]
    else:
        r, g, b = img[..., 0], img[..., 1], img[..., 2]
        planes = [
            0.299 * r + 0.587 * g + 0.114 * b,
            -0.168736 * r - 0.331264 * g + 0.5 * b,
            0.5 * r - 0.418688 * g - 0.081312 * b,
        ]
    th, tw = _tent(planes[0].shape[0], 96, 1.0), _tent(planes[0].shape[1], 96, 1.0)
    planes = [th @ p @ tw.T for p in planes]
    gx = np.zeros_like(planes[0])
    gx[:, 1:95] = np.abs(planes[0][:, 2:] - planes[0][:, :-2]) / 2

    def block(p):
        b = zoom @ p.reshape(-1)
        b = b - b.mean()
        n = np.linalg.norm(b)
        return (np.zeros_like(b), 0.0) if n < 1e-6 else (b, n)

    (lum, ln), (grad, gn) = block(planes[0]), block(gx)
    v = np.zeros(576)
    if ln > 0:
        v[:144] = lum / ln
        for c, p in enumerate(planes[1:]):
            v[(2 + c) * 144 : (3 + c) * 144] = block(p)[0] / ln
    if gn > 0:
        v[144:288] = 0.5 * grad / gn
    n = np.linalg.norm(v)
    return v / n if n > 0 else v


def _copy(im: Image.Image, f: float, brightness: float, quality: int, path):
    """The planted copy of the measurements: resized by f, centre-cropped to 90%, re-lit, JPEG."""
    w, h = round(im.width * f), round(im.height * f)
    im = im.resize((w, h), Image.BILINEAR)
    cw, ch = round(0.9 * w), round(0.9 * h)
    left, top = (w - cw) // 2, (h - ch) // 2
    im = im.crop((left, top, left + cw, top + ch))
    ImageEnhance.Brightness(im).enhance(brightness).save(path, format="JPEG", quality=quality)


SOURCES = ["astronaut", "camera", "chelsea", "coffee", "coins", "moon", "rocket", "brick", "horse", "page"]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Ten different pictures (grey and colour, lossless) and a planted copy of each."""
    root = tmp_path_factory.mktemp("signature")
    rng = np.random.default_rng(7)
    for name in SOURCES:
        arr = getattr(skdata, name)()
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        im = Image.fromarray(arr)
        im.save(root / f"{name}.png")
        _copy(im, rng.uniform(0.5, 0.8), rng.uniform(0.9, 1.1), int(rng.integers(40, 61)), root / f"{name}_copy.jpg")
    # A flat picture and an RGBA one.
    Image.new("L", (40, 30), 90).save(root / "flat.png")
    Image.fromarray(skdata.coffee()).convert("RGBA").save(root / "coffee_rgba.png")
    return root


def test_equals_the_documented_definition(spark, pictures):
    images = sparkdl.readImages(str(pictures))
    out = sparkdl.ImageSignature(inputCol="image", outputCol="sig").transform(images)
    assert dict(out.dtypes)["sig"] == "array<float>"
    rows = {r.image.origin.rsplit("/", 1)[-1]: r.sig for r in out.collect()}
    zoom = _zoom()
    for name in ["coffee.png", "camera.png", "chelsea.png", "coffee_rgba.png", "horse.png", "coins.png"]:
        im = Image.open(pictures / name)
        pixels = np.asarray(im if im.mode == "L" else im.convert("RGB"))
        got = np.array(rows[name])
        assert got.shape == (576,)
        np.testing.assert_allclose(got, _reference(pixels, zoom), atol=1e-6, err_msg=name)
    assert np.all(np.array(rows["flat.png"]) == 0)
    # RGBA: alpha is ignored.
    np.testing.assert_allclose(rows["coffee_rgba.png"], rows["coffee.png"], atol=1e-7)


def test_finds_each_planted_copy_and_nothing_else(spark, pictures):
    images = sparkdl.readImages(str(pictures)).where(
        "image.origin NOT LIKE '%rgba%' AND image.origin NOT LIKE '%flat%'"
    )
    sigs = sparkdl.ImageSignature(outputCol="features").transform(images)
    df = sigs.selectExpr("regexp_extract(image.origin, '([a-z]+)(_copy)?\\\\.[a-z]+$', 0) AS id", "features")
    assert sparkdl.ImageSignature.defaultThreshold() == 0.96
    pairs = sparkdl.findDuplicates(df, threshold=sparkdl.ImageSignature.defaultThreshold())
    found = sorted((r.id_a, r.id_b) for r in pairs.collect())
    assert found == sorted((f"{n}.png", f"{n}_copy.jpg") for n in SOURCES), found
    # And as the features of NearestNeighbors: every copy's nearest picture is its original.
    originals = df.where("id LIKE '%.png'")
    copies = df.where("id LIKE '%_copy.jpg'").withColumnRenamed("id", "qid")
    model = sparkdl.NearestNeighbors(k=1).fit(originals)
    for r in model.transform(copies).collect():
        assert r.neighbors[0].id == r.qid.replace("_copy.jpg", ".png"), r


def test_nulls_errors_and_save_load(spark, pictures, tmp_path):
    images = sparkdl.readImages(str(pictures))
    with pytest.raises(Exception, match="inputCol: column 'error' is string; it must be Spark's image struct"):
        sparkdl.ImageSignature(inputCol="error").transform(images)
    with pytest.raises(Exception, match="outputCol: there is already a column 'image'"):
        sparkdl.ImageSignature(outputCol="image").transform(images)
    from pyspark.sql.types import StructField, StructType

    nulls = spark.createDataFrame([(None,)], StructType([StructField("image", sparkdl.imageSchema)]))
    assert sparkdl.ImageSignature().transform(nulls).head().signature is None
    pipeline = Pipeline(stages=[sparkdl.ImageSignature(outputCol="s")]).fit(images)
    pipeline.write().overwrite().save(str(tmp_path / "p"))
    again = PipelineModel.load(str(tmp_path / "p"))
    assert isinstance(again.stages[0], sparkdl.ImageSignature)
    a = {r.image.origin: r.s for r in pipeline.transform(images).collect()}
    b = {r.image.origin: r.s for r in again.transform(images).collect()}
    assert a == b
