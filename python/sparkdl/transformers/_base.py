"""Shared plumbing of the py4j wrappers of sparkdl's Scala model stages: one base for every
JVM-backed stage, and each shared Param declared once, with its default, as on the Scala side
(``org.sparkdl.param.SharedParams``). ``tests`` compare every wrapper's Params and defaults with
its JVM stage's, so the two cannot drift."""

from typing import Any, Dict, Sequence

from pyspark import keyword_only  # noqa: F401  (re-exported for the stage modules)
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import JavaMLReadable, JavaMLReader, JavaMLWritable, try_remote_read
from pyspark.ml.wrapper import JavaTransformer


def local_file_to_jvm(java_setter: Any, data: bytes, suffix: str) -> None:
    """Hands model bytes to a JVM stage through a local temporary file that ``java_setter`` (a
    JVM method taking a path) reads at once: py4j would otherwise send large models (100 MB for
    InceptionV3) as one base64 string."""
    import os
    import tempfile

    fd, path = tempfile.mkstemp(prefix="sparkdl-model-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        java_setter("file://" + os.path.abspath(path))
    finally:
        os.unlink(path)


def _plain(value: Any) -> bool:
    """A value compared by equality and copied safely (not a JVM object, say)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    return False


def _send_if_changed(sent: Dict[str, Any], name: str, value: Any, send) -> None:
    """``send(value)`` unless ``sent`` records that very value for ``name``; then records it.
    Values that are not plain (JVM objects) are always sent and never recorded."""
    import copy

    plain = _plain(value)
    if plain and name in sent and sent[name] == value:
        return
    send(value)
    if plain:
        sent[name] = copy.deepcopy(value)


class _ParamsSentOnce(Params):
    """PySpark's ``_transfer_params_to_java``, which runs before every ``transform()``, sends
    every set Param and every default to the JVM stage again, a few py4j round trips each (about
    100 for TFImageTransformer: 27-64 ms per transform, measured, where the Scala transform takes
    18-34 ms). This sends only what changed since the last transfer to the same JVM object, and
    clears on the JVM side a Param cleared here (which PySpark's own transfer leaves set)."""

    def _transfer_params_to_java(self) -> None:
        java = self._java_obj
        if java is None or isinstance(java, str):  # Spark Connect: the server holds the stage
            return super()._transfer_params_to_java()
        # A new JVM object (a copy, a stage read back) starts with nothing known to be sent.
        if self.__dict__.get("_sent_to") is not java:
            self._sent_to, self._sent = java, {"set": {}, "default": {}}
        sent = self._sent
        defaults = []
        for param in self.params:
            name = param.name
            if self.isSet(param):
                _send_if_changed(
                    sent["set"], name, self._paramMap[param], lambda v: java.set(self._make_java_param_pair(param, v))
                )
            elif name in sent["set"]:  # set (and sent) before, cleared since
                java.clear(java.getParam(name))
                del sent["set"][name]
            if self.hasDefault(param):
                _send_if_changed(
                    sent["default"],
                    name,
                    self._defaultParamMap[param],
                    lambda v: defaults.append(self._make_java_param_pair(param, v)),
                )
        if defaults:
            from pyspark import SparkContext

            java.setDefault(SparkContext._active_spark_context._jvm.PythonUtils.toSeq(defaults))


class _StageReader(JavaMLReader):
    """Loads with the Scala reader of this stage's class (its Java name is not pyspark's)."""

    @classmethod
    def _java_loader_class(cls, clazz):
        return clazz._java_class_name


# -- the shared Params, each once (the Scala traits of the same names) ----------------------


class HasBatchSize(Params):
    batchSize = Param(
        Params._dummy(), "batchSize", "rows per native batch fed to the model", typeConverter=TypeConverters.toInt
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(batchSize=64)

    def setBatchSize(self, value: int):
        return self._set(batchSize=value)

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)


class HasErrorCol(Params):
    errorCol = Param(
        Params._dummy(),
        "errorCol",
        "column with the reason when a row's output is null (default: <outputCol>_error)",
        typeConverter=TypeConverters.toString,
    )

    def setErrorCol(self, value: str):
        return self._set(errorCol=value)


class HasBatchSizeAndErrorCol(HasBatchSize, HasErrorCol):
    """The Params every stage running a model natively has."""


class HasPrecision(Params):
    """``precision``: "float32" (the model as it is) or "bf16" (TensorFlow models: oneDNN's
    bfloat16 auto-mixed-precision rewrite, faster on CPUs with AVX512_BF16 or AMX;
    docs/PERFORMANCE.md). Unset: the session's ``spark.sparkdl.engine.precision``, else float32."""

    precision = Param(
        Params._dummy(),
        "precision",
        "float32 or bf16 (bfloat16 mixed precision, TensorFlow models on CPUs with bf16)",
        typeConverter=TypeConverters.toString,
    )

    def setPrecision(self, value: str):
        if value not in ("float32", "bf16"):
            raise ValueError(f"precision must be 'float32' or 'bf16', got {value!r}")
        return self._set(precision=value)

    def getPrecision(self) -> str:
        return self.getOrDefault(self.precision) if self.isDefined(self.precision) else "float32"


class HasOutputMode(Params):
    """``outputMode``: the stage's ``_output_modes``, its default first (vector: MLlib vectors;
    array: the output's own type; image: float32 image structs)."""

    _output_modes: Sequence[str] = ("vector", "array")

    outputMode = Param(
        Params._dummy(),
        "outputMode",
        "vector, array or image (the modes the stage offers)",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(outputMode=self._output_modes[0])

    def setOutputMode(self, value: str):
        if value not in self._output_modes:
            raise ValueError(f"outputMode must be one of {', '.join(self._output_modes)}, got {value!r}")
        return self._set(outputMode=value)

    def getOutputMode(self) -> str:
        return self.getOrDefault(self.outputMode)


class HasImageSize(Params):
    imageSize = Param(
        Params._dummy(),
        "imageSize",
        "[height, width] to resize to when the model's input size is not fixed (empty: each image's own size, or a "
        "named model's own)",
        typeConverter=TypeConverters.toListInt,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(imageSize=[])

    def setImageSize(self, value):
        return self._set(imageSize=value)


class HasImagePreprocessing(HasImageSize):
    """How images become the model's input (done natively): resize, channel order, scale,
    mean/std, layout (the stage's ``_default_layout``: NHWC for TensorFlow, NCHW for ONNX)."""

    _default_layout = "NHWC"

    channelOrder = Param(Params._dummy(), "channelOrder", "RGB, BGR or L", typeConverter=TypeConverters.toString)
    resizeMethod = Param(
        Params._dummy(), "resizeMethod", "bilinear, nearest, bicubic or lanczos3", typeConverter=TypeConverters.toString
    )
    scale = Param(
        Params._dummy(), "scale", "pixel values are multiplied by this first", typeConverter=TypeConverters.toFloat
    )
    mean = Param(Params._dummy(), "mean", "per-channel mean", typeConverter=TypeConverters.toListFloat)
    std = Param(Params._dummy(), "std", "per-channel std", typeConverter=TypeConverters.toListFloat)
    layout = Param(Params._dummy(), "layout", "NHWC or NCHW", typeConverter=TypeConverters.toString)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(
            channelOrder="RGB", resizeMethod="bilinear", scale=1.0, mean=[], std=[], layout=self._default_layout
        )

    def setChannelOrder(self, value: str):
        return self._set(channelOrder=value)

    def setResizeMethod(self, value: str):
        return self._set(resizeMethod=value)

    def setScale(self, value: float):
        return self._set(scale=value)

    def setMean(self, value):
        return self._set(mean=value)

    def setStd(self, value):
        return self._set(std=value)

    def setLayout(self, value: str):
        return self._set(layout=value)


class HasColumns(HasInputCol, HasOutputCol):
    """inputCol and outputCol, with no default for outputCol, as on the JVM stages (PySpark's
    mixin would default it to ``<uid>__output``, a column name nobody asked for)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._defaultParamMap.pop(self.outputCol, None)

    def setInputCol(self, value: str):
        return self._set(inputCol=value)

    def setOutputCol(self, value: str):
        return self._set(outputCol=value)


class MappedStage(Params):
    """``inputMapping`` ({column: model input}) and ``outputMapping`` ({model output: column}) of
    the stages fed numeric columns. The mappings live on the JVM stage (they are saved with it).
    List it before the stage base in a subclass, so that its ``_transfer_params_from_java`` comes
    before JavaParams' in the MRO."""

    _mapping_example = ("features", "x", "y")

    def _model_name(self, value: Any) -> str:
        return str(value)

    def _mapping(self, value: Any, what: str) -> Dict[str, str]:
        column, inp, out = self._mapping_example
        if not isinstance(value, dict) or not value:
            example = f"{{'{column}': '{inp}'}}" if what == "inputMapping" else f"{{'{out}': 'prediction'}}"
            raise ValueError(f"{what}: give a non-empty dict, e.g. {example}")
        return value

    def _local_only(self) -> None:
        if self._remote:
            from sparkdl._jvm import connect_unsupported

            raise connect_unsupported(
                f"{type(self).__name__}'s inputMapping/outputMapping",
                "Use the image stages, or run it where the driver is (spark-submit, a notebook attached to the cluster).",
            )

    def setInputMapping(self, value: Dict[str, Any]):
        self._local_only()
        mapping = {str(c): self._model_name(t) for c, t in self._mapping(value, "inputMapping").items()}
        self._java_obj.setInputMappingJava(mapping)
        return self

    def setOutputMapping(self, value: Dict[Any, str]):
        self._local_only()
        mapping = {self._model_name(t): str(c) for t, c in self._mapping(value, "outputMapping").items()}
        self._java_obj.setOutputMappingJava(mapping)
        return self

    def getInputMapping(self) -> Dict[str, str]:
        return dict(self._java_obj.getInputMappingJava())

    def getOutputMapping(self) -> Dict[str, str]:
        return dict(self._java_obj.getOutputMappingJava())

    def _transfer_params_from_java(self) -> None:
        # The mappings live only on the JVM stage: a Python copy (made when a stage is loaded)
        # would be pushed back over later setInputMapping/setOutputMapping calls.
        super()._transfer_params_from_java()
        for name in ("inputMapping", "outputMapping"):
            if self.hasParam(name):
                self._paramMap.pop(self.getParam(name), None)
                self._defaultParamMap.pop(self.getParam(name), None)

    def _set_mappings(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """Pops the mappings out of the constructor's kwargs and sets them."""
        inputs, outputs = kwargs.pop("inputMapping", None), kwargs.pop("outputMapping", None)
        if inputs is not None:
            self.setInputMapping(inputs)
        if outputs is not None:
            self.setOutputMapping(outputs)
        return kwargs


# -- the stage bases ------------------------------------------------------------------------


class JvmStage(_ParamsSentOnce, JavaTransformer, JavaMLReadable, JavaMLWritable):
    """Base of every wrapper of a Scala stage: the JVM object (or, on a Spark Connect client, its
    class name, which the server instantiates), reading with the Scala reader, and loading."""

    _java_class_name = ""

    def __init__(self) -> None:
        super().__init__()
        from sparkdl._jvm import _jvm_api, _resolve_spark, is_connect

        if not is_connect():
            _jvm_api(_resolve_spark(None))  # a clear error when the jar is missing
        self._java_obj = self._new_java_obj(self._java_class_name, self.uid)

    @property
    def _remote(self) -> bool:
        return isinstance(self._java_obj, str)

    def _set_params(self, kwargs: Dict[str, Any]) -> None:
        """Sets the constructor's keyword arguments that are not None, through the setters that check them."""
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if "precision" in kwargs:
            self.setPrecision(kwargs.pop("precision"))
        if "outputMode" in kwargs:
            self.setOutputMode(kwargs.pop("outputMode"))
        self._set(**kwargs)

    @classmethod
    @try_remote_read  # on Spark Connect, the server loads the stage
    def read(cls):
        return _StageReader(cls)

    @classmethod
    def _from_java(cls, java_stage):
        stage = cls.__new__(cls)
        Params.__init__(stage)
        stage._java_obj = java_stage
        stage._resetUid(java_stage.uid())
        stage._create_params_from_java()
        stage._transfer_params_from_java()
        return stage


class ModelStage(JvmStage, HasBatchSizeAndErrorCol, HasPrecision):
    """Base of the stages that run a model natively (the Scala ``ModelStage``)."""
