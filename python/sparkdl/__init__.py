"""sparkdl: deep learning pipelines for Apache Spark ML.

PySpark wrappers around the sparkdl JVM library (a Scala/Spark jar with a Rust
native core). ``import sparkdl`` is light: it never imports TensorFlow, and the
image helpers (numpy, PySpark) load on first use.

Start with ``spark = sparkdl.session()``, which puts the sparkdl jar on the
session's class path, then e.g. ``sparkdl.readImages("/data/images")``.
"""

from typing import Any, List

__version__ = "0.1.0"

# Public name -> module that defines it; loaded lazily (PEP 562).
_LAZY = {
    "session": "sparkdl._jvm",
    "jar_path": "sparkdl._jvm",
    "tensorflow_version": "sparkdl._jvm",
    "readImages": "sparkdl.image.imageIO",
    "readImageFiles": "sparkdl.image.imageIO",
    "filesToDF": "sparkdl.image.imageIO",
    "imageSchema": "sparkdl.image.imageIO",
    "imageStructToArray": "sparkdl.image.imageIO",
    "imageArrayToStruct": "sparkdl.image.imageIO",
    "imageStructToPIL": "sparkdl.image.imageIO",
    "PIL_to_imageStruct": "sparkdl.image.imageIO",
    "createResizeImageUDF": "sparkdl.image.imageIO",
    "TFImageTransformer": "sparkdl.transformers.tf_image",
    "TFTransformer": "sparkdl.transformers.tf_tensor",
    "KerasTransformer": "sparkdl.transformers.keras_tensor",
    "KerasImageFileTransformer": "sparkdl.transformers.keras_image",
    "ONNXImageTransformer": "sparkdl.transformers.onnx_image",
    "ONNXTransformer": "sparkdl.transformers.onnx_tensor",
    "onnxruntime_version": "sparkdl._jvm",
    "DeepImageFeaturizer": "sparkdl.transformers.named_image",
    "DeepImagePredictor": "sparkdl.transformers.named_image",
    "KerasImageFileEstimator": "sparkdl.estimators",
    "ImageSignature": "sparkdl.similarity",
    "NearestNeighbors": "sparkdl.similarity",
    "NearestNeighborsModel": "sparkdl.similarity",
    "findDuplicates": "sparkdl.similarity",
    "registerModel": "sparkdl.udf",
    "registerKerasImageUDF": "sparkdl.udf",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'sparkdl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))
