"""KerasImageFileTransformer: images loaded by a Python function, then a Keras 3 model run
natively."""

from typing import Any, Callable, Iterator, Optional

import numpy as np
from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from sparkdl.transformers._keras import TMP_PREFIX, KerasStage


class KerasImageFileTransformer(KerasStage):
    """Applies a Keras 3 image model to a column of image URIs (file paths).

    ``imageLoader(uri)`` is any Python function returning the model's input for one image as
    a numpy array (with or without a leading batch dimension of 1), e.g. Keras'
    ``load_img`` + ``img_to_array`` + ``preprocess_input``. It runs in Spark's Python
    workers; only its float32 arrays cross to the JVM (as Arrow), where the model, exported
    once to a frozen TensorFlow graph, runs batched in sparkdl's native engine.

    ``outputMode``: "vector" (MLlib DenseVector, the default) or "array" (the model output's own
    type, array<float> for float32).
    A row whose loader fails, returns the wrong shape, or whose URI is null gets a null output
    and the reason in ``errorCol`` (default ``<outputCol>_error``); the job goes on.
    """

    imageLoader = Param(
        Params._dummy(),
        "imageLoader",
        "function uri -> numpy array of the model's input shape (runs in Python workers)",
    )
    outputMode = Param(Params._dummy(), "outputMode", "vector or array", typeConverter=TypeConverters.toString)

    _unsaved_params = ("imageLoader",)

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        modelFile: Optional[str] = None,
        imageLoader: Optional[Callable[[str], Any]] = None,
        outputMode: Optional[str] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._setDefault(outputMode="vector")
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    def setImageLoader(self, value: Callable[[str], Any]) -> "KerasImageFileTransformer":
        return self._set(imageLoader=value)

    def getImageLoader(self) -> Callable[[str], Any]:
        return self.getOrDefault(self.imageLoader)

    def setOutputMode(self, value: str) -> "KerasImageFileTransformer":
        return self._set(outputMode=value)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType

        for p in (self.inputCol, self.outputCol, self.imageLoader):
            if not self.isDefined(p):
                raise ValueError(
                    f"{p.name}: set it (KerasImageFileTransformer needs inputCol, outputCol, modelFile and imageLoader)"
                )
        column, output = self.getInputCol(), self.getOutputCol()
        if column not in dataset.columns:
            raise ValueError(f"inputCol: no column '{column}' (columns: {', '.join(dataset.columns)})")
        if not isinstance(dataset.schema[column].dataType, StringType):
            raise ValueError(
                f"inputCol: column '{column}' is {dataset.schema[column].dataType.simpleString()}; "
                "it must hold image URIs (strings) that imageLoader reads"
            )
        mode = self.getOrDefault(self.outputMode)
        if mode not in ("vector", "array"):
            raise ValueError(f"outputMode: '{mode}' is not one of vector, array")
        error = self._error_col()
        for name in (output, error):
            if name in dataset.columns:
                raise ValueError(
                    f"outputCol/errorCol: the input already has a column '{name}'; "
                    "choose another name or drop that column"
                )
        _, _, shape = self._model_io()
        if any(d is None for d in shape):
            raise ValueError(
                f"modelFile: the model's input shape {(None,) + tuple(shape)} has unknown "
                "dimensions besides the batch; build it with a fixed size, e.g. "
                "keras.Input(shape=(299, 299, 3))"
            )

        loaded, values, load_error = TMP_PREFIX + "loaded", TMP_PREFIX + "x", TMP_PREFIX + "load_error"
        raw, tf_error = TMP_PREFIX + "y", TMP_PREFIX + "tf_error"
        load = _loader_udf(self.getImageLoader(), tuple(shape), column, self.getOrDefault(self.batchSize))
        original = dataset.columns
        staged = dataset.withColumn(loaded, load(F.col(column))).select(
            *[F.col(c) for c in original],
            F.col(loaded + ".x").alias(values),
            F.col(loaded + ".error").alias(load_error),
        )
        ran = self._tf_stage(values, raw, tf_error, mode).transform(staged)
        return ran.select(
            *[F.col(c) for c in original],
            F.col(raw).alias(output),
            F.coalesce(F.col(load_error), F.col(tf_error)).alias(error),
        )

    # The loader is a function, not JSON: it is cloudpickled into the saved stage.
    def _save_extra(self, path: str, spark: Any) -> None:
        if self.isDefined(self.imageLoader):
            from pyspark import cloudpickle

            blob = bytearray(cloudpickle.dumps(self.getImageLoader()))
            spark.createDataFrame([(blob,)], "loader binary").coalesce(1).write.mode("overwrite").parquet(
                path + "/imageLoader"
            )

    def _load_extra(self, path: str, spark: Any) -> None:
        from pyspark import cloudpickle

        try:
            rows = spark.read.parquet(path + "/imageLoader").collect()
        except Exception:  # saved without a loader
            return
        if rows:
            self._set(imageLoader=cloudpickle.loads(bytes(rows[0].loader)))


def _loader_udf(loader: Callable[[str], Any], shape: tuple, column: str, chunk: int):
    """A pandas UDF running ``loader`` on each URI: struct(x: array<float>, error: string).

    An iterator UDF, so that it can hand results back in chunks of ``chunk`` rows: Arrow
    batches of decoded images stay small however many URIs Spark sends at once.
    """
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    size = int(np.prod(shape))
    want = tuple(int(d) for d in shape)

    def load_one(uri: Any):
        if uri is None or (isinstance(uri, float) and np.isnan(uri)):  # pandas may hand NaN
            return None, f"inputCol '{column}' is null"
        try:
            arr = np.asarray(loader(uri), dtype=np.float32)
        except Exception as e:  # the user's loader: any failure is this row's error
            return None, f"imageLoader failed on {uri}: {type(e).__name__}: {e}"
        if arr.shape != want and arr.shape != (1,) + want:
            return None, (
                f"imageLoader returned shape {arr.shape} for {uri}; the model takes "
                f"{want} (optionally with a leading batch dimension of 1)"
            )
        return arr.reshape(size), None

    @pandas_udf("x array<float>, error string")
    def load(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        for uris in batches:
            for start in range(0, len(uris), max(1, chunk)):
                pairs = [load_one(u) for u in uris.iloc[start : start + chunk]]
                yield pd.DataFrame({"x": [p[0] for p in pairs], "error": [p[1] for p in pairs]})

    return load
