"""The ``sparkdl`` subcommands: Spark session, JVM job, progress, report."""

import contextlib
import os
import tempfile
from typing import Any, Dict, Iterator, List, Tuple

from sparkdl.cli import EXIT_USAGE, CliError


def _conf(pairs: List[str]) -> Dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise CliError(f"--conf: expected KEY=VALUE, got '{pair}'", EXIT_USAGE)
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


@contextlib.contextmanager
def _spark(args) -> Iterator[Any]:
    import sparkdl
    from sparkdl.cli import quiet

    verbose = getattr(args, "verbose", False)
    conf = {"spark.ui.showConsoleProgress": "false", **_conf(args.conf)}
    with tempfile.TemporaryDirectory(prefix="sparkdl-cli-") as tmp:
        if not verbose:  # the CLI's own lines only (sparkdl.cli.quiet); --verbose: all
            quiet.environment()
            conf = quiet.java_options(conf, tmp)
        try:
            with contextlib.nullcontext() if verbose else quiet.FilteredStderr():
                spark = sparkdl.session(master=args.master, conf=conf, app_name=f"sparkdl {args.command}")
        except FileNotFoundError as e:  # the jar
            raise CliError(str(e))
        if not verbose:  # also where the JVM was already running, or a log4j2 configuration was given
            spark.sparkContext.setLogLevel("ERROR")
        try:
            yield spark
        finally:
            spark.stop()


def _jobs_error(e: Exception) -> CliError:
    """A CliError from a JVM failure: JobException keeps its message and exit code."""
    java = getattr(e, "java_exception", None)
    if java is None and hasattr(e, "getMessage"):
        java = e
    if java is not None:
        cause = java
        while cause is not None:
            name = cause.getClass().getName()
            if name == "org.sparkdl.cli.JobException":
                return CliError(cause.getMessage(), cause.exitCode())
            if name in ("java.lang.IllegalArgumentException", "org.sparkdl.jni.NativeException"):
                return CliError(cause.getMessage(), EXIT_USAGE if "IllegalArgument" in name else 1)
            cause = cause.getCause()
    text = str(e).strip().splitlines()
    return CliError(text[0] if text else repr(e))


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import IllegalArgumentException

    try:
        yield
    except Py4JJavaError as e:
        raise _jobs_error(e)
    except IllegalArgumentException as e:
        text = (getattr(e, "desc", None) or str(e)).strip().splitlines()
        raise CliError(text[0] if text else repr(e), EXIT_USAGE)


def _api(spark):
    from sparkdl._jvm import _jvm_api

    return _jvm_api(spark)


def _df(spark, jdf):
    from pyspark.sql import DataFrame

    return DataFrame(jdf, spark)


def _jobs(spark):
    return spark.sparkContext._jvm.org.sparkdl.cli.Jobs


def _train(spark, api, data_jdf, args, model: str, weights: str, progress, n: int, label: str):
    progress.set_phase(f"{label}: featurize + fit", n)
    result = api.cliTrain(
        spark._jsparkSession,
        data_jdf,
        model,
        weights or "",
        args.classifier if hasattr(args, "classifier") else "logistic",
        float(getattr(args, "reg_param", 0.01)),
        float(getattr(args, "validation", 0.2)),
        int(args.seed),
    )
    progress.end_phase()  # before the caller logs the result
    return result


def _predictions(spark, result) -> List[Tuple[str, str, str, Any]]:
    rows = _df(spark, result.predictions()).collect()
    return [(r.path, r.label, r.prediction, r.probability) for r in rows if r.prediction is not None]


def _thumbnails(spark, paths: List[str]) -> Dict[str, str]:
    from sparkdl.cli.report import thumbnail

    if not paths:
        return {}
    rows = spark.read.format("binaryFile").load(paths).select("path", "content").collect()
    out = {}
    for r in rows:
        uri = thumbnail(bytes(r.content))
        if uri:
            out[r.path] = uri
    # binaryFile qualifies paths (file:/x); map them back to the paths we asked for.
    by_tail = {p.split(":", 1)[-1].lstrip("/"): p for p in paths}
    return {by_tail.get(k.split(":", 1)[-1].lstrip("/"), k): v for k, v in out.items()}


def _write_report(spark, path: str, title: str, runs, labels, predictions, notes) -> None:
    from sparkdl.cli.report import render

    mistakes = [p[0] for p in predictions if p[1] != p[2]][:32]
    rights = [p[0] for p in predictions if p[1] == p[2]][: max(0, 48 - len(mistakes))]
    page = render(title, runs, labels, predictions, _thumbnails(spark, mistakes + rights), notes)
    _write_text(path, page, "--report")


def _write_text(path: str, text: str, what: str) -> None:
    """Writes ``text`` to ``path`` through a temporary sibling renamed at the end: no half-written
    file; a failure names the option ``what``."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        raise CliError(f"{what}: cannot write {path}: {e}", EXIT_USAGE)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _check_writable(path: str, what: str) -> None:
    if "://" in path:
        return
    parent = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise CliError(f"{what}: cannot write {path} (no writable folder {parent})", EXIT_USAGE)


def train(args) -> int:
    from sparkdl.cli.progress import SparkProgress

    if args.report:
        _check_writable(args.report, "--report")
    with _spark(args) as spark, _translated():
        api = _api(spark)
        data = api.cliLabelledImages(spark._jsparkSession, args.images, args.labels or "")
        n = data.count()
        with SparkProgress(spark, n, args.quiet) as progress:
            progress.log(f"{n} labelled images; model {args.model}, classifier {args.classifier}")
            result = _train(spark, api, data, args, args.model, args.weights, progress, n, args.model)
            progress.set_phase("saving the model")
            _jobs(spark).saveModel(result.model(), args.out)
        labels = list(api.cliLabels(result))
        print(f"classes: {', '.join(labels)}; train {result.trainCount()}, validation {result.validationCount()}")
        print(
            f"accuracy {result.accuracy():.4f}  precision {result.weightedPrecision():.4f}  "
            f"recall {result.weightedRecall():.4f}  f1 {result.f1():.4f}"
        )
        print(f"model saved to {args.out}")
        if args.report:
            runs = [{"name": f"{args.model} features + {args.classifier}", "accuracy": result.accuracy()}]
            _write_report(
                spark,
                args.report,
                f"sparkdl: {args.model} on {args.images}",
                runs,
                labels,
                _predictions(spark, result),
                [f"{n} images, {result.validationCount()} held out"],
            )
            print(f"report written to {args.report}")
    return 0


def predict(args) -> int:
    from sparkdl.cli.progress import SparkProgress

    with _spark(args) as spark, _translated():
        jobs = _jobs(spark)
        files = jobs.imageFiles(spark._jsparkSession, args.images)
        n = files.size()
        with SparkProgress(spark, n, args.quiet) as progress:
            progress.set_phase("predicting", n)
            if args.model:
                preprocess = {
                    k: str(getattr(args, k.replace("-", "_")))
                    for k in ("image-size", "scale", "mean", "std")
                    if getattr(args, k.replace("-", "_"), None) is not None
                }
                out = jobs.predictWithModelJava(spark._jsparkSession, args.model, args.images, preprocess)
            else:
                out = jobs.predictPretrained(spark._jsparkSession, args.pretrained, args.images, int(args.top_k))
            jobs.write(out, args.output)
        print(f"{n} predictions written to {args.output}")
    return 0


def featurize(args) -> int:
    from sparkdl.cli.progress import SparkProgress

    with _spark(args) as spark, _translated():
        jobs = _jobs(spark)
        n = jobs.imageFiles(spark._jsparkSession, args.images).size()
        with SparkProgress(spark, n, args.quiet) as progress:
            progress.set_phase("featurizing", n)
            jobs.write(jobs.featurize(spark._jsparkSession, args.model, args.images), args.output)
        print(f"{n} feature vectors written to {args.output}")
    return 0


def demo(args) -> int:
    """Transfer learning on elpv: pretrained MobileNetV2 features vs the same network with
    random weights, then the report."""
    from sparkdl.cli.progress import SparkProgress
    from sparkdl.datasets import elpv

    _check_writable(args.report, "--report")
    try:
        elpv.check_installed()  # before Spark starts: the message names the install command
    except RuntimeError as e:
        raise CliError(str(e), EXIT_USAGE)
    args.classifier, args.reg_param, args.validation = "logistic", 0.01, 0.25
    with _spark(args) as spark, _translated(), tempfile.TemporaryDirectory() as tmp:
        api = _api(spark)
        data = elpv.labelled_paths(spark, args.fraction, args.seed)
        n = data.count()
        random_weights = elpv.random_mobilenet_weights(os.path.join(tmp, "random.pth"), args.seed)
        with SparkProgress(spark, n, args.quiet) as progress:
            progress.log(f"elpv-dataset: {n} solar-cell images, label = defect probability >= 0.5")
            pretrained = _train(spark, api, data._jdf, args, "MobileNetV2", "", progress, n, "pretrained MobileNetV2")
            progress.log(f"pretrained MobileNetV2 features: accuracy {pretrained.accuracy():.4f}")
            random = _train(
                spark, api, data._jdf, args, "MobileNetV2", random_weights, progress, n, "random-weight MobileNetV2"
            )
            progress.log(f"same network, random weights: accuracy {random.accuracy():.4f}")
        runs = [
            {"name": "MobileNetV2, random weights (no transfer learning)", "accuracy": random.accuracy()},
            {"name": "MobileNetV2, ImageNet weights (transfer learning)", "accuracy": pretrained.accuracy()},
        ]
        labels = list(api.cliLabels(pretrained))
        _write_report(
            spark,
            args.report,
            "sparkdl demo: solar-cell defects with and without transfer learning",
            runs,
            labels,
            _predictions(spark, pretrained),
            [
                f"{n} images of elpv-dataset, {pretrained.validationCount()} held out (seed {args.seed})",
                "features: DeepImageFeaturizer(modelName='MobileNetV2'); classifier: LogisticRegression",
            ],
        )
        print(f"with transfer learning: {pretrained.accuracy():.4f}; without: {random.accuracy():.4f}")
        print(f"report written to {args.report}")
    return 0
