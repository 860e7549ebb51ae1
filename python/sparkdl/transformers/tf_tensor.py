"""TFTransformer: a TensorFlow graph applied to numeric array/vector columns, natively."""

from typing import Any, Dict, Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl.transformers._base import TFStage
from sparkdl.transformers.graph import tensor_name


def _names(value: Any, what: str) -> Dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise ValueError(
            f"{what}: give a non-empty dict, e.g. "
            + ("{'features': 'x:0'}" if what == "inputMapping" else "{'y:0': 'prediction'}")
        )
    return value


class TFTransformer(TFStage):
    """Applies a TensorFlow graph to numeric array or vector columns.

    ``inputMapping``: {column: tensor}; ``outputMapping``: {tensor: column}. Tensors may be
    names ("x:0") or tf.Tensors. Outputs are arrays of the output tensor's own type (float32
    gives array<float>), one example per row; ``outputMode="vector"`` gives MLlib vectors.
    The mappings live on the JVM stage (they are saved with it).
    """

    outputMode = Param(
        Params._dummy(),
        "outputMode",
        "array (the output tensor's own type, e.g. array<float>) or vector (MLlib vectors)",
        typeConverter=TypeConverters.toString,
    )

    _java_class_name = "org.sparkdl.transformers.TFTransformer"
    # Named as the JVM class's package (see org/sparkdl/transformers): PySpark, on Spark Connect
    # too, finds a stage's Python and JVM classes from each other by that name.
    __module__ = "org.sparkdl.transformers"

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
        self._setDefault(batchSize=64, outputMode="array")
        kwargs = dict(self._input_kwargs)
        inputs = kwargs.pop("inputMapping", None)
        outputs = kwargs.pop("outputMapping", None)
        self._set_tf(kwargs)
        if inputs is not None:
            self.setInputMapping(inputs)
        if outputs is not None:
            self.setOutputMapping(outputs)

    def _local_only(self) -> None:
        if self._remote:
            from sparkdl._jvm import connect_unsupported

            raise connect_unsupported(
                "TFTransformer's inputMapping/outputMapping",
                "Use TFImageTransformer, or run TFTransformer where the driver is "
                "(spark-submit, a notebook attached to the cluster).",
            )

    def setInputMapping(self, value: Dict[str, Any]) -> "TFTransformer":
        self._local_only()
        value = {str(c): tensor_name(t) for c, t in _names(value, "inputMapping").items()}
        self._java_obj.setInputMappingJava(value)
        return self

    def setOutputMapping(self, value: Dict[Any, str]) -> "TFTransformer":
        self._local_only()
        value = {tensor_name(t): str(c) for t, c in _names(value, "outputMapping").items()}
        self._java_obj.setOutputMappingJava(value)
        return self

    def _transfer_params_from_java(self) -> None:
        # The mappings live only on the JVM stage: a Python copy (made when a stage is loaded)
        # would be pushed back over later setInputMapping/setOutputMapping calls.
        super()._transfer_params_from_java()
        for name in ("inputMapping", "outputMapping"):
            if self.hasParam(name):
                self._paramMap.pop(self.getParam(name), None)
                self._defaultParamMap.pop(self.getParam(name), None)

    def setOutputMode(self, value: str) -> "TFTransformer":
        return self._set(outputMode=value)

    def getInputMapping(self) -> Dict[str, str]:
        return dict(self._java_obj.getInputMappingJava())

    def getOutputMapping(self) -> Dict[str, str]:
        return dict(self._java_obj.getOutputMappingJava())
