"""``sparkdl --version``: sparkdl's, Spark's and each engine's version, without starting Spark.

The engines are the libraries sparkdl's native code would load (the ones ``sparkdl.session()``
finds: the environment variable, else the installed Python package), asked for their own version
(``TF_Version()``, ONNX Runtime's ``GetVersionString()``), as the JVM side does through JNI.
"""

import ctypes
import os
from typing import List, Optional, Tuple


def _tensorflow(lib_dir: Optional[str]) -> str:
    from sparkdl._jvm import TF_LIBRARY

    if not lib_dir:
        return "not installed (pip install tensorflow-cpu==2.21.0, or set SPARKDL_TENSORFLOW_LIB_DIR)"
    path = os.path.join(lib_dir, TF_LIBRARY)
    if not os.path.isfile(path):
        return f"not installed (no {TF_LIBRARY} in {lib_dir})"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        lib = ctypes.CDLL(path)
        lib.TF_Version.restype = ctypes.c_char_p
        return f"{lib.TF_Version().decode()} ({path})"
    except (OSError, AttributeError) as e:
        return f"unknown: {path} could not be loaded ({e})"


class _OrtApiBase(ctypes.Structure):
    _fields_ = [("GetApi", ctypes.c_void_p), ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p))]


def _onnxruntime(path: Optional[str]) -> str:
    if not path:
        return "not installed (pip install onnxruntime==1.32.0, or set SPARKDL_ONNXRUNTIME_LIB)"
    if not os.path.isfile(path):
        return f"not installed (no file {path})"
    try:
        lib = ctypes.CDLL(path)
        lib.OrtGetApiBase.restype = ctypes.POINTER(_OrtApiBase)
        return f"{lib.OrtGetApiBase().contents.GetVersionString().decode()} ({path})"
    except (OSError, AttributeError, ValueError) as e:
        return f"unknown: {path} could not be loaded ({e})"


def _jar() -> Tuple[str, str]:
    from sparkdl._jvm import SPARK_BUILDS, jar_path, spark_minor

    try:
        minor = spark_minor()
    except RuntimeError as e:
        return "none for this Spark", str(e)
    try:
        path = jar_path()
    except FileNotFoundError:
        return "not found", f"build it with `make jar-{minor}`"
    return os.path.basename(path), f"built against Spark {SPARK_BUILDS[minor]}; {path}"


def versions() -> List[str]:
    import sparkdl
    from sparkdl._jvm import ORT_LIB_ENV, TF_LIB_DIR_ENV, _pyspark_version, onnxruntime_library, tensorflow_lib_dir

    jar, about = _jar()
    tf_dir = os.environ.get(TF_LIB_DIR_ENV) or tensorflow_lib_dir()
    ort = os.environ.get(ORT_LIB_ENV) or onnxruntime_library()
    return [
        f"sparkdl {sparkdl.__version__}",
        f"Spark {_pyspark_version()} (pyspark); sparkdl jar {jar} ({about})",
        f"TensorFlow {_tensorflow(tf_dir)}",
        f"ONNX Runtime {_onnxruntime(ort)}",
    ]
