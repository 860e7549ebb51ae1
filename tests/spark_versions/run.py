"""Runs the smoke suite (smoke.py) on Spark minors, each from its own pyspark wheel and venv.

    .venv/bin/python tests/spark_versions/run.py 4.0 4.1 4.2 4.3     # make test-spark-versions
    .venv/bin/python tests/spark_versions/run.py 4.3                 # make test-spark-newest

Needs, per minor, `.venv-spark<minor>` (make venv-spark<minor>) and the jar
`target/sparkdl-spark<minor>_2.13.jar` (make jar-<minor>). Runs under the main venv, whose
TensorFlow makes the suite's SavedModel once and whose libtensorflow every smoke venv uses
(SPARKDL_TENSORFLOW_LIB_DIR), as is its ONNX Runtime (SPARKDL_ONNXRUNTIME_LIB), so the smoke
venvs stay small; the ONNX model is made with the main venv's onnx.

SPARKDL_SMOKE_JAVA_HOMES="/path/to/jdk21,/path/to/jdk25" runs each minor once more on each of
those JVMs (as JAVA_HOME), after the default one (JAVA_HOME or java on PATH);
--only-extra-jvms skips the default one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMOKE = Path(__file__).resolve().parent / "smoke.py"


def versions() -> dict:
    rows = {}
    with open(REPO / "build" / "spark-versions.tsv") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                cols = line.rstrip("\n").split("\t")
                rows[cols[0]] = {"spark": cols[1], "smoke": cols[4]}
    return rows


def make_saved_model(folder: Path) -> Path:
    """x: float32 [batch, 48, 48, 3] -> sums: the per-channel sum of each image."""
    import tensorflow as tf

    class Sums(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 48, 48, 3], tf.float32, name="x")])
        def __call__(self, x):
            return {"sums": tf.reduce_sum(x, axis=[1, 2])}

    module = Sums()
    path = folder / "sums_saved_model"
    tf.saved_model.save(module, str(path), signatures=module.__call__)
    return path


def make_onnx_model(folder: Path) -> Path:
    """image: float32 [batch, 3, h, w] -> means: the per-channel mean of each image (onnx.helper)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["image"], ["means"], axes=[2, 3], keepdims=0)],
        "means",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("means", TensorProto.FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "means.onnx"
    onnx.save(model, str(path))
    return path


def java_version(java_home: str | None) -> str:
    java = os.path.join(java_home, "bin", "java") if java_home else "java"
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    first = out.splitlines()[0] if out else "?"
    return first.split('"')[1] if '"' in first else first


def main(argv: list) -> int:
    table = versions()
    only_extra = "--only-extra-jvms" in argv
    minors = [a for a in argv if not a.startswith("--")] or list(table)
    unknown = [m for m in minors if m not in table]
    if unknown:
        print(f"run.py: unknown Spark minor(s) {', '.join(unknown)}; build/spark-versions.tsv lists {', '.join(table)}")
        return 2
    problems = []
    for m in minors:
        if not (REPO / f".venv-spark{m}" / "bin" / "python").exists():
            problems.append(f"no .venv-spark{m}: run `make venv-spark{m}`")
        if not (REPO / "target" / f"sparkdl-spark{m}_2.13.jar").exists():
            problems.append(f"no target/sparkdl-spark{m}_2.13.jar: run `make jar-{m}`")
    if problems:
        print("run.py: " + "; ".join(problems))
        return 2

    sys.path.insert(0, str(REPO / "python"))
    from sparkdl._jvm import onnxruntime_library, tensorflow_lib_dir

    tf_lib = os.environ.get("SPARKDL_TENSORFLOW_LIB_DIR") or tensorflow_lib_dir()
    ort_lib = os.environ.get("SPARKDL_ONNXRUNTIME_LIB") or onnxruntime_library()
    if not tf_lib or not ort_lib:
        print(
            "run.py: no libtensorflow or ONNX Runtime: run it with the main venv (.venv/bin/python), which has "
            "tensorflow-cpu and onnxruntime"
        )
        return 2
    java_homes = [] if only_extra else [os.environ.get("JAVA_HOME")]
    java_homes += [h for h in os.environ.get("SPARKDL_SMOKE_JAVA_HOMES", "").split(",") if h]

    results = []
    with tempfile.TemporaryDirectory(prefix="sparkdl-smoke-") as tmp:
        model = make_saved_model(Path(tmp))
        onnx_model = make_onnx_model(Path(tmp))
        for m in minors:
            py = REPO / f".venv-spark{m}" / "bin" / "python"
            for home in java_homes:
                env = dict(os.environ)
                env.update(
                    {
                        "SPARKDL_TENSORFLOW_LIB_DIR": tf_lib,
                        "SPARKDL_ONNXRUNTIME_LIB": ort_lib,
                        "SPARKDL_SMOKE_ONNX_MODEL": str(onnx_model),
                        "SPARKDL_SMOKE_SAVED_MODEL": str(model),
                        "SPARKDL_SMOKE_PYSPARK": table[m]["smoke"],
                        "PYSPARK_PYTHON": str(py),
                        "PYSPARK_DRIVER_PYTHON": str(py),
                    }
                )
                env.pop("SPARKDL_JAR", None)
                env.pop("SPARK_HOME", None)  # each venv's pyspark brings its own Spark
                if home:
                    env["JAVA_HOME"] = home
                java = java_version(home)
                label = f"Spark {m} (pyspark {table[m]['smoke']}, Java {java})"
                print(f"\n=== smoke suite on {label}", flush=True)
                t0 = time.monotonic()
                rc = subprocess.call(
                    [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(SMOKE)], cwd=str(REPO), env=env
                )
                results.append((label, rc, time.monotonic() - t0))

    print("\n=== smoke suite per Spark version")
    for label, rc, seconds in results:
        print(f"{label}: {'passed' if rc == 0 else f'FAILED (pytest exit {rc})'} in {seconds:.0f} s")
    failed = sum(rc != 0 for _, rc, _ in results)
    print(f"versions: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
