"""Python names of sparkdl's JVM similarity classes, for PySpark's model loading (see
``org.sparkdl.transformers``)."""

from sparkdl.similarity import ImageSignature, NearestNeighbors, NearestNeighborsModel

__all__ = ["ImageSignature", "NearestNeighbors", "NearestNeighborsModel"]
