"""The README's "Python, notebook style" tour, run as written: its code is read from README.md,
so the README and this test cannot drift apart.

The tour assumes photos/cats/*.jpg and photos/dogs/*.jpg in the working directory; the test makes
a tiny such folder (reddish and bluish noise) in a temporary one. Relative paths are resolved by
the JVM, in the working directory Spark was started in, so the tour runs as a user runs it: in
its own Python started in that folder (the shared session's JVM lives elsewhere).
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sparkdl_testkit import MASTER, SPARK_CONF

README = Path(__file__).resolve().parents[2] / "README.md"
PER_CLASS = 10

# Runs the tour's code, then reports what it made. The session is created first only to pin
# local[2] (as the shared session): the 0.8/0.2 split depends on the partitioning.
RUNNER = """
import json, sys
import sparkdl
sparkdl.session(master={master!r}, conf={conf!r})
tour = {{"__name__": "__main__"}}
exec(compile(open("tour.py").read(), "README.md: Python, notebook style", "exec"), tour)
print("CHECKS " + json.dumps({{
    "images": tour["images"].count(),
    "test": tour["test"].count(),
    "classes": sorted(r["class"] for r in tour["data"].select("class").distinct().collect()),
    "top5": tour["top5"].columns,
}}))
"""


def tour_code() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("**Python, notebook style:**")
    block = re.compile(r"```python\n(.*?)```", re.S).search(text, start)
    assert block, "README: no ```python block after 'Python, notebook style'"
    return block.group(1)


def write_photos(root: Path) -> None:
    rng = np.random.default_rng(0)
    for cls, color in (("cats", (200, 60, 40)), ("dogs", (40, 70, 200))):
        (root / cls).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = np.clip(rng.normal(0, 30, (48, 48, 3)) + color, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{cls[:-1]}{i}.jpg", quality=90)


def test_the_readme_python_tour_runs_as_written(tmp_path):
    code = tour_code()
    assert 'sparkdl.readImages("photos/"' in code and "print(" in code
    write_photos(tmp_path / "photos")
    (tmp_path / "tour.py").write_text(code)
    (tmp_path / "runner.py").write_text(RUNNER.format(master=MASTER, conf=SPARK_CONF))
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, "runner.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]

    out = proc.stdout.strip().splitlines()
    checks = json.loads(out[-1].removeprefix("CHECKS "))
    accuracy = float(out[-2])  # what the tour prints: the evaluator's accuracy on `test`
    assert 0.0 <= accuracy <= 1.0, out
    assert checks["images"] == 2 * PER_CLASS
    assert checks["test"] > 0, "an empty 0.2 split: the accuracy would mean nothing"
    assert checks["classes"] == ["cats", "dogs"]
    assert "top5" in checks["top5"]
    assert (tmp_path / "cats-vs-dogs" / "stages").is_dir()
