"""Estimators with the original sparkdl's names: ``KerasImageFileEstimator``."""

from sparkdl.estimators.keras_image_file_estimator import KerasImageFileEstimator

__all__ = ["KerasImageFileEstimator"]
