"""ONNXImageTransformer: an ONNX model applied to an image column, natively."""

from typing import Any, List, Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl.transformers._base import HasColumns, HasImagePreprocessing, HasOutputMode
from sparkdl.transformers._onnx import ONNXStage


class ONNXImageTransformer(ONNXStage, HasColumns, HasOutputMode, HasImagePreprocessing):
    """Applies an ONNX model that takes images (from PyTorch, TensorFlow, Keras, ...) to an
    image column (Spark's image struct, encoded bytes, or file paths), batched, in ONNX Runtime
    inside the executors' JVMs, with preprocessing in the same native pass. Defaults follow
    PyTorch: RGB, ``layout="NCHW"``. ``inputName``/``outputName`` default to the model's only
    input and first output.

    >>> t = ONNXImageTransformer(inputCol="image", outputCol="logits", modelFile="/models/resnet18.onnx",
    ...                          scale=1 / 255, mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    """

    _java_class_name = "org.sparkdl.transformers.ONNXImageTransformer"
    __module__ = "org.sparkdl.transformers"
    _output_modes = ("vector", "array", "image")
    _default_layout = "NCHW"

    inputName = Param(Params._dummy(), "inputName", "the model's image input", typeConverter=TypeConverters.toString)
    outputName = Param(
        Params._dummy(), "outputName", "the model's output to read", typeConverter=TypeConverters.toString
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        modelFile: Optional[str] = None,
        model: Any = None,
        exampleInput: Any = None,
        inputName: Optional[str] = None,
        outputName: Optional[str] = None,
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
    ) -> None:
        super().__init__()
        self._set_onnx(dict(self._input_kwargs))

    def setInputName(self, value: str):
        return self._set(inputName=value)

    def setOutputName(self, value: str):
        return self._set(outputName=value)
