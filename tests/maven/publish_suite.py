"""The Maven artifacts as users get them: `make test-publish` (part of `make test`).

`make test-publish` publishes the default Spark minor with `make publish-local` into a fresh
repository, target/maven-test/home/.m2/repository (never ~/.m2), and runs this suite with
SPARKDL_TEST_M2_REPO naming it. The suite checks what Maven Central requires (the jar, a POM with
name, description, url, license, scm and developers, a sources and a javadoc jar), that the POM
declares Spark and Scala `provided` and nothing the jar bundles, and then resolves the artifact as
a user does: `spark-submit --packages org.sparkdl:sparkdl-spark<minor>_2.13:<version>`, through
Spark's own resolvers, whose local Maven repository is `user.home`/.m2/repository (user.home is
set to target/maven-test/home), with a fresh Ivy folder (spark.jars.ivy) so that nothing an
earlier publish left in a cache can stand in for this one. A Scala job, compiled against the
published jar by the scalac in Spark's own jars/, runs an ONNX model as a DataFrame stage and as a
SQL function (in a session without sparkdl's extension, as a job that only adds the package has)
and saves it; then `spark-sql` loads the saved model by `spark.sparkdl.sql.models`
and queries it.

Runs under the main venv (.venv: its pyspark is the default minor's Spark, its onnx writes the
model, its onnxruntime runs it). The file is not named test_*.py, so `make test-python` does not
collect it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
JOB_SOURCE = Path(__file__).resolve().parent / "MavenJob.scala"
GROUP = "org.sparkdl"
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
# The job's input and the model's answer (y = 2x + 1), as the Scala job and spark-sql print them.
EXPECTED_ROWS = ["[3.0,5.0,7.0]", "[-1.0,1.0,2.0]"]


def default_target() -> dict:
    with open(REPO / "build" / "spark-versions.tsv") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if not line.startswith("#") and len(cols) >= 7 and cols[6] == "default":
                return {"minor": cols[0], "spark": cols[1], "scala": cols[2], "arrow": cols[3]}
    raise AssertionError("build/spark-versions.tsv marks no line default")


class Published:
    """The one version of the default minor's artifact in the test repository."""

    def __init__(self, m2: Path, target: dict):
        self.m2 = m2
        self.home = m2.parent.parent
        self.target = target
        self.artifact = f"sparkdl-spark{target['minor']}_2.13"
        folder = m2 / GROUP.replace(".", "/") / self.artifact
        versions = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        if len(versions) != 1:
            pytest.fail(
                f"{folder} holds {len(versions)} versions ({', '.join(versions) or 'none'}); the suite checks a fresh "
                "publish of one: run `make test-publish`, which empties target/maven-test first"
            )
        self.version = versions[0]
        self.coordinate = f"{GROUP}:{self.artifact}:{self.version}"
        self.prefix = folder / self.version / f"{self.artifact}-{self.version}"

    def file(self, suffix: str) -> Path:
        return Path(f"{self.prefix}{suffix}")


@pytest.fixture(scope="module")
def published() -> Published:
    value = os.environ.get("SPARKDL_TEST_M2_REPO")
    if not value:
        pytest.fail("SPARKDL_TEST_M2_REPO is not set: run `make test-publish`, which publishes into a test repository")
    m2 = Path(value).resolve()
    if m2.parts[-2:] != (".m2", "repository"):
        pytest.fail(
            f"SPARKDL_TEST_M2_REPO={value} does not end in .m2/repository: spark-submit finds the local Maven "
            "repository at user.home/.m2/repository, so the suite needs a folder of that shape"
        )
    return Published(m2, default_target())


@pytest.fixture(scope="module")
def spark_home(published) -> Path:
    import pyspark

    minor = ".".join(pyspark.__version__.split(".")[:2])
    if minor != published.target["minor"]:
        pytest.fail(
            f"this venv's pyspark is {pyspark.__version__}, not the default minor {published.target['minor']}: run "
            "the suite with .venv/bin/python (make test-publish)"
        )
    return Path(pyspark.__file__).resolve().parent


def pom(published) -> ET.Element:
    return ET.parse(published.file(".pom")).getroot()


def text(root: ET.Element, path: str) -> str:
    node = root.find(path, POM_NS)
    return (node.text or "").strip() if node is not None else ""


def test_the_files_maven_central_requires(published):
    for suffix in (".jar", ".pom", "-sources.jar", "-javadoc.jar"):
        f = published.file(suffix)
        assert f.is_file() and f.stat().st_size > 0, f"{f.name} was not published"


def test_pom_has_centrals_metadata(published):
    root = pom(published)
    assert text(root, "m:groupId") == GROUP
    assert text(root, "m:artifactId") == published.artifact
    assert text(root, "m:version") == published.version
    assert text(root, "m:packaging") == "jar"
    for field in ("m:name", "m:description", "m:url", "m:scm/m:url", "m:scm/m:connection"):
        assert text(root, field), f"the POM has no {field.replace('m:', '')}"
    assert f"Spark {published.target['minor']}" in text(root, "m:description")
    assert text(root, "m:licenses/m:license/m:name") == "Apache-2.0"
    assert text(root, "m:licenses/m:license/m:url") == "https://www.apache.org/licenses/LICENSE-2.0"
    developer = root.find("m:developers/m:developer", POM_NS)
    assert developer is not None, "the POM has no developers"
    assert text(developer, "m:name") and text(developer, "m:email")


def test_pom_declares_spark_and_scala_provided_and_nothing_bundled(published):
    deps = {
        (text(d, "m:groupId"), text(d, "m:artifactId")): (text(d, "m:version"), text(d, "m:scope") or "compile")
        for d in pom(published).findall("m:dependencies/m:dependency", POM_NS)
    }
    t = published.target
    assert deps[("org.scala-lang", "scala-library")] == (t["scala"], "provided")
    assert deps[("org.apache.spark", "spark-sql_2.13")] == (t["spark"], "provided")
    assert deps[("org.apache.spark", "spark-mllib_2.13")] == (t["spark"], "provided")
    # Whatever a user's job would download besides the jar: nothing (arrow-c-data is inside it).
    runtime = {k: v for k, v in deps.items() if v[1] not in ("provided", "test")}
    assert runtime == {}, f"the POM declares run-time dependencies {runtime}: the jar should bundle them"
    assert not [k for k in deps if k[0] == "org.apache.arrow"], "arrow-c-data is bundled, not a dependency"


def test_the_jar_is_self_contained(published):
    with zipfile.ZipFile(published.file(".jar")) as z:
        names = set(z.namelist())
        props = dict(
            line.split("=", 1) for line in z.read("org/sparkdl/build.properties").decode().splitlines() if "=" in line
        )
    for entry in (
        "org/sparkdl/native/linux-x86_64/libsparkdl.so",
        "org/apache/arrow/c/Data.class",
        "arrow_cdata_jni/x86_64/libarrow_cdata_jni.so",
        "META-INF/LICENSE",
        "META-INF/NOTICE",
        "META-INF/THIRD-PARTY.md",
        "org/sparkdl/transformers/ONNXTransformer.class",
    ):
        assert entry in names, f"the published jar lacks {entry}"
    assert props["artifact"] == published.artifact and props["version"] == published.version
    # Spark and Scala come from the cluster: the jar carries neither (only sparkdl's own classes
    # in Spark's packages, org.apache.spark.{sql,ml}.sparkdl).
    foreign = [
        n
        for n in names
        if n.endswith(".class")
        and (n.startswith("scala/") or n.startswith("org/apache/spark/"))
        and "/sparkdl/" not in n
    ]
    assert foreign == [], f"the jar bundles Spark or Scala classes: {foreign[:5]}"


def test_sources_and_javadoc_jars(published):
    with zipfile.ZipFile(published.file("-sources.jar")) as z:
        sources = set(z.namelist())
    for entry in (
        "org/sparkdl/transformers/ONNXTransformer.scala",
        "org/sparkdl/jni/NativeLib.java",
        "META-INF/LICENSE",
        "META-INF/NOTICE",
    ):
        assert entry in sources, f"the sources jar lacks {entry}"
    built = [n for n in sources if n.endswith((".so", ".class"))]
    assert built == [], f"the sources jar holds built files: {built}"
    with zipfile.ZipFile(published.file("-javadoc.jar")) as z:
        docs = set(z.namelist())
    for entry in ("index.html", "org/sparkdl/transformers/ONNXTransformer.html", "META-INF/LICENSE"):
        assert entry in docs, f"the javadoc jar lacks {entry}"


def make_onnx_model(path: Path) -> Path:
    """x: float32 [batch, 3] -> y = 2x + 1 (onnx.helper)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "two"], ["twice"]), helper.make_node("Add", ["twice", "one"], ["y"])],
        "twice_plus_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        initializer=[
            numpy_helper.from_array(np.array(2, np.float32), "two"),
            numpy_helper.from_array(np.array(1, np.float32), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def run(cmd: list, cwd: Path, env: dict, what: str) -> str:
    # The timeout only keeps a hung JVM from hanging `make test`; no step comes near it.
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    if done.returncode != 0:
        tail = "\n".join(out.splitlines()[-60:])
        pytest.fail(f"{what} exited {done.returncode}:\n{tail}")
    return out


def java() -> str:
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else "java"


def spark_env(published: Published, spark_home: Path) -> dict:
    sys.path.insert(0, str(REPO / "python"))
    from sparkdl._jvm import onnxruntime_library

    env = dict(os.environ)
    ort = env.get("SPARKDL_ONNXRUNTIME_LIB") or onnxruntime_library()
    if not ort:
        pytest.fail("no ONNX Runtime: run the suite with .venv/bin/python (make test-publish), which has onnxruntime")
    env.update(
        {
            "SPARK_HOME": str(spark_home),
            "SPARKDL_ONNXRUNTIME_LIB": ort,
            # Spark's local Maven repository is user.home/.m2/repository: the test repository.
            "SPARK_SUBMIT_OPTS": f"{env.get('SPARK_SUBMIT_OPTS', '')} -Duser.home={published.home}".strip(),
        }
    )
    env.pop("SPARKDL_JAR", None)
    return env


def packages_args(published: Published, ivy: Path, extension: bool = True) -> list:
    """spark-submit's arguments for the published coordinate; ``extension``: with sparkdl's
    session extension (its SQL functions), else without, as a job that only adds the package."""
    return [
        "--master",
        "local[2]",
        "--packages",
        published.coordinate,
        "--conf",
        f"spark.jars.ivy={ivy}",
        "--conf",
        "spark.ui.enabled=false",
    ] + (["--conf", "spark.sql.extensions=org.sparkdl.sql.SparkdlExtensions"] if extension else [])


@pytest.fixture(scope="module")
def scala_job(published, spark_home, tmp_path_factory):
    """Compiles MavenJob.scala against the published jar and runs it with --packages."""
    work = tmp_path_factory.mktemp("maven-job")
    classes = work / "classes"
    classes.mkdir()
    env = spark_env(published, spark_home)
    run(
        [
            java(),
            "-cp",
            str(spark_home / "jars" / "*"),
            "scala.tools.nsc.Main",
            "-usejavacp",
            "-classpath",
            str(published.file(".jar")),
            "-d",
            str(classes),
            str(JOB_SOURCE),
        ],
        work,
        env,
        "scalac MavenJob.scala (Spark's own scala-compiler, against the published jar)",
    )
    job_jar = work / "maven-job.jar"
    with zipfile.ZipFile(job_jar, "w") as z:
        for f in sorted(classes.iterdir()):
            z.write(f, f.name)
    model = make_onnx_model(work / "twice_plus_one.onnx")
    stage = work / "twice_plus_one.stage"
    ivy = work / "ivy"
    out = run(
        [
            str(spark_home / "bin" / "spark-submit"),
            *packages_args(published, ivy, extension=False),
            "--class",
            "MavenJob",
        ]
        + [str(job_jar), str(model), str(stage)],
        work,
        env,
        f"spark-submit --packages {published.coordinate} --class MavenJob",
    )
    return {"out": out, "ivy": ivy, "stage": stage, "env": env, "work": work}


def test_spark_submit_packages_resolves_the_jar_alone(published, scala_job):
    out = scala_job["out"]
    assert f"found {GROUP}#{published.artifact};{published.version} in local-m2-cache" in out, out[-3000:]
    # What --packages fetched for the job: the one jar, nothing else to download.
    fetched = sorted(p.name for p in (scala_job["ivy"] / "jars").iterdir())
    assert fetched == [f"{GROUP}_{published.artifact}-{published.version}.jar"]


def test_a_scala_job_runs_a_model_and_a_sql_function(published, scala_job):
    line = next((x for x in scala_job["out"].splitlines() if x.startswith("MavenJob: ok")), None)
    assert line, scala_job["out"][-3000:]
    assert f"on Spark {published.target['minor']}." in line
    assert (scala_job["stage"] / "metadata").is_dir()


def test_spark_sql_queries_a_saved_model(published, spark_home, scala_job):
    cwd = scala_job["work"] / "spark-sql"
    cwd.mkdir()
    query = (
        "SELECT twice_plus_one(x) AS y FROM VALUES "
        "(array(CAST(1 AS FLOAT), 2, 3)), (array(CAST(-1 AS FLOAT), 0, 0.5)) AS t(x)"
    )
    done = subprocess.run(
        [str(spark_home / "bin" / "spark-sql"), *packages_args(published, scala_job["ivy"])]
        + ["--conf", "spark.sql.catalogImplementation=in-memory"]
        + ["--conf", f"spark.sparkdl.sql.models=twice_plus_one={scala_job['stage']}", "-e", query],
        cwd=cwd,
        env=scala_job["env"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, "\n".join((done.stdout + done.stderr).splitlines()[-60:])
    assert done.stdout.split() == EXPECTED_ROWS
