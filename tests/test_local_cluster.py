"""The same job on a real multi-JVM cluster: Spark's `local-cluster` master starts separate
executor JVMs that receive the sparkdl jar through `spark.jars`, extract the native library
from it and load libtensorflow themselves, as on a standalone/YARN/Kubernetes cluster."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

JOB = textwrap.dedent("""
    import os, sys
    from PIL import Image
    import numpy as np
    import sparkdl
    folder = sys.argv[1]
    for i in range(12):
        Image.fromarray(np.full((8 + i, 5, 3), i * 10, dtype=np.uint8)).save(os.path.join(folder, f"img{i}.png"))
    open(os.path.join(folder, "broken.jpg"), "wb").write(b"not an image")
    spark = sparkdl.session(master="local-cluster[2,1,1024]",
                            conf={"spark.ui.enabled": "false", "spark.executor.memory": "1g"})
    df = sparkdl.readImages(folder, numPartitions=4)
    rows = df.collect()
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
    ok = sorted(r.image.height for r in rows if r.image is not None)
    bad = [r.error for r in rows if r.image is None]
    print("RESULT", executors, len(rows), ok == list(range(8, 20)), len(bad), bad[0] if bad else "")
    spark.stop()
""")


def test_read_images_on_separate_executor_jvms(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    data = tmp_path / "images"
    data.mkdir()
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, str(script), str(data)], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT
    )
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert proc.returncode == 0 and result, proc.stdout[-3000:] + proc.stderr[-5000:]
    _, executors, n, heights_ok, n_bad, reason = result[0].split(" ", 5)
    assert int(executors) == 2
    assert int(n) == 13, "no lost rows"
    assert heights_ok == "True"
    assert int(n_bad) == 1 and "not a recognised image" in reason


def test_the_command_line_runs_the_same_job_on_a_cluster_master(tmp_path):
    """`sparkdl predict --master local-cluster[...]`: executor JVMs run the pretrained model."""
    import numpy as np
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(images / f"p{i}.png")
    out = tmp_path / "predictions.jsonl"
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sparkdl.cli",
            "predict",
            "--pretrained",
            "MobileNetV2",
            "--images",
            str(images),
            "--output",
            str(out),
            "--quiet",
            "--master",
            "local-cluster[2,1,1024]",
            "--conf",
            "spark.executor.memory=1g",
            "--conf",
            "spark.default.parallelism=4",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    import glob
    import json

    rows = [json.loads(line) for f in glob.glob(str(out / "*.json")) for line in open(f)]
    assert len(rows) == 6 and all(r["prediction"] and len(r["top"]) == 5 for r in rows)
