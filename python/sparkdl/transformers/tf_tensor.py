"""TFTransformer: a TensorFlow graph applied to numeric array/vector columns, natively."""

from typing import Any, Dict, Optional

from pyspark import keyword_only

from sparkdl.transformers._base import HasOutputMode, MappedStage
from sparkdl.transformers._tf import TFStage
from sparkdl.transformers.graph import tensor_name


class TFTransformer(MappedStage, TFStage, HasOutputMode):
    """Applies a TensorFlow graph to numeric array or vector columns.

    ``inputMapping``: {column: tensor}; ``outputMapping``: {tensor: column}. Tensors may be
    names ("x:0") or tf.Tensors. Outputs are arrays of the output tensor's own type (float32
    gives array<float>), one example per row; ``outputMode="vector"`` gives MLlib vectors.
    The mappings live on the JVM stage (they are saved with it).
    """

    _java_class_name = "org.sparkdl.transformers.TFTransformer"
    # Named as the JVM class's package (see org/sparkdl/transformers): PySpark, on Spark Connect
    # too, finds a stage's Python and JVM classes from each other by that name.
    __module__ = "org.sparkdl.transformers"
    _output_modes = ("array", "vector")
    _mapping_example = ("features", "x:0", "y:0")

    @keyword_only
    def __init__(
        self,
        *,
        graph: Any = None,
        modelPath: Optional[str] = None,
        inputMapping: Optional[Dict[str, Any]] = None,
        outputMapping: Optional[Dict[Any, str]] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        outputMode: Optional[str] = None,
        precision: Optional[str] = None,
    ) -> None:
        super().__init__()
        kwargs = dict(self._input_kwargs)
        mappings = {k: kwargs.pop(k) for k in ("inputMapping", "outputMapping") if k in kwargs}
        self._set_tf(kwargs)
        self._set_mappings(mappings)

    def _model_name(self, value: Any) -> str:
        return tensor_name(value)
