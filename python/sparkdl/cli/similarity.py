"""``sparkdl index``, ``search`` and ``dedup``: image similarity from the command line.

An index is a folder: ``vectors.parquet`` (``id``: the image's path, ``features``: its
L2-normalised feature vector) and ``index.json`` (the model and settings that made the vectors,
so that ``search`` featurizes its queries the same way).
"""

import datetime
import json
import os
from typing import Dict, List, Sequence, Tuple

from sparkdl.cli import EXIT_USAGE, CliError
from sparkdl.cli.jobs import _check_writable, _jobs, _spark, _thumbnails, _translated, _write_text

INDEX_FORMAT = "sparkdl-index/1"


def _normalised(features_df):
    """``id`` (the path) and ``features`` scaled to unit length, for the images that decoded."""
    from pyspark.sql import functions as F

    ok = features_df.where(F.col("features").isNotNull())
    norm = F.sqrt(F.aggregate("features", F.lit(0.0), lambda acc, v: acc + v * v))
    return ok.select(
        F.col("path").alias("id"),
        F.when(norm > 0, F.transform("features", lambda v: (v / norm).cast("float")))
        .otherwise(F.col("features"))
        .alias("features"),
    )


#: The ``--model`` that means the copy-detection signature (``ImageSignature``), not a network.
SIGNATURE = "signature"


def _featurize(spark, model: str, images: str, progress, what: str):
    jobs = _jobs(spark)
    n = jobs.imageFiles(spark._jsparkSession, images).size()
    from pyspark.sql import DataFrame

    if model == SIGNATURE:
        progress.set_phase(f"{what}: copy-detection signatures", n)
        jdf = jobs.signatures(spark._jsparkSession, images)
    else:
        progress.set_phase(f"{what}: {model} features", n)
        jdf = jobs.featurize(spark._jsparkSession, model, images)
    raw = DataFrame(jdf, spark).cache()
    failed = raw.where("features IS NULL").count()
    return _normalised(raw), n, failed


def _read_index(spark, path: str) -> Tuple[Dict, object]:
    meta_path = os.path.join(path, "index.json")
    if not os.path.isfile(meta_path):
        raise CliError(f"--index: {path} is not a sparkdl index (no index.json; make one with `sparkdl index`)", 2)
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    if meta.get("format") != INDEX_FORMAT:
        raise CliError(f"--index: {path} has format {meta.get('format')!r}; this sparkdl reads {INDEX_FORMAT}", 2)
    return meta, spark.read.parquet(os.path.join(path, "vectors.parquet"))


def index(args) -> int:
    from sparkdl.cli.progress import SparkProgress

    if os.path.exists(args.out) and os.listdir(args.out):
        raise CliError(f"--out: {args.out} exists and is not empty; choose a new folder", EXIT_USAGE)
    with _spark(args) as spark, _translated():
        with SparkProgress(spark, 0, args.quiet) as progress:
            vectors, n, failed = _featurize(spark, args.model, args.images, progress, "indexing")
            progress.set_phase("writing the index")
            os.makedirs(args.out, exist_ok=True)
            vectors.write.parquet(os.path.join(args.out, "vectors.parquet"))
        written = spark.read.parquet(os.path.join(args.out, "vectors.parquet"))
        count = written.count()
        dim = len(written.first().features) if count else 0
        meta = {
            "format": INDEX_FORMAT,
            "model": args.model,
            "features": "ImageSignature (copy-detection signature), unit norm"
            if args.model == SIGNATURE
            else "DeepImageFeaturizer default layer, L2-normalised",
            "images": args.images,
            "count": count,
            "dim": dim,
            "unreadable": failed,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        _write_text(os.path.join(args.out, "index.json"), json.dumps(meta, indent=2) + "\n", "--out")
    print(f"{count} images indexed ({dim} features, model {args.model}) in {args.out}")
    if failed:
        print(f"{failed} of {n} files could not be read as images and are not in the index")
    return 0


def _write_rows(rows: List[Dict], columns: Sequence[str], output: str) -> None:
    import csv
    import io

    lower = output.lower()
    if lower.endswith(".csv"):
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)
        _write_text(output, text.getvalue(), "--output")
    elif lower.endswith(".jsonl") or lower.endswith(".json"):
        _write_text(output, "".join(json.dumps(r) + "\n" for r in rows), "--output")
    else:
        raise CliError(f"--output: name the format by the extension: .csv or .jsonl (got {output})", EXIT_USAGE)


def search(args) -> int:
    from sparkdl.cli.progress import SparkProgress
    from sparkdl.similarity import NearestNeighbors

    for path, what in ((args.output, "--output"), (args.report, "--report")):
        if path:
            _check_writable(path, what)
    if args.k < 1:
        raise CliError(f"-k: must be at least 1, got {args.k}", EXIT_USAGE)
    with _spark(args) as spark, _translated():
        meta, vectors = _read_index(spark, args.index)
        with SparkProgress(spark, 0, args.quiet) as progress:
            queries, n, failed = _featurize(spark, meta["model"], args.query, progress, "queries")
            progress.set_phase("searching")
            model = NearestNeighbors(k=args.k).fit(vectors)
            found = model.transform(queries.withColumnRenamed("id", "query")).select("query", "neighbors").collect()
        results = sorted((r.query, [(nb.id, float(nb.score)) for nb in r.neighbors]) for r in found)
        rows = [
            {"query": q, "rank": rank + 1, "id": i, "score": round(s, 6)}
            for q, nbs in results
            for rank, (i, s) in enumerate(nbs)
        ]
        if args.output:
            _write_rows(rows, ("query", "rank", "id", "score"), args.output)
        else:
            for q, nbs in results:
                print(q)
                for rank, (i, s) in enumerate(nbs):
                    print(f"  {rank + 1:>3}  {s:.4f}  {i}")
        if args.report:
            paths = sorted({q for q, _ in results} | {i for _, nbs in results for i, _ in nbs})
            from sparkdl.cli.report import render_similarity

            groups = [(f"query {q}", [(q, "query")] + [(i, f"{s:.4f}") for i, s in nbs]) for q, nbs in results]
            page = render_similarity(
                f"sparkdl search: {len(results)} queries against {args.index}",
                [f"index: {meta['count']} images, model {meta['model']}", f"k = {args.k}; score: cosine similarity"],
                groups,
                _thumbnails(spark, paths),
            )
            _write_text(args.report, page, "--report")
    print(
        f"{len(results)} queries searched, {len(rows)} neighbours"
        + (f" written to {args.output}" if args.output else "")
    )
    if failed:
        print(f"{failed} of {n} query files could not be read as images")
    if args.report:
        print(f"report written to {args.report}")
    return 0


def dedup(args) -> int:
    from sparkdl.cli.progress import SparkProgress
    from sparkdl.similarity import findDuplicates

    for path, what in ((args.output, "--output"), (args.report, "--report")):
        if path:
            _check_writable(path, what)
    if args.threshold is not None and not -1.0 <= args.threshold <= 1.0:
        raise CliError(f"--threshold: a cosine similarity in [-1, 1], got {args.threshold}", EXIT_USAGE)
    with _spark(args) as spark, _translated():
        meta, indexed = _read_index(spark, args.index) if args.index else (None, None)
        model = meta["model"] if meta else args.model
        similarity = spark._jvm.org.sparkdl.similarity
        threshold = args.threshold
        if threshold is None:  # the measured one for the signature (docs/SIMILARITY-SIGNATURE.md)
            defaults = similarity.ImageSignature if model == SIGNATURE else similarity.Duplicates
            threshold = defaults.DefaultThreshold()
        with SparkProgress(spark, 0, args.quiet) as progress:
            if meta:
                vectors, source = indexed, f"index {args.index}"
            else:
                vectors, _, _ = _featurize(spark, args.model, args.images, progress, "dedup")
                source = args.images
            vectors = vectors.cache()
            total = vectors.count()
            progress.set_phase("finding duplicates")
            pairs = findDuplicates(vectors, threshold=threshold).cache()
            groups = None
            if args.report:  # the groups of the pairs found, not a second search
                from pyspark.sql import DataFrame

                duplicates = spark._jvm.org.sparkdl.similarity.Duplicates
                groups = DataFrame(duplicates.groups(vectors._jdf, pairs._jdf, "id"), spark)
            pair_rows = [
                {"id_a": r.id_a, "id_b": r.id_b, "score": round(float(r.score), 6)}
                for r in pairs.orderBy("id_a", "id_b").collect()
            ]
            members: Dict[str, List[str]] = {}
            if groups is not None:
                for r in groups.collect():
                    members.setdefault(r.group, []).append(r.id)
        if args.output:
            _write_rows(pair_rows, ("id_a", "id_b", "score"), args.output)
        dup_groups = sorted((sorted(m) for m in members.values() if len(m) > 1), key=lambda m: (-len(m), m[0]))
        print(f"{len(pair_rows)} duplicate pairs among {total} images (threshold {threshold:.3f}, model {model})")
        if args.report:
            from sparkdl.cli.report import render_similarity

            best = {}
            for p in pair_rows:
                for a, b in ((p["id_a"], p["id_b"]), (p["id_b"], p["id_a"])):
                    best[a] = max(best.get(a, -2.0), p["score"])
            shown = dup_groups[:50]
            page = render_similarity(
                f"sparkdl dedup: {len(dup_groups)} groups of duplicates in {source}",
                [
                    f"{total} images, {len(pair_rows)} pairs with cosine similarity >= {threshold:.3f} (model {model})",
                    f"{len(dup_groups)} groups; the first {len(shown)} shown, largest first; "
                    "each image's caption: its best score within the group",
                ],
                [(f"group of {len(g)}", [(p, f"{best.get(p, 0):.4f}") for p in g]) for g in shown],
                _thumbnails(spark, sorted({p for g in shown for p in g})),
            )
            _write_text(args.report, page, "--report")
            print(f"report written to {args.report}")
        if args.output:
            print(f"pairs written to {args.output}")
    return 0
