"""Python names of sparkdl's JVM stage classes, for PySpark's model loading.

When PySpark loads a saved pipeline it turns each JVM stage's class name into a Python one by
replacing ``org.apache.spark`` with ``pyspark``; names outside Spark stay as they are, so
``org.sparkdl.transformers.TFTransformer`` must be importable under that name. This package
(installed with sparkdl; ``org`` and ``org.sparkdl`` are namespace packages) re-exports the
wrappers, and nothing else. The wrappers' ``__module__`` is this package's name, because Spark
Connect's ML client also derives a stage's JVM class name from its Python class's module.
"""

from sparkdl.transformers.named_image import DeepImageFeaturizer, DeepImagePredictor
from sparkdl.transformers.onnx_image import ONNXImageTransformer
from sparkdl.transformers.onnx_tensor import ONNXTransformer
from sparkdl.transformers.tf_image import TFImageTransformer
from sparkdl.transformers.tf_tensor import TFTransformer

__all__ = [
    "DeepImageFeaturizer",
    "DeepImagePredictor",
    "ONNXImageTransformer",
    "ONNXTransformer",
    "TFImageTransformer",
    "TFTransformer",
]
