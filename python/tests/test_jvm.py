"""Jar lookup, session settings and the JVM entry-point check. Needs no jar and no Spark."""

from __future__ import annotations

import importlib.util
import os

import pytest

from sparkdl import _jvm


@pytest.fixture
def no_jars(monkeypatch, tmp_path):
    """Pretend that neither a bundled nor a development-checkout jar exists."""
    monkeypatch.setattr(_jvm, "_BUNDLED_JAR", tmp_path / "pkg" / "jars" / "sparkdl-assembly.jar")
    monkeypatch.setattr(_jvm, "_DEV_JAR", tmp_path / "repo" / "target" / "sparkdl-assembly.jar")
    monkeypatch.delenv("SPARKDL_JAR", raising=False)
    return tmp_path


def test_jar_path_error_names_all_three_options(no_jars):
    with pytest.raises(FileNotFoundError) as info:
        _jvm.jar_path()
    message = str(info.value)
    assert str(_jvm._BUNDLED_JAR) in message
    assert "SPARKDL_JAR" in message
    assert str(_jvm._DEV_JAR) in message


def test_jar_path_lookup_order(no_jars, monkeypatch):
    env_jar = no_jars / "env.jar"
    env_jar.write_bytes(b"PK")
    monkeypatch.setenv("SPARKDL_JAR", str(env_jar))
    assert _jvm.jar_path() == str(env_jar)

    _jvm._DEV_JAR.parent.mkdir(parents=True)
    _jvm._DEV_JAR.write_bytes(b"PK")
    assert _jvm.jar_path() == str(env_jar)  # the environment wins over the checkout
    monkeypatch.delenv("SPARKDL_JAR")
    assert _jvm.jar_path() == str(_jvm._DEV_JAR)

    _jvm._BUNDLED_JAR.parent.mkdir(parents=True)
    _jvm._BUNDLED_JAR.write_bytes(b"PK")
    monkeypatch.setenv("SPARKDL_JAR", str(env_jar))
    assert _jvm.jar_path() == str(_jvm._BUNDLED_JAR)  # the bundled jar wins


def test_jar_path_env_pointing_nowhere(no_jars, monkeypatch):
    monkeypatch.setenv("SPARKDL_JAR", str(no_jars / "missing.jar"))
    with pytest.raises(FileNotFoundError, match="SPARKDL_JAR=.*missing.jar.* does not name an existing file"):
        _jvm.jar_path()


def test_development_jar_location():
    # <repo>/python/sparkdl/_jvm.py -> <repo>/target/sparkdl-assembly.jar
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(_jvm.__file__))))
    assert str(_jvm._DEV_JAR) == os.path.join(repo, "target", "sparkdl-assembly.jar")


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
