"""TFImageTransformer: a TensorFlow graph applied to an image column, natively."""

from typing import Any, List, Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl.transformers._base import HasColumns, HasImagePreprocessing, HasOutputMode
from sparkdl.transformers._tf import TFStage


class TFImageTransformer(TFStage, HasColumns, HasOutputMode, HasImagePreprocessing):
    """Applies a TensorFlow graph that takes images to an image column (Spark's image
    struct, encoded bytes, or file paths), batched, in sparkdl's native engine.

    ``graph`` may be a frozen GraphDef, a tf.Graph, a tf.function, a Keras model or a
    SavedModel folder; ``inputTensor``/``outputTensor`` are names or tf.Tensors.
    ``outputMode`` is "vector" (MLlib DenseVector), "array" or "image".
    """

    _java_class_name = "org.sparkdl.transformers.TFImageTransformer"
    # Named as the JVM class's package (see org/sparkdl/transformers): PySpark, on Spark Connect
    # too, finds a stage's Python and JVM classes from each other by that name.
    __module__ = "org.sparkdl.transformers"
    _output_modes = ("vector", "array", "image")
    _default_layout = "NHWC"

    inputTensor = Param(
        Params._dummy(), "inputTensor", "the graph's image input tensor", typeConverter=TypeConverters.toString
    )
    outputTensor = Param(
        Params._dummy(), "outputTensor", "the graph's output tensor", typeConverter=TypeConverters.toString
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        graph: Any = None,
        modelPath: Optional[str] = None,
        inputTensor: Any = None,
        outputTensor: Any = None,
        channelOrder: Optional[str] = None,
        outputMode: Optional[str] = None,
        resizeMethod: Optional[str] = None,
        scale: Optional[float] = None,
        mean: Optional[List[float]] = None,
        std: Optional[List[float]] = None,
        layout: Optional[str] = None,
        imageSize: Optional[List[int]] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        precision: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._set_tf(dict(self._input_kwargs))

    def setInputTensor(self, value: Any) -> "TFImageTransformer":
        from sparkdl.transformers.graph import tensor_name

        return self._set(inputTensor=tensor_name(value))

    def setOutputTensor(self, value: Any) -> "TFImageTransformer":
        from sparkdl.transformers.graph import tensor_name

        return self._set(outputTensor=tensor_name(value))
