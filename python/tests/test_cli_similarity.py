"""`sparkdl index`, `search` and `dedup` run as users run them (separate processes), on pictures
with planted copies (resized, cropped, re-encoded), and the reports opened in headless Chromium."""

import csv
import json
import re

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_cli import chromium_dom, run

ORIGINALS = 12
COPIED = (1, 4, 7, 10)


def _picture(seed):
    """A distinct scene: a colour gradient with a few random shapes."""
    rng = np.random.default_rng(seed)
    w, h = 200, 150
    a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, w)[None, :, None]
    base = (a * (1 - t) + b * t).repeat(h, 0).astype(np.uint8)
    img = Image.fromarray(base)
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        box = (x0, y0, x0 + int(rng.integers(20, 90)), y0 + int(rng.integers(20, 70)))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=color)
    return img


def _copy(img):
    w, h = img.size
    small = img.resize((int(w * 0.6), int(h * 0.6)), Image.LANCZOS)
    sw, sh = small.size
    dx, dy = int(sw * 0.05), int(sh * 0.05)
    return small.crop((dx, dy, sw - dx, sh - dy))


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    root = tmp_path_factory.mktemp("similar")
    (root / "originals").mkdir()
    (root / "copies").mkdir()
    (root / "all").mkdir()
    for i in range(ORIGINALS):
        img = _picture(100 + i)
        img.save(root / "originals" / f"o{i:02d}.png")
        img.save(root / "all" / f"o{i:02d}.png")
        if i in COPIED:
            _copy(img).save(root / "copies" / f"c{i:02d}.jpg", quality=50)
            _copy(img).save(root / "all" / f"c{i:02d}.jpg", quality=50)
    return root


def _images_loaded(dom):
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    total = int(re.search(r'data-images-total="(\d+)"', dom).group(1))
    return loaded, total


def test_index_search_and_dedup(pictures, tmp_path):
    index = tmp_path / "index"
    code, out, err = run("index", "--images", str(pictures / "originals"), "--out", str(index), "--quiet")
    assert code == 0, err[-3000:]
    meta = json.loads((index / "index.json").read_text())
    assert meta["model"] == "MobileNetV2" and meta["count"] == ORIGINALS and meta["dim"] > 0
    assert f"{ORIGINALS} images indexed" in out

    found = tmp_path / "found.csv"
    report = tmp_path / "search.html"
    code, out, err = run(
        "search", "--index", str(index), "--query", str(pictures / "copies"), "-k", "3",
        "--output", str(found), "--report", str(report), "--quiet",
    )  # fmt: skip
    assert code == 0, err[-3000:]
    rows = list(csv.DictReader(found.open()))
    assert len(rows) == 3 * len(COPIED)
    for r in rows:
        if r["rank"] == "1":
            copy = re.search(r"c(\d\d)\.jpg$", r["query"]).group(1)
            assert r["id"].endswith(f"o{copy}.png"), f"the original is the top-1 of its copy: {r}"
    dom = chromium_dom(report)
    loaded, total = _images_loaded(dom)
    assert loaded == total == len(COPIED) * 4, "each query and its 3 neighbours as thumbnails"
    assert dom.count('class="group"') == len(COPIED)

    # dedup of an index of everything: exactly the pairs whose vectors' cosine reaches the
    # threshold (global CNN features do not rank copies above every other pair; the threshold is
    # chosen from the vectors so that pairs exist).
    everything = tmp_path / "everything"
    code, out, err = run("index", "--images", str(pictures / "all"), "--out", str(everything), "--quiet")
    assert code == 0, err[-3000:]
    import pyarrow.parquet as pq

    table = pq.read_table(everything / "vectors.parquet").to_pydict()
    ids, vectors = table["id"], np.array(table["features"], dtype=np.float64)
    sims = vectors @ vectors.T
    upper = sims[np.triu_indices(len(ids), 1)]
    threshold = float(np.sort(upper)[-6]) - 1e-4  # about the 6 most similar pairs
    want = {tuple(sorted((ids[a], ids[b]))) for a in range(len(ids)) for b in range(a + 1, len(ids))
            if sims[a, b] >= threshold + 1e-5}  # fmt: skip
    pairs = tmp_path / "pairs.csv"
    report = tmp_path / "dedup.html"
    code, out, err = run(
        "dedup", "--index", str(everything), "--threshold", f"{threshold:.6f}",
        "--output", str(pairs), "--report", str(report), "--quiet",
    )  # fmt: skip
    assert code == 0, err[-3000:]
    got = {(r["id_a"], r["id_b"]) for r in csv.DictReader(pairs.open())}
    assert want <= got and len(got - want) <= 1, f"pairs over {threshold}: {sorted(got)} against {sorted(want)}"
    assert f"{len(got)} duplicate pairs among {ORIGINALS + len(COPIED)} images" in out
    dom = chromium_dom(report)
    loaded, total = _images_loaded(dom)
    assert loaded == total >= 2, "each group's images as thumbnails"
    assert "groups of duplicates" in dom


def test_dedup_of_images_finds_the_planted_copies_with_the_signature(pictures, tmp_path):
    # The defaults: the copy-detection signature and its measured threshold (0.96).
    pairs = tmp_path / "pairs.csv"
    code, out, err = run("dedup", "--images", str(pictures / "all"), "--output", str(pairs), "--quiet")
    assert code == 0, err[-3000:]
    got = {(re.search(r"[oc]\d\d\.\w+$", r["id_a"]).group(0), re.search(r"[oc]\d\d\.\w+$", r["id_b"]).group(0))
           for r in csv.DictReader(pairs.open())}  # fmt: skip
    assert got == {(f"c{i:02d}.jpg", f"o{i:02d}.png") for i in COPIED}, got
    assert "(threshold 0.960, model signature)" in out, out
    # An index of signatures: search finds each copy's original first.
    index = tmp_path / "sigindex"
    code, out, err = run(
        "index", "--images", str(pictures / "originals"), "--model", "signature", "--out", str(index), "--quiet"
    )
    assert code == 0, err[-3000:]
    meta = json.loads((index / "index.json").read_text())
    assert meta["model"] == "signature" and meta["dim"] == 576
    found = tmp_path / "found.jsonl"
    code, out, err = run(
        "search", "--index", str(index), "--query", str(pictures / "copies"), "-k", "1", "--output", str(found),
        "--quiet",
    )  # fmt: skip
    assert code == 0, err[-3000:]
    for line in found.read_text().splitlines():
        r = json.loads(line)
        assert re.search(r"(\d\d)\.jpg$", r["query"]).group(1) == re.search(r"(\d\d)\.png$", r["id"]).group(1), r


def test_bad_arguments_are_explained(tmp_path):
    code, _, err = run("search", "--index", str(tmp_path), "--query", str(tmp_path))
    assert code == 2 and "not a sparkdl index" in err
    code, _, err = run("dedup", "--index", str(tmp_path), "--threshold", "3")
    assert code == 2 and "--threshold" in err
