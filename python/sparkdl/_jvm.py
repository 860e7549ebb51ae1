"""Locating the sparkdl jar and talking to its JVM entry point.

Nothing here imports TensorFlow: the TensorFlow shared libraries are found
on disk through ``importlib.util.find_spec`` and handed to the JVM side,
which loads them itself (through the sparkdl native library).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

__all__ = [
    "jar_path",
    "session",
    "spark_minor",
    "tensorflow_lib_dir",
    "tensorflow_version",
    "onnxruntime_library",
    "onnxruntime_version",
    "SUPPORTED_SPARK",
    "PYSPARK_REQUIREMENT",
]

# The Spark minors sparkdl is built for, one jar each, and the oldest release of each that its jar
# runs on (the one it compiles against; Spark 4.0.0's ML Params are not binary compatible with
# 4.0.1+, SPARK-52259). build/spark-versions.tsv says the same, and so does the package's `pyspark`
# requirement in pyproject.toml; python/tests/test_jvm.py checks all three.
SPARK_BUILDS = {"4.0": "4.0.1", "4.1": "4.1.0", "4.2": "4.2.0", "4.3": "4.3.0"}
SUPPORTED_SPARK = tuple(SPARK_BUILDS)
PYSPARK_REQUIREMENT = "pyspark>=4.0.1,<4.4"
SCALA_BINARY = "2.13"
JAR_ENV = "SPARKDL_JAR"
EXTENSIONS_CONF = "spark.sql.extensions"
EXTENSIONS_CLASS = "org.sparkdl.sql.SparkdlExtensions"
TF_LIB_DIR_CONF = "spark.sparkdl.tensorflow.libDir"
TF_LIB_DIR_ENV = "SPARKDL_TENSORFLOW_LIB_DIR"
TF_LIBRARY = "libtensorflow_cc.so.2"
ORT_LIB_CONF = "spark.sparkdl.onnx.libPath"
ORT_LIB_ENV = "SPARKDL_ONNXRUNTIME_LIB"
PYTHON_API_CLASS = "org.sparkdl.python.PythonAPI"

_PACKAGE_DIR = Path(__file__).resolve().parent  # .../python/sparkdl
_BUNDLED_JARS = _PACKAGE_DIR / "jars"
# A development checkout: <repo>/python/sparkdl/_jvm.py -> <repo>/target/...
_DEV_JARS = _PACKAGE_DIR.parent.parent / "target"


def _pyspark_version() -> str:
    from pyspark.version import __version__

    return str(__version__)


def _numbers(version: str) -> tuple:
    """(4, 0, 1) for "4.0.1", "4.0.1.dev0" or "4.0.1-SNAPSHOT"; missing parts are 0."""
    parts = []
    for part in version.replace("-", ".").split(".")[:3]:
        digits = "".join(itertools.takewhile(str.isdigit, part))
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def spark_minor(version: Optional[str] = None) -> str:
    """The Spark minor (``"4.2"``) of ``version`` (``"4.2.1"``), by default the installed
    pyspark's, checked to be one sparkdl supports.

    :raises RuntimeError: for a Spark that sparkdl is not built for, naming the supported ones.
    """
    version = version or _pyspark_version()
    minor = ".".join(version.split(".")[:2])
    oldest = SPARK_BUILDS.get(minor)
    if oldest is None or _numbers(version) < _numbers(oldest):
        names = [m if SPARK_BUILDS[m].endswith(".0") else f"{m} (from {SPARK_BUILDS[m]})" for m in SUPPORTED_SPARK]
        supported = ", ".join(names[:-1]) + " and " + names[-1]
        raise RuntimeError(
            f"sparkdl works with Spark {supported} ({PYSPARK_REQUIREMENT}); this Python has "
            f"pyspark {version}. Install a supported one, e.g. pip install '{PYSPARK_REQUIREMENT}'."
        )
    return minor


def jar_name(minor: str) -> str:
    """The file name of the sparkdl jar for a Spark minor: ``sparkdl-spark4.2_2.13.jar``
    (the Maven artifact ``org.sparkdl:sparkdl-spark4.2_2.13``)."""
    return f"sparkdl-spark{minor}_{SCALA_BINARY}.jar"


def jar_path(spark_version: Optional[str] = None) -> str:
    """Absolute path of the sparkdl jar built for the installed pyspark's Spark minor (or for
    ``spark_version``).

    Looked up, in this order:

    1. the jar bundled in the installed package (``sparkdl/jars/sparkdl-spark4.2_2.13.jar``);
    2. the file named by the environment variable ``SPARKDL_JAR``;
    3. a development checkout's ``<repo>/target/sparkdl-spark4.2_2.13.jar``.

    :raises RuntimeError: when the Spark version is not one sparkdl supports.
    :raises FileNotFoundError: when no jar is found, listing where it looked.
    """
    minor = spark_minor(spark_version)
    name = jar_name(minor)
    bundled = _BUNDLED_JARS / name
    if bundled.is_file():
        return str(bundled)
    env = os.environ.get(JAR_ENV)
    if env:
        candidate = Path(env).expanduser()
        if candidate.is_file():
            return str(candidate.resolve())
        raise FileNotFoundError(
            f"sparkdl: the environment variable {JAR_ENV}={env!r} does not name an existing "
            f"file. Point it at the sparkdl jar for Spark {minor} ({name}) or unset it."
        )
    dev = _DEV_JARS / name
    if dev.is_file():
        return str(dev)
    raise FileNotFoundError(
        f"sparkdl: cannot find the sparkdl jar for Spark {minor} ({name}). Looked for:\n"
        f"  1. the jar bundled with the package: {bundled} "
        "(install a sparkdl wheel built with the jars);\n"
        f"  2. the environment variable {JAR_ENV} (unset; set it to the path of {name});\n"
        f"  3. a development checkout's jar: {dev} "
        f"(build it in the repository with `make jar-{minor}`)."
    )


def _package_dir(name: str) -> Optional[str]:
    """The folder of an installed Python package, found without importing it, or None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    locations = list(spec.submodule_search_locations)
    return locations[0] if locations else None


def tensorflow_lib_dir() -> Optional[str]:
    """Folder of an installed ``tensorflow`` (or ``tensorflow-cpu``) Python package that
    holds ``libtensorflow_cc.so.2``, or None. TensorFlow is not imported."""
    folder = _package_dir("tensorflow")
    if folder is not None and os.path.isfile(os.path.join(folder, TF_LIBRARY)):
        return folder
    return None


def onnxruntime_library() -> Optional[str]:
    """``libonnxruntime.so.1.*`` of an installed ``onnxruntime`` (or ``onnxruntime-gpu``) Python
    package, or None. onnxruntime is not imported."""
    folder = _package_dir("onnxruntime")
    if folder is None:
        return None
    capi = os.path.join(folder, "capi")
    try:
        found = sorted(f for f in os.listdir(capi) if f.startswith("libonnxruntime.so.1."))
    except OSError:
        return None
    return os.path.join(capi, found[-1]) if found else None


def _missing_classes_message() -> str:
    try:
        jar = jar_path()
    except (FileNotFoundError, RuntimeError) as e:
        jar = f"<sparkdl jar: not found; {e}>"
    return (
        f"sparkdl: the JVM class {PYTHON_API_CLASS} is not loadable in this SparkSession, "
        "so its JVM was started without the sparkdl jar. Either stop this session "
        "(spark.stop()) and, in a fresh Python process, create the session with "
        "sparkdl.session(), or start PySpark / spark-submit with "
        f"`--jars {jar}`."
    )


def _jvm_api(spark: "SparkSession") -> Any:
    """The py4j handle of the JVM object ``org.sparkdl.python.PythonAPI``.

    Raises RuntimeError with instructions when the class is not on the
    session's JVM class path (py4j then answers a JavaPackage, not a JavaClass).
    """
    from py4j.java_gateway import JavaClass

    try:
        jvm = spark._jvm  # type: ignore[attr-defined]
    except Exception:  # Spark Connect sessions have no py4j gateway
        jvm = None
    if jvm is None:
        raise RuntimeError(
            "sparkdl: this SparkSession has no py4j JVM gateway (is it a Spark Connect "
            "session, or stopped?). sparkdl needs a classic SparkSession: create one with "
            "sparkdl.session()."
        )
    api = jvm
    for part in PYTHON_API_CLASS.split("."):
        api = getattr(api, part)
    if not isinstance(api, JavaClass):
        raise RuntimeError(_missing_classes_message())
    return api


def _conf_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _existing_jvm_conf(key: str) -> Optional[str]:
    """A Spark property already visible to a running JVM (e.g. set by spark-submit)."""
    from pyspark import SparkContext

    if SparkContext._jvm is None:  # type: ignore[attr-defined]
        return None
    try:
        from pyspark import SparkConf

        return SparkConf().get(key, None)
    except Exception:
        return None


def _session_settings(conf: Optional[Mapping[str, Any]], master: str = "local[*]") -> Dict[str, str]:
    """The Spark properties of a new sparkdl session: ``conf`` plus the jar and the
    TensorFlow library folder (and, in local mode, this interpreter for Python workers)."""
    jar = jar_path()
    settings = {str(k): _conf_value(v) for k, v in (conf or {}).items()}
    # Local Python workers otherwise run whatever `python3` is first on PATH, which may
    # lack numpy/PIL; the interpreter running this code has them.
    # PySpark's SparkContext reads PYSPARK_PYTHON (not the conf) for SQL Python UDFs.
    if master.startswith("local") and "spark.pyspark.python" not in settings and not os.environ.get("PYSPARK_PYTHON"):
        settings["spark.pyspark.python"] = sys.executable
        os.environ["PYSPARK_PYTHON"] = sys.executable

    existing = settings.get("spark.jars") or _existing_jvm_conf("spark.jars") or ""
    jars = [j for j in (s.strip() for s in existing.split(",")) if j]
    if jar not in jars:
        jars.append(jar)
    settings["spark.jars"] = ",".join(jars)

    # The SQL functions and the native operator in every session (an existing list is kept).
    extensions = [e for e in (x.strip() for x in settings.get(EXTENSIONS_CONF, "").split(",")) if e]
    if EXTENSIONS_CLASS not in extensions:
        extensions.append(EXTENSIONS_CLASS)
    settings[EXTENSIONS_CONF] = ",".join(extensions)

    if TF_LIB_DIR_CONF not in settings and not os.environ.get(TF_LIB_DIR_ENV):
        lib_dir = tensorflow_lib_dir()
        if lib_dir is not None:
            settings[TF_LIB_DIR_CONF] = lib_dir
    if ORT_LIB_CONF not in settings and not os.environ.get(ORT_LIB_ENV):
        lib = onnxruntime_library()
        if lib is not None:
            settings[ORT_LIB_CONF] = lib
    return settings


def session(
    master: str = "local[*]",
    app_name: str = "sparkdl",
    conf: Optional[Mapping[str, Any]] = None,
) -> "SparkSession":
    """Build (or return the active) SparkSession with the sparkdl jar on its class path.

    :param master: Spark master URL, used only when a new session is created.
    :param app_name: application name, used only when a new session is created.
    :param conf: extra Spark properties for a new session. ``spark.jars`` given here is
        kept and the sparkdl jar appended to it; so is ``spark.sql.extensions``, with sparkdl's
        (``org.sparkdl.sql.SparkdlExtensions``: the SQL functions ``sparkdl_decode_image``,
        ``sparkdl_featurize``, ``sparkdl_predict`` and users' models). ``spark.sparkdl.tensorflow.libDir`` is
        set to the folder of an installed ``tensorflow``/``tensorflow-cpu`` package unless
        it is given here or the environment variable ``SPARKDL_TENSORFLOW_LIB_DIR`` is set; likewise
        ``spark.sparkdl.onnx.libPath`` to an installed ``onnxruntime``'s library
        (``SPARKDL_ONNXRUNTIME_LIB``). Neither runtime is loaded until a model of its needs it.
    :raises RuntimeError: at once, on a pyspark that sparkdl does not support (naming the
        supported versions); when a session is already active (or its JVM already running)
        without the sparkdl jar.
    """
    spark_minor()
    from pyspark.sql import SparkSession

    if conf is not None and not isinstance(conf, Mapping):
        raise ValueError(
            "sparkdl.session: conf must be a mapping of Spark property names to values, "
            f"e.g. {{'spark.ui.enabled': 'false'}}; got {type(conf).__name__}"
        )

    active = SparkSession.getActiveSession()
    if active is not None:
        _jvm_api(active)
        return active

    settings = _session_settings(conf, master)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    _jvm_api(spark)
    return spark


def is_connect(spark: Any = None) -> bool:
    """Whether ``spark`` (or, when None, this process's PySpark) is a Spark Connect client:
    no JVM here, so no py4j; sparkdl then goes through SQL and Spark Connect's ML."""
    if spark is not None:
        return type(spark).__module__.startswith("pyspark.sql.connect")
    from pyspark.sql.utils import is_remote

    return is_remote()


def connect_unsupported(what: str, instead: str) -> NotImplementedError:
    """The error for what needs a local JVM, on a Spark Connect client."""
    return NotImplementedError(
        f"{what} needs the Spark driver's JVM in this process, which a Spark Connect client does not have. {instead}"
    )


def _resolve_spark(spark: Optional["SparkSession"]) -> "SparkSession":
    if spark is not None:
        return spark
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return active if active is not None else session()


def tensorflow_version(spark: Optional["SparkSession"] = None) -> str:
    """Version of the libtensorflow the sparkdl JVM library loaded (read through JNI),
    e.g. ``"2.21.0"``. ``spark=None`` uses the active session or ``session()``."""
    spark = _resolve_spark(spark)
    return str(_jvm_api(spark).tensorflowVersion())


def onnxruntime_version(spark: Optional["SparkSession"] = None) -> str:
    """Version of the ONNX Runtime the sparkdl JVM library loaded (read through JNI), e.g.
    ``"1.32.0"``. ``spark=None`` uses the active session or ``session()``."""
    spark = _resolve_spark(spark)
    return str(_jvm_api(spark).onnxRuntimeVersion())
