"""Shared plumbing of the py4j wrappers of sparkdl's Scala TensorFlow stages."""

from typing import Any, Dict

from pyspark import keyword_only  # noqa: F401  (re-exported for the stage modules)
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import JavaMLReadable, JavaMLReader, JavaMLWritable, try_remote_read
from pyspark.ml.wrapper import JavaTransformer

from sparkdl.transformers.graph import tensor_name, to_model


def set_graph_bytes(java_stage: Any, graph_def: bytes) -> None:
    """Hands a frozen GraphDef to a JVM stage through a local temporary file: py4j would
    otherwise send large graphs (100 MB for InceptionV3) as one base64 string."""
    import os
    import tempfile

    fd, path = tempfile.mkstemp(prefix="sparkdl-graph-", suffix=".pb")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(graph_def)
        java_stage.setGraphFile("file://" + os.path.abspath(path))
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


class HasBatchSizeAndErrorCol(Params):
    """The Params every stage running a model natively has (the Scala side's HasBatchSize and
    HasErrorCol)."""

    batchSize = Param(
        Params._dummy(), "batchSize", "rows per native batch fed to the model", typeConverter=TypeConverters.toInt
    )
    errorCol = Param(
        Params._dummy(),
        "errorCol",
        "column with the reason when a row's output is null (default: <outputCol>_error)",
        typeConverter=TypeConverters.toString,
    )

    def setBatchSize(self, value: int):
        return self._set(batchSize=value)

    def setErrorCol(self, value: str):
        return self._set(errorCol=value)


class HasPrecision(Params):
    """``precision``: "float32" (the graph as it is) or "bf16" (oneDNN's bfloat16
    auto-mixed-precision rewrite: about 1.8x faster inference on CPUs with AVX512_BF16 or AMX,
    features within a cosine of 0.999 of float32; docs/PERFORMANCE.md). Unset: the session's
    ``spark.sparkdl.tensorflow.precision``, else float32."""

    precision = Param(
        Params._dummy(),
        "precision",
        "float32 or bf16 (bfloat16 mixed precision, CPUs with bf16)",
        typeConverter=TypeConverters.toString,
    )

    def setPrecision(self, value: str):
        if value not in ("float32", "bf16"):
            raise ValueError(f"precision must be 'float32' or 'bf16', got {value!r}")
        return self._set(precision=value)

    def getPrecision(self) -> str:
        return self.getOrDefault(self.precision) if self.isDefined(self.precision) else "float32"


class TFStage(_ParamsSentOnce, JavaTransformer, HasBatchSizeAndErrorCol, HasPrecision, JavaMLReadable, JavaMLWritable):
    """Base of the TensorFlow stages: the model is bytes held by the Scala stage.

    On a Spark Connect client (no JVM in this process) the stage is its class name and its
    Params, which the server instantiates (Spark Connect's ML finds sparkdl's stages through
    the jar's service registration); the model is then a file the server reads:
    ``graph="/path/model.pb"`` (Param ``graphFile``) or ``modelPath="/path/saved_model"``."""

    _java_class_name = ""

    graphFile = Param(
        Params._dummy(),
        "graphFile",
        "a frozen GraphDef file (.pb) the driver reads (Spark Connect: the server's driver)",
        typeConverter=TypeConverters.toString,
    )
    modelPath = Param(
        Params._dummy(),
        "modelPath",
        "a SavedModel folder the driver reads (Spark Connect: the server's driver)",
        typeConverter=TypeConverters.toString,
    )

    def __init__(self) -> None:
        super().__init__()
        from sparkdl._jvm import _jvm_api, _resolve_spark, is_connect

        if not is_connect():
            _jvm_api(_resolve_spark(None))  # a clear error when the jar is missing
        self._java_obj = self._new_java_obj(self._java_class_name, self.uid)

    @property
    def _remote(self) -> bool:
        return isinstance(self._java_obj, str)

    def _set_tf(self, kwargs: Dict[str, Any]) -> None:
        graph = kwargs.pop("graph", None)
        model_path = kwargs.pop("modelPath", None)
        for key in ("inputTensor", "outputTensor"):
            if kwargs.get(key) is not None:
                kwargs[key] = tensor_name(kwargs[key])
        if kwargs.get("precision") is not None:
            self.setPrecision(kwargs.pop("precision"))
        self._set(**{k: v for k, v in kwargs.items() if v is not None})
        if graph is not None:
            self.setGraph(graph)
        if model_path is not None:
            self.setModelPath(model_path)

    def setGraph(self, graph: Any) -> "TFStage":
        """A frozen GraphDef (bytes or proto), a tf.Graph, a tf.function, a Keras model, a
        `.pb` file or a SavedModel folder."""
        if self._remote:
            if not isinstance(graph, str):
                from sparkdl._jvm import connect_unsupported

                raise connect_unsupported(
                    f"graph={type(graph).__name__}",
                    "Save the frozen graph where the server reads it and pass its "
                    "path (graph='/models/model.pb'), or a SavedModel folder (modelPath='/models/m').",
                )
            return self._set(graphFile=graph)
        kind, value = to_model(graph)
        if kind == "savedmodel":
            return self.setModelPath(value)
        set_graph_bytes(self._java_obj, value)
        return self

    def setModelPath(self, path: str, tags=("serve",)) -> "TFStage":
        """A SavedModel folder (copied into the stage, and into saved pipelines)."""
        if self._remote:
            return self._set(modelPath=str(path))
        self._java_obj.setModelPathJava(str(path), list(tags))
        return self

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
