"""Jar lookup, session settings and the JVM entry-point check. Needs no jar and no Spark."""

from __future__ import annotations

import importlib.util
import os

import pytest

from sparkdl import _jvm

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_jvm.__file__))))


@pytest.fixture
def no_jars(monkeypatch, tmp_path):
    """Pretend that neither a bundled nor a development-checkout jar exists, on pyspark 4.2.1."""
    monkeypatch.setattr(_jvm, "_BUNDLED_JARS", tmp_path / "pkg" / "jars")
    monkeypatch.setattr(_jvm, "_DEV_JARS", tmp_path / "repo" / "target")
    monkeypatch.setattr(_jvm, "_pyspark_version", lambda: "4.2.1")
    monkeypatch.delenv("SPARKDL_JAR", raising=False)
    return tmp_path


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK")
    return path


def test_jar_path_error_names_all_three_options(no_jars):
    with pytest.raises(FileNotFoundError) as info:
        _jvm.jar_path()
    message = str(info.value)
    assert str(_jvm._BUNDLED_JARS / "sparkdl-spark4.2_2.13.jar") in message
    assert "SPARKDL_JAR" in message
    assert str(_jvm._DEV_JARS / "sparkdl-spark4.2_2.13.jar") in message
    assert "make jar-4.2" in message


def test_jar_path_lookup_order(no_jars, monkeypatch):
    env_jar = _touch(no_jars / "env.jar")
    monkeypatch.setenv("SPARKDL_JAR", str(env_jar))
    assert _jvm.jar_path() == str(env_jar)

    dev = _touch(_jvm._DEV_JARS / "sparkdl-spark4.2_2.13.jar")
    assert _jvm.jar_path() == str(env_jar)  # the environment wins over the checkout
    monkeypatch.delenv("SPARKDL_JAR")
    assert _jvm.jar_path() == str(dev)

    bundled = _touch(_jvm._BUNDLED_JARS / "sparkdl-spark4.2_2.13.jar")
    monkeypatch.setenv("SPARKDL_JAR", str(env_jar))
    assert _jvm.jar_path() == str(bundled)  # the bundled jar wins


def test_jar_path_picks_the_jar_of_the_installed_spark_minor(no_jars, monkeypatch):
    jars = {minor: _touch(_jvm._BUNDLED_JARS / f"sparkdl-spark{minor}_2.13.jar") for minor in _jvm.SUPPORTED_SPARK}
    for version, minor in [
        ("4.0.5", "4.0"),
        ("4.1.0", "4.1"),
        ("4.2.1", "4.2"),
        ("4.3.0", "4.3"),
        ("4.3.1.dev0", "4.3"),
    ]:
        monkeypatch.setattr(_jvm, "_pyspark_version", lambda v=version: v)
        assert _jvm.jar_path() == str(jars[minor])
        assert _jvm.jar_path(version) == str(jars[minor])
    # A jar for another minor is never taken instead.
    jars["4.3"].unlink()
    with pytest.raises(FileNotFoundError, match="Spark 4.3"):
        _jvm.jar_path()


@pytest.mark.parametrize("version", ["3.5.4", "4.0.0", "4.4.0", "5.0.0"])
def test_unsupported_spark_fails_naming_the_supported_versions(no_jars, monkeypatch, version):
    monkeypatch.setattr(_jvm, "_pyspark_version", lambda: version)
    for call in (_jvm.spark_minor, _jvm.jar_path, _jvm.session):
        with pytest.raises(RuntimeError) as info:
            call()
        message = str(info.value)
        assert f"pyspark {version}" in message
        assert "Spark 4.0 (from 4.0.1), 4.1, 4.2 and 4.3" in message
        assert "pyspark>=4.0.1,<4.4" in message


def test_supported_versions_agree_with_the_build_and_the_package():
    """build/spark-versions.tsv (the jars built), _jvm.SPARK_BUILDS (the jar picked, the oldest
    release accepted) and the package's pyspark requirement (what pip installs) agree."""
    with open(os.path.join(REPO, "build", "spark-versions.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#")]
    assert {r[0]: r[1] for r in rows} == _jvm.SPARK_BUILDS
    assert tuple(r[0] for r in rows) == _jvm.SUPPORTED_SPARK
    last = _jvm.SUPPORTED_SPARK[-1]
    upper = f"{last.split('.')[0]}.{int(last.split('.')[1]) + 1}"
    assert _jvm.PYSPARK_REQUIREMENT == f"pyspark>={rows[0][1]},<{upper}"
    with open(os.path.join(REPO, "python", "pyproject.toml")) as f:
        assert f'"{_jvm.PYSPARK_REQUIREMENT}"' in f.read()
    # The development venv's pyspark is the default version the jar compiles against.
    default = [r for r in rows if r[-1] == "default"]
    assert len(default) == 1
    with open(os.path.join(REPO, "python", "requirements-dev.txt")) as f:
        pins = [line.strip() for line in f if line.startswith("pyspark")]
    assert pins == [f"pyspark[connect]=={default[0][1]}"]


def test_patch_releases_from_the_compiled_one_are_accepted(no_jars, monkeypatch):
    for version in ["4.0.1", "4.0.5", "4.1.0", "4.2.1", "4.3.0", "4.3.2.dev0"]:
        monkeypatch.setattr(_jvm, "_pyspark_version", lambda v=version: v)
        assert _jvm.spark_minor() == version[:3]


def test_jar_path_env_pointing_nowhere(no_jars, monkeypatch):
    monkeypatch.setenv("SPARKDL_JAR", str(no_jars / "missing.jar"))
    with pytest.raises(FileNotFoundError, match="SPARKDL_JAR=.*missing.jar.* does not name an existing file"):
        _jvm.jar_path()


def test_development_jar_location():
    # <repo>/python/sparkdl/_jvm.py -> <repo>/target/sparkdl-spark<minor>_2.13.jar
    assert str(_jvm._DEV_JARS) == os.path.join(REPO, "target")
    assert _jvm.jar_name("4.3") == "sparkdl-spark4.3_2.13.jar"


def test_tensorflow_lib_dir_without_import():
    spec = importlib.util.find_spec("tensorflow")
    expected = None
    if spec is not None and spec.submodule_search_locations:
        folder = list(spec.submodule_search_locations)[0]
        if os.path.isfile(os.path.join(folder, "libtensorflow_cc.so.2")):
            expected = folder
    assert _jvm.tensorflow_lib_dir() == expected


def test_session_settings(no_jars, monkeypatch):
    jar = no_jars / "sparkdl.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv("SPARKDL_JAR", str(jar))
    monkeypatch.delenv("SPARKDL_TENSORFLOW_LIB_DIR", raising=False)
    monkeypatch.setattr(_jvm, "tensorflow_lib_dir", lambda: "/opt/tf")
    monkeypatch.setattr(_jvm, "_existing_jvm_conf", lambda key: None)  # no JVM running

    settings = _jvm._session_settings({"spark.ui.enabled": False, "spark.jars": "/a.jar, /b.jar"})
    assert settings["spark.jars"] == f"/a.jar,/b.jar,{jar}"
    assert settings["spark.ui.enabled"] == "false"
    assert settings["spark.sparkdl.tensorflow.libDir"] == "/opt/tf"

    assert _jvm._session_settings(None)["spark.jars"] == str(jar)
    given = _jvm._session_settings({"spark.sparkdl.tensorflow.libDir": "/mine"})
    assert given["spark.sparkdl.tensorflow.libDir"] == "/mine"
    monkeypatch.setenv("SPARKDL_TENSORFLOW_LIB_DIR", "/from/env")
    assert "spark.sparkdl.tensorflow.libDir" not in _jvm._session_settings(None)

    monkeypatch.setattr(_jvm, "tensorflow_lib_dir", lambda: None)
    monkeypatch.delenv("SPARKDL_TENSORFLOW_LIB_DIR")
    assert "spark.sparkdl.tensorflow.libDir" not in _jvm._session_settings(None)


def test_session_settings_keep_jars_of_a_running_jvm(no_jars, monkeypatch):
    jar = no_jars / "sparkdl.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv("SPARKDL_JAR", str(jar))
    monkeypatch.setattr(_jvm, "_existing_jvm_conf", lambda key: f"/x.jar,{jar}")
    assert _jvm._session_settings(None)["spark.jars"] == f"/x.jar,{jar}"
    # Jars given in conf take precedence over the running JVM's.
    assert _jvm._session_settings({"spark.jars": "/y.jar"})["spark.jars"] == f"/y.jar,{jar}"


def test_session_rejects_bad_conf():
    with pytest.raises(ValueError, match="conf must be a mapping"):
        _jvm.session(conf=[("a", "b")])


class _FakePackage:
    """What py4j answers for a name that is not a loadable class: more package."""

    def __getattr__(self, name):
        return self


class _FakeSession:
    def __init__(self, jvm):
        self._jvm = jvm


def test_jvm_api_missing_class_error():
    with pytest.raises(RuntimeError) as info:
        _jvm._jvm_api(_FakeSession(_FakePackage()))
    message = str(info.value)
    assert "org.sparkdl.python.PythonAPI" in message
    assert "--jars" in message
    assert "sparkdl.session()" in message


def test_jvm_api_without_gateway():
    with pytest.raises(RuntimeError, match="no py4j JVM gateway"):
        _jvm._jvm_api(_FakeSession(None))
