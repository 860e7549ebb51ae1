"""Spark ML transformers that run TensorFlow models in sparkdl's native engine."""

from sparkdl.transformers.tf_image import TFImageTransformer
from sparkdl.transformers.tf_tensor import TFTransformer

__all__ = ["TFImageTransformer", "TFTransformer"]
