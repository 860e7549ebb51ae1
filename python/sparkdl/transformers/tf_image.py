"""TFImageTransformer: a TensorFlow graph applied to an image column, natively."""

from typing import Any, List, Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol

from sparkdl.transformers._base import TFStage


class TFImageTransformer(TFStage, HasInputCol, HasOutputCol):
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

    inputTensor = Param(
        Params._dummy(), "inputTensor", "the graph's image input tensor", typeConverter=TypeConverters.toString
    )
    outputTensor = Param(
        Params._dummy(), "outputTensor", "the graph's output tensor", typeConverter=TypeConverters.toString
    )
    channelOrder = Param(Params._dummy(), "channelOrder", "RGB, BGR or L", typeConverter=TypeConverters.toString)
    outputMode = Param(Params._dummy(), "outputMode", "vector, array or image", typeConverter=TypeConverters.toString)
    resizeMethod = Param(
        Params._dummy(), "resizeMethod", "bilinear, nearest, bicubic or lanczos3", typeConverter=TypeConverters.toString
    )
    scale = Param(
        Params._dummy(), "scale", "pixel values are multiplied by this first", typeConverter=TypeConverters.toFloat
    )
    mean = Param(Params._dummy(), "mean", "per-channel mean", typeConverter=TypeConverters.toListFloat)
    std = Param(Params._dummy(), "std", "per-channel std", typeConverter=TypeConverters.toListFloat)
    layout = Param(Params._dummy(), "layout", "NHWC or NCHW", typeConverter=TypeConverters.toString)
    imageSize = Param(
        Params._dummy(),
        "imageSize",
        "[height, width] to resize to when the input tensor's size is not fixed",
        typeConverter=TypeConverters.toListInt,
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
        self._setDefault(
            channelOrder="RGB",
            outputMode="vector",
            resizeMethod="bilinear",
            scale=1.0,
            mean=[],
            std=[],
            layout="NHWC",
            imageSize=[],
            batchSize=64,
        )
        self._set_tf(dict(self._input_kwargs))

    def setInputCol(self, value: str) -> "TFImageTransformer":
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "TFImageTransformer":
        return self._set(outputCol=value)

    def setInputTensor(self, value: Any) -> "TFImageTransformer":
        from sparkdl.transformers.graph import tensor_name

        return self._set(inputTensor=tensor_name(value))

    def setOutputTensor(self, value: Any) -> "TFImageTransformer":
        from sparkdl.transformers.graph import tensor_name

        return self._set(outputTensor=tensor_name(value))

    def setImageSize(self, value: List[int]) -> "TFImageTransformer":
        return self._set(imageSize=value)

    def setChannelOrder(self, value: str) -> "TFImageTransformer":
        return self._set(channelOrder=value)

    def setOutputMode(self, value: str) -> "TFImageTransformer":
        return self._set(outputMode=value)
