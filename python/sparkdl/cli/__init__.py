"""The ``sparkdl`` command: transfer learning and batch inference on folders of images.

    sparkdl train --images DIR --model MobileNetV2 --out MODEL_DIR [--report report.html]
    sparkdl predict --model MODEL_DIR|MODEL.onnx | --pretrained NAME --images DIR|GLOB --output FILE
    sparkdl featurize --model NAME --images DIR|GLOB --output FILE.parquet
    sparkdl demo [--report sparkdl-demo.html]
    sparkdl index --images DIR --model NAME --out INDEX
    sparkdl search --index INDEX --query FILE_OR_DIR [-k 10] [--output FILE] [--report r.html]
    sparkdl dedup (--images DIR | --index INDEX) [--threshold T] [--output pairs.csv] [--report r.html]
    sparkdl serve-sql [--port 10000] [--host 127.0.0.1] [--model NAME=PATH ...]
    sparkdl serve-connect [--port 15002] [--host 127.0.0.1] [--model NAME=PATH ...]

The jobs run in the JVM engine (``org.sparkdl.cli.Jobs``, also behind
``spark-submit --class org.sparkdl.cli.Main``); this command adds progress and the HTML report.
``--master`` (default ``local[*]``) and ``--conf k=v`` run the same job on a cluster.
Only the command's own lines are printed (and errors); ``--verbose`` adds Spark's, the JVM's and
the engines' (sparkdl.cli.quiet). ``sparkdl --version``: sparkdl's, Spark's and the engines'.
"""

import argparse
import sys
from typing import List, Optional

EXIT_USAGE = 2
EXIT_FAILED = 1


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from sparkdl.cli.versions import versions

        print("\n".join(versions()))
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--master", default="local[*]", help="Spark master (default: local[*], embedded)")
    common.add_argument("--conf", action="append", default=[], metavar="K=V", help="a Spark conf (repeatable)")
    common.add_argument("--quiet", action="store_true", help="no progress output")
    common.add_argument(
        "--verbose",
        action="store_true",
        help="also Spark's, the JVM's and the engines' own log lines (by default only errors are shown)",
    )

    p = argparse.ArgumentParser(prog="sparkdl", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action=_Version, help="sparkdl's, Spark's and each engine's version, then exit")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", parents=[common], help="featurize with a pretrained model and train a classifier")
    t.add_argument("--images", required=True, help="folder with one sub-folder per class (or the images of --labels)")
    t.add_argument("--labels", help="CSV with a header and columns path,label (instead of sub-folders)")
    t.add_argument("--model", default="MobileNetV2", help="named pretrained model (default MobileNetV2)")
    t.add_argument("--weights", help="weights for --model (a frozen .pb, or MobileNetV2's .pth)")
    t.add_argument("--out", required=True, help="where to save the PipelineModel")
    t.add_argument("--classifier", default="logistic", choices=["logistic", "random_forest", "linear_svc"])
    t.add_argument("--reg-param", type=float, default=0.01, help="regularization (logistic, linear_svc)")
    t.add_argument("--validation", type=float, default=0.2, help="held-out fraction (default 0.2)")
    t.add_argument("--seed", type=int, default=42)
    t.add_argument("--report", help="write an HTML report here")

    pr = sub.add_parser("predict", parents=[common], help="predict with a trained or a pretrained model")
    g = pr.add_mutually_exclusive_group(required=True)
    g.add_argument("--model", help="a model saved by `sparkdl train`, or an image model's .onnx file")
    g.add_argument("--pretrained", help="a named model: its ImageNet classes")
    pr.add_argument("--images", required=True, help="folder or glob")
    pr.add_argument("--output", required=True, help="FILE.parquet, FILE.csv or FILE.jsonl")
    pr.add_argument("--top-k", type=int, default=5)
    pr.add_argument("--image-size", help="an .onnx --model's input size, H,W (where the model takes any size)")
    pr.add_argument("--scale", help="an .onnx --model's scale of pixel values (e.g. 0.00392156862745098 for 1/255)")
    pr.add_argument("--mean", help="an .onnx --model's per-channel mean, R,G,B (after --scale)")
    pr.add_argument("--std", help="an .onnx --model's per-channel std, R,G,B")

    f = sub.add_parser("featurize", parents=[common], help="features of a named model")
    f.add_argument("--model", default="MobileNetV2")
    f.add_argument("--images", required=True)
    f.add_argument("--output", required=True, help="FILE.parquet or FILE.jsonl")

    d = sub.add_parser("demo", parents=[common], help="transfer learning on the elpv solar-cell images, with a report")
    d.add_argument("--report", default="sparkdl-demo-report.html")
    d.add_argument("--fraction", type=float, default=1.0, help="use this fraction of the 2,624 images")
    d.add_argument("--seed", type=int, default=42)

    ix = sub.add_parser("index", parents=[common], help="index images for `search` and `dedup`: normalised features")
    ix.add_argument("--images", required=True, help="folder or glob")
    ix.add_argument(
        "--model",
        default="MobileNetV2",
        help="named model whose features index the images, or 'signature': the copy-detection signature "
        "(for finding copies; no model)",
    )
    ix.add_argument("--out", required=True, help="the index folder to create")

    se = sub.add_parser("search", parents=[common], help="the images of an index most like each query image")
    se.add_argument("--index", required=True, help="a folder made by `sparkdl index`")
    se.add_argument("--query", required=True, help="an image file, a folder or a glob")
    se.add_argument("-k", type=int, default=10, help="neighbours per query (default 10)")
    se.add_argument("--output", help="FILE.csv or FILE.jsonl: query, rank, id, score (default: printed)")
    se.add_argument("--report", help="write an HTML report here: each query with its neighbours")

    dd = sub.add_parser("dedup", parents=[common], help="near-duplicate images: pairs and groups")
    src = dd.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="folder or glob (compared by --model)")
    src.add_argument("--index", help="a folder made by `sparkdl index`")
    dd.add_argument(
        "--model",
        default="signature",
        help="for --images: 'signature' (default), the copy-detection signature that finds resized, cropped and "
        "re-encoded copies, or a named model (its features find similar-looking images)",
    )
    dd.add_argument(
        "--threshold",
        type=float,
        help="cosine similarity of a duplicate (default: 0.96 for the signature, measured; 0.95 for a model's features)",
    )
    dd.add_argument("--output", help="FILE.csv or FILE.jsonl: id_a, id_b, score")
    dd.add_argument("--report", help="write an HTML report here: each group of duplicates side by side")

    for name, port, what in (
        ("serve-sql", 10000, "Spark's Thrift JDBC/ODBC server (Beeline, BI tools)"),
        ("serve-connect", 15002, "a Spark Connect server (PySpark/Scala Connect clients)"),
    ):
        s = sub.add_parser(name, parents=[common], help=f"{what} with sparkdl's SQL functions")
        s.add_argument("--port", type=int, default=port, help=f"port (default {port})")
        s.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 for all)",
        )
        s.add_argument(
            "--model",
            action="append",
            metavar="NAME=PATH",
            help="a saved sparkdl stage or PipelineModel as the SQL function NAME (repeatable)",
        )
        s.add_argument(
            "--state-dir", help="folder for the server's metastore and warehouse (default: a new temporary one)"
        )
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if not args.verbose:
        from sparkdl.cli import quiet

        quiet.python_warnings()
    try:
        if args.command.startswith("serve-"):
            from sparkdl.cli import serve

            return serve.serve(args, args.command[len("serve-") :])
        if args.command in ("index", "search", "dedup"):
            from sparkdl.cli import similarity

            return getattr(similarity, args.command)(args)
        from sparkdl.cli import jobs

        return getattr(jobs, args.command)(args)
    except CliError as e:
        print(f"sparkdl: error: {e}", file=sys.stderr)
        if e.code == EXIT_FAILED and not args.verbose:
            print("sparkdl: (--verbose also shows Spark's and the engines' own log lines)", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print("sparkdl: interrupted", file=sys.stderr)
        return 130


def entry_point() -> None:
    sys.exit(main())
