"""Spark ML transformers that run TensorFlow and Keras models in sparkdl's native engine."""

from sparkdl.transformers.keras_image import KerasImageFileTransformer
from sparkdl.transformers.keras_tensor import KerasTransformer
from sparkdl.transformers.named_image import DeepImageFeaturizer, DeepImagePredictor
from sparkdl.transformers.onnx_image import ONNXImageTransformer
from sparkdl.transformers.onnx_tensor import ONNXTransformer
from sparkdl.transformers.tf_image import TFImageTransformer
from sparkdl.transformers.tf_tensor import TFTransformer

__all__ = [
    "DeepImageFeaturizer",
    "DeepImagePredictor",
    "KerasImageFileTransformer",
    "KerasTransformer",
    "ONNXImageTransformer",
    "ONNXTransformer",
    "TFImageTransformer",
    "TFTransformer",
]
