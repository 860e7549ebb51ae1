"""ONNXTransformer: an ONNX model applied to numeric array/vector columns, natively."""

from typing import Any, Dict, Optional

from pyspark import keyword_only

from sparkdl.transformers._base import HasOutputMode, MappedStage
from sparkdl.transformers._onnx import ONNXStage


class ONNXTransformer(MappedStage, ONNXStage, HasOutputMode):
    """Applies an ONNX model to numeric array or vector columns, several inputs and outputs:
    ``inputMapping`` {column: model input}, ``outputMapping`` {model output: column}. Outputs
    are arrays of the output's own type (float16 widened to float); ``outputMode="vector"``
    gives MLlib vectors. Columns of nested arrays give each row its own shape, for inputs with
    several symbolic dimensions.
    """

    _java_class_name = "org.sparkdl.transformers.ONNXTransformer"
    __module__ = "org.sparkdl.transformers"
    _output_modes = ("array", "vector")
    _mapping_example = ("features", "input", "output")

    @keyword_only
    def __init__(
        self,
        *,
        modelFile: Optional[str] = None,
        model: Any = None,
        exampleInput: Any = None,
        inputMapping: Optional[Dict[str, str]] = None,
        outputMapping: Optional[Dict[str, str]] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        outputMode: Optional[str] = None,
    ) -> None:
        super().__init__()
        kwargs = dict(self._input_kwargs)
        mappings = {k: kwargs.pop(k) for k in ("inputMapping", "outputMapping") if k in kwargs}
        self._set_onnx(kwargs)
        self._set_mappings(mappings)
