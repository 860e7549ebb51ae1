"""DeepImageFeaturizer and DeepImagePredictor: named pretrained networks on image columns."""

from typing import List, Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl.transformers._base import HasColumns, HasImageSize, HasOutputMode, ModelStage


class _NamedImageModel(ModelStage, HasColumns, HasImageSize):
    """A named pretrained network (``sparkdl.models.listModels()``) on an engine: ``engine`` is
    "onnx", "tensorflow" or "auto" (the default: the model's faster engine whose runtime the driver
    loads; TensorFlow, measured faster here, then ONNX Runtime, so a machine without TensorFlow runs
    MobileNetV2 on ONNX Runtime)."""

    modelName = Param(
        Params._dummy(),
        "modelName",
        "a named model (sparkdl.models.listModels())",
        typeConverter=TypeConverters.toString,
    )
    weightsPath = Param(
        Params._dummy(),
        "weightsPath",
        "optional model file (.pb, .onnx), or MobileNetV2's PyTorch weights file",
        typeConverter=TypeConverters.toString,
    )
    engine = Param(
        Params._dummy(),
        "engine",
        "what runs the model: onnx (ONNX Runtime), tensorflow, or auto (default: the model's faster engine whose "
        "runtime this driver can load, faster as measured in docs/PERFORMANCE.md: TensorFlow, then ONNX Runtime)",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(engine="auto")

    def _set_checked(self, kwargs) -> None:
        kwargs = dict(kwargs)
        if kwargs.get("modelName") is not None and not self._remote:
            self._java_obj.setModelName(kwargs["modelName"])  # the JVM lists valid names
        if kwargs.get("engine") is not None:
            self.setEngine(kwargs.pop("engine"))
        self._set_params(kwargs)

    def setModelName(self, value: str):
        if not self._remote:
            self._java_obj.setModelName(value)
        return self._set(modelName=value)

    def setWeightsPath(self, value: str):
        return self._set(weightsPath=value)

    def setEngine(self, value: str):
        if value not in ("auto", "onnx", "tensorflow"):
            raise ValueError(f"engine must be 'auto', 'onnx' or 'tensorflow', got {value!r}")
        return self._set(engine=value)


class DeepImageFeaturizer(_NamedImageModel, HasOutputMode):
    """Features of a named pretrained network (by default the layer before its classifier) as
    MLlib vectors, e.g. 1280 for MobileNetV2 (``outputMode="array"``: ``array<float>``). Input:
    image structs, encoded bytes or paths.

    ``featureLayer`` picks another feature output the registry lists for the model
    (``sparkdl.models.describeModel(name)["featureLayers"]``), e.g. MobileNetV2's
    ``"multiscale"`` (1536); ``imageSize`` resizes to another size where the graph allows it.
    ``engine``: see the base class."""

    _java_class_name = "org.sparkdl.transformers.DeepImageFeaturizer"
    # Named as the JVM class's package (see org/sparkdl/transformers): PySpark, on Spark Connect
    # too, finds a stage's Python and JVM classes from each other by that name.
    __module__ = "org.sparkdl.transformers"

    _output_modes = ("vector", "array")

    featureLayer = Param(
        Params._dummy(),
        "featureLayer",
        "which feature output: 'pool' (default) or another the registry lists",
        typeConverter=TypeConverters.toString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        modelName: Optional[str] = None,
        weightsPath: Optional[str] = None,
        engine: Optional[str] = None,
        featureLayer: Optional[str] = None,
        imageSize: Optional[List[int]] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        outputMode: Optional[str] = None,
        precision: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._setDefault(featureLayer="pool")
        self._set_checked(self._input_kwargs)

    def setFeatureLayer(self, value: str):
        return self._set(featureLayer=value)


class DeepImagePredictor(_NamedImageModel):
    """Class probabilities of a named pretrained network (an MLlib vector), or with
    ``decodePredictions=True`` the ``topK`` classes as (class, description, probability)."""

    _java_class_name = "org.sparkdl.transformers.DeepImagePredictor"
    # Named as the JVM class's package (see org/sparkdl/transformers): PySpark, on Spark Connect
    # too, finds a stage's Python and JVM classes from each other by that name.
    __module__ = "org.sparkdl.transformers"

    decodePredictions = Param(
        Params._dummy(),
        "decodePredictions",
        "output the topK classes with names instead of probabilities",
        typeConverter=TypeConverters.toBoolean,
    )
    topK = Param(
        Params._dummy(), "topK", "how many classes decodePredictions gives", typeConverter=TypeConverters.toInt
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        modelName: Optional[str] = None,
        weightsPath: Optional[str] = None,
        engine: Optional[str] = None,
        decodePredictions: Optional[bool] = None,
        topK: Optional[int] = None,
        imageSize: Optional[List[int]] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        precision: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._setDefault(decodePredictions=False, topK=5)
        self._set_checked(self._input_kwargs)

    def setDecodePredictions(self, value: bool):
        return self._set(decodePredictions=value)

    def setTopK(self, value: int):
        return self._set(topK=value)
