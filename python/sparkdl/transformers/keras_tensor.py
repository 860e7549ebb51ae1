"""KerasTransformer: a Keras 3 model applied to a numeric array/vector column, natively."""

from typing import Optional

from pyspark import keyword_only
from pyspark.sql import DataFrame

from sparkdl.transformers._keras import KerasStage


class KerasTransformer(KerasStage):
    """Applies a Keras 3 model (``.keras`` or ``.h5`` file, one input and one output) to a
    column of numeric arrays or ML vectors: each row is one example, reshaped to the model's
    input shape. The model is exported to a frozen TensorFlow graph once, on the driver, and
    run batched in sparkdl's native engine on the executors; Python does no per-row work.

    Adds ``outputCol`` (the flattened model output, in its own type: array<float> for float32) and ``errorCol`` (the reason
    when a row's output is null, e.g. a null input or one of the wrong length).
    """

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        modelFile: Optional[str] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    def _transform(self, dataset: DataFrame) -> DataFrame:
        for p in (self.inputCol, self.outputCol):
            if not self.isDefined(p):
                raise ValueError(f"{p.name}: set it (KerasTransformer needs inputCol and outputCol)")
        column = self.getInputCol()
        if column not in dataset.columns:
            raise ValueError(f"inputCol: no column '{column}' (columns: {', '.join(dataset.columns)})")
        _, _, shape = self._model_io()
        if any(d is None for d in shape):
            raise ValueError(
                f"modelFile: the model's input shape {(None,) + tuple(shape)} has unknown "
                "dimensions besides the batch; each row must reshape to a fixed shape"
            )
        stage = self._tf_stage(column, self.getOutputCol(), self._error_col())
        return stage.transform(dataset)
