"""DeepImageFeaturizer and DeepImagePredictor: named pretrained networks on image columns."""

from typing import List, Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import JavaMLReadable, JavaMLWritable, try_remote_read
from pyspark.ml.wrapper import JavaTransformer

from sparkdl.transformers._base import HasBatchSizeAndErrorCol, HasPrecision, _ParamsSentOnce, _StageReader


class _NamedImageModel(
    _ParamsSentOnce,
    JavaTransformer,
    HasInputCol,
    HasOutputCol,
    HasBatchSizeAndErrorCol,
    HasPrecision,
    JavaMLReadable,
    JavaMLWritable,
):
    _java_class_name = ""

    modelName = Param(
        Params._dummy(),
        "modelName",
        "a named model (sparkdl.models.listModels())",
        typeConverter=TypeConverters.toString,
    )
    weightsPath = Param(
        Params._dummy(),
        "weightsPath",
        "optional frozen graph (.pb), or MobileNetV2's PyTorch weights file",
        typeConverter=TypeConverters.toString,
    )
    imageSize = Param(
        Params._dummy(),
        "imageSize",
        "[height, width] images are resized to; empty (default): the model's own size",
        typeConverter=TypeConverters.toListInt,
    )

    def __init__(self) -> None:
        super().__init__()
        from sparkdl._jvm import _jvm_api, _resolve_spark, is_connect

        if not is_connect():
            _jvm_api(_resolve_spark(None))
        self._java_obj = self._new_java_obj(self._java_class_name, self.uid)
        self._setDefault(batchSize=64, imageSize=[])

    @property
    def _remote(self) -> bool:
        # On a Spark Connect client the stage is its class name; the server checks modelName.
        return isinstance(self._java_obj, str)

    def _set_checked(self, kwargs) -> None:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if "precision" in kwargs:
            self.setPrecision(kwargs.pop("precision"))
        if "modelName" in kwargs and not self._remote:
            self._java_obj.setModelName(kwargs["modelName"])  # the JVM lists valid names
        self._set(**kwargs)

    def setModelName(self, value: str):
        if not self._remote:
            self._java_obj.setModelName(value)
        return self._set(modelName=value)

    def setWeightsPath(self, value: str):
        return self._set(weightsPath=value)

    def setImageSize(self, value):
        return self._set(imageSize=value)

    def setInputCol(self, value: str):
        return self._set(inputCol=value)

    def setOutputCol(self, value: str):
        return self._set(outputCol=value)

    @classmethod
    @try_remote_read  # on Spark Connect, the server loads the stage
    def read(cls):
        return _StageReader(cls)


class DeepImageFeaturizer(_NamedImageModel):
    """Features of a named pretrained network (by default the layer before its classifier) as
    MLlib vectors, e.g. 1280 for MobileNetV2 (``outputMode="array"``: ``array<float>``). Input:
    image structs, encoded bytes or paths.

    ``featureLayer`` picks another feature output the registry lists for the model
    (``sparkdl.models.describeModel(name)["featureLayers"]``), e.g. MobileNetV2's
    ``"multiscale"`` (1536); ``imageSize`` resizes to another size where the graph allows it."""

    _java_class_name = "org.sparkdl.transformers.DeepImageFeaturizer"
    # Named as the JVM class's package (see org/sparkdl/transformers): PySpark, on Spark Connect
    # too, finds a stage's Python and JVM classes from each other by that name.
    __module__ = "org.sparkdl.transformers"

    featureLayer = Param(
        Params._dummy(),
        "featureLayer",
        "which feature output: 'pool' (default) or another the registry lists",
        typeConverter=TypeConverters.toString,
    )
    outputMode = Param(
        Params._dummy(),
        "outputMode",
        "vector (MLlib vectors, the default) or array (array<float>, half the size)",
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
        featureLayer: Optional[str] = None,
        imageSize: Optional[List[int]] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        outputMode: Optional[str] = None,
        precision: Optional[str] = None,
    ) -> None:
        super().__init__()
        self._setDefault(featureLayer="pool", outputMode="vector")
        self._set_checked(self._input_kwargs)

    def setFeatureLayer(self, value: str):
        return self._set(featureLayer=value)

    def setOutputMode(self, value: str):
        return self._set(outputMode=value)


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
