"""Builds sparkdl's Python distributions: the sdist and the platform wheel, from python/.

    .venv/bin/python build/python_dist.py                            # make dist: dist/, every minor's jar required
    .venv/bin/python build/python_dist.py --out DIR --jars-present   # the wheel test: the jars there are

Both carry the jars of python/sparkdl/jars/ (one per Spark minor, each with the Linux x86-64
native library inside), as pyspark's own sdist carries Spark's jars: installing either needs no
JVM or Rust build. `python -m build` makes the sdist and then the wheel from the sdist (so a
file missing from the sdist fails here); setuptools tags the wheel py3-none-any, which it is not,
so it is retagged with the platform tag build/wheel_tag.py reads from the native libraries in the
wheel's own jars (`python -m wheel tags`). Prints each file with its size.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wheel_tag  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
JARS = REPO / "python" / "sparkdl" / "jars"


def minors() -> list:
    with open(REPO / "build" / "spark-versions.tsv") as f:
        return [line.split("\t")[0] for line in f if line.strip() and not line.startswith("#")]


def check_jars(all_required: bool) -> list:
    """The jars to package: one per supported minor (all of them unless `all_required` is
    False), and nothing else in the folder (the wheel takes every jar there)."""
    wanted = {f"sparkdl-spark{m}_2.13.jar": m for m in minors()}
    present = sorted(JARS.glob("*.jar"))
    stray = [j.name for j in present if j.name not in wanted]
    if stray:
        sys.exit(
            f"dist: {JARS} holds jars of no supported Spark minor: {', '.join(stray)}; delete them "
            "(build/spark-versions.tsv lists the minors)"
        )
    missing = [m for name, m in wanted.items() if not (JARS / name).is_file()]
    if missing and all_required:
        sys.exit(
            f"dist: no jar for Spark {', '.join(missing)} in {JARS}: the wheel carries every supported minor's; "
            "build them with `make jars` (or run `make dist`)"
        )
    if not present:
        sys.exit(f"dist: no jar in {JARS}: build one with `make jar`")
    return present


def build(out: Path, all_required: bool) -> tuple:
    jars = check_jars(all_required)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("sparkdl-*.whl")) + list(out.glob("sparkdl-*.tar.gz")):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", tmp, str(REPO / "python")], capture_output=True, text=True
        )
        if done.returncode != 0:  # its log only then: setuptools lists every file it copies
            sys.exit(f"{done.stdout}{done.stderr}\ndist: `python -m build python` failed (above)")
        (pure,) = Path(tmp).glob("sparkdl-*-py3-none-any.whl")
        (sdist,) = Path(tmp).glob("sparkdl-*.tar.gz")
        with zipfile.ZipFile(pure) as z, tempfile.TemporaryDirectory() as unpacked:
            inside = [n for n in z.namelist() if n.startswith("sparkdl/jars/") and n.endswith(".jar")]
            if sorted(Path(n).name for n in inside) != [j.name for j in jars]:
                sys.exit(f"dist: the wheel holds {inside}, not the jars of {JARS}")
            z.extractall(unpacked, inside)
            tag = wheel_tag.platform_tag(Path(unpacked) / n for n in inside)
        subprocess.run(
            [sys.executable, "-m", "wheel", "tags", "--remove", "--platform-tag", tag, str(pure)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (wheel,) = Path(tmp).glob(f"sparkdl-*-py3-none-{tag}.whl")
        targets = []
        for f in (wheel, sdist):
            targets.append(out / f.name)
            f.replace(targets[-1])
    for f in targets:
        print(f"{f.relative_to(REPO) if f.is_relative_to(REPO) else f}  {f.stat().st_size / 1e6:.1f} MB")
    return tuple(targets)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="build/python_dist.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "dist", help="folder for the wheel and sdist (default dist/)"
    )
    parser.add_argument(
        "--jars-present",
        action="store_true",
        help="package the jars python/sparkdl/jars/ has, not insisting on every supported minor's (the wheel test)",
    )
    args = parser.parse_args(argv)
    build(args.out.resolve(), all_required=not args.jars_present)
    return 0


if __name__ == "__main__":
    sys.exit(main())
