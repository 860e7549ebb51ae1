"""Copy detection measured through sparkdl's own stages: ImageSignature's signatures (or
DeepImageFeaturizer's MobileNetV2 features: --features mobilenet centred in numpy, mobilenet-raw as
the featurizer gives them, which is what findDuplicates' own default threshold is for) and findDuplicates, on copies
planted among elpv's solar cells (all alike) and among crops of scikit-image's sample photos.

    source build/engine-env.sh
    .venv/bin/python benches/signature_eval.py [--set elpv|diverse] [--originals 400] [--copies 20]
        [--seeds 0 1 2] [--features signature|mobilenet|mobilenet-raw]

A copy (docs/SIMILARITY-SIGNATURE.md, "Copy recipe"): resized by f ~ U(0.5, 0.8) (bilinear or
Lanczos), centre-cropped to 90%, brightness x U(0.9, 1.1), JPEG quality 40-60. Printed per
seed: how often a copy's nearest other image is its original (top-1), and precision/recall of
the pairs findDuplicates returns at each threshold (elpv: "module-aware", i.e. pairs of cells
whose file numbers differ by <= 60 or by 542 +- 20, which elpv itself holds as near-duplicates,
count as neither; and strict). The last line is JSON.
"""

import argparse
import json
import os
import re
import tempfile

import numpy as np
from PIL import Image, ImageEnhance

THRESHOLDS = [0.90, 0.92, 0.94, 0.95, 0.955, 0.96, 0.965, 0.97, 0.975, 0.98, 0.99]
# A CNN's pooled features as they are (non-negative) score unrelated images higher: a wider range.
THRESHOLDS_RAW = [0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98]


def plant_copy(im, rng):
    f = rng.uniform(0.5, 0.8)
    resample = (Image.BILINEAR, Image.LANCZOS)[int(rng.integers(0, 2))]
    b = rng.uniform(0.9, 1.1)
    q = int(rng.integers(40, 61))
    w, h = round(im.width * f), round(im.height * f)
    im = im.resize((w, h), resample)
    cw, ch = round(0.9 * w), round(0.9 * h)
    left, top = (w - cw) // 2, (h - ch) // 2
    im = ImageEnhance.Brightness(im.crop((left, top, left + cw, top + ch))).enhance(b)
    return im, q


def elpv_set(n, rng):
    import elpv_dataset

    folder = os.path.join(os.path.dirname(elpv_dataset.__file__), "data", "images")
    files = sorted(os.listdir(folder))
    picks = rng.choice(len(files), n, replace=False)
    return [(files[i].rsplit(".", 1)[0], Image.open(os.path.join(folder, files[i])).convert("L")) for i in picks]


def diverse_set(n, rng):
    """Square crops (64 px to 400 px) of scikit-image's sample photos at random places, in one of
    the 8 flips/rotations, resized to 300 x 300: a simpler cousin of the research's set."""
    from skimage import data

    names = ["astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "grass", "gravel", "hubble_deep_field",
             "immunohistochemistry", "moon", "page", "retina", "rocket", "text", "horse", "clock"]  # fmt: skip
    sources = []
    for name in names:
        a = getattr(data, name)()
        a = a.astype(np.uint8) * 255 if a.dtype == bool else a
        sources.append((name, Image.fromarray(a).convert("RGB")))
    out = []
    while len(out) < n:
        name, src = sources[int(rng.integers(0, len(sources)))]
        side = int(np.exp(rng.uniform(np.log(64), np.log(min(400, *src.size)))))
        x, y = int(rng.integers(0, src.width - side + 1)), int(rng.integers(0, src.height - side + 1))
        crop = src.crop((x, y, x + side, y + side))
        if np.asarray(crop.convert("L")).std() < 15:
            continue
        t = int(rng.integers(0, 8))
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT) if t >= 4 else crop
        crop = crop.rotate(90 * (t % 4))
        out.append((f"d{len(out):04d}", crop.resize((300, 300), Image.LANCZOS)))
    return out


def module_related(a, b):
    na, nb = int(re.sub(r"\D", "", a)), int(re.sub(r"\D", "", b))
    d = abs(na - nb)
    return d <= 60 or abs(d - 542) <= 20


def run(spark, kind, n, n_copies, seed, features):
    import sparkdl

    rng = np.random.default_rng(seed)
    originals = elpv_set(n, rng) if kind == "elpv" else diverse_set(n, rng)
    folder = tempfile.mkdtemp(prefix=f"sigeval-{kind}-{seed}-")
    for name, im in originals:
        im.save(os.path.join(folder, f"{name}.png"))
    planted = {}
    for i in rng.choice(n, n_copies, replace=False):
        name, im = originals[i]
        copy, q = plant_copy(im, rng)
        copy.save(os.path.join(folder, f"{name}_copy.jpg"), quality=q)
        planted[f"{name}_copy"] = name
    images = sparkdl.readImages(folder)
    if features == "signature":
        vectors = sparkdl.ImageSignature(outputCol="features").transform(images)
    else:
        from pyspark.ml.functions import vector_to_array

        f = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="v", modelName="MobileNetV2").transform(images)
        vectors = f.withColumn("features", vector_to_array("v", "float32"))
    df = vectors.selectExpr("regexp_extract(image.origin, '([^/]+)\\\\.[a-z]+$', 1) AS id", "features").cache()
    rows = df.collect()
    ids = [r.id for r in rows]
    x = np.array([r.features for r in rows], dtype=np.float64)
    if features == "mobilenet":
        x = x - x.mean(0)
    if features != "signature":
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    where = {i: k for k, i in enumerate(ids)}
    sims = x @ x.T
    np.fill_diagonal(sims, -2)
    top1 = np.mean([ids[int(np.argmax(sims[where[c]]))] == o for c, o in planted.items()])
    positives = {tuple(sorted((c, o))) for c, o in planted.items()}
    thresholds = THRESHOLDS_RAW if features == "mobilenet-raw" else THRESHOLDS
    low = min(thresholds)
    if features != "mobilenet":  # through findDuplicates itself, on the features as they are
        found = [(r.id_a, r.id_b, r.score) for r in sparkdl.findDuplicates(df, threshold=low).collect()]
    else:
        a, b = np.where(np.triu(sims, 1) >= low)
        found = [(min(ids[i], ids[j]), max(ids[i], ids[j]), sims[i, j]) for i, j in zip(a, b)]
    curve = []
    for t in thresholds:
        pairs = [(a, b) for a, b, s in found if s >= t]
        for mode in ("module-aware", "strict") if kind == "elpv" else ("strict",):

            def counted(p):
                if p in positives or mode == "strict":
                    return True
                base = [re.sub("_copy$", "", q) for q in p]
                return not module_related(*base)

            kept = [p for p in pairs if counted(p)]
            tp = sum(p in positives for p in kept)
            precision = tp / len(kept) if kept else 1.0
            curve.append({"t": t, "mode": mode, "precision": round(precision, 3),
                          "recall": round(tp / len(positives), 3), "fp": len(kept) - tp})  # fmt: skip
    return {"set": kind, "seed": seed, "features": features, "originals": n, "copies": n_copies,
            "top1": round(float(top1), 3), "curve": curve}  # fmt: skip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["elpv", "diverse"], default="elpv")
    ap.add_argument("--originals", type=int, default=400)
    ap.add_argument("--copies", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--features", choices=["signature", "mobilenet", "mobilenet-raw"], default="signature")
    args = ap.parse_args()
    import sparkdl

    spark = sparkdl.session(master="local[2]", conf={"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"})
    results = []
    for seed in args.seeds:
        r = run(spark, args.set, args.originals, args.copies, seed, args.features)
        results.append(r)
        print(f"{r['set']} seed {seed} ({r['features']}): top-1 {r['top1']:.2f}")
        for c in r["curve"]:
            print(f"  t={c['t']:.3f} {c['mode']:>12}: P {c['precision']:.2f} R {c['recall']:.2f} ({c['fp']} FP)")
    print(json.dumps(results))
    spark.stop()


if __name__ == "__main__":
    main()
