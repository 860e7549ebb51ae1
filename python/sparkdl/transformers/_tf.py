"""The base of the TensorFlow stages' wrappers: where the graph comes from."""

from typing import Any, Dict

from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl.transformers._base import ModelStage, local_file_to_jvm
from sparkdl.transformers.graph import tensor_name, to_model


class TFStage(ModelStage):
    """Base of the TensorFlow stages: the model is bytes held by the Scala stage.

    On a Spark Connect client (no JVM in this process) the stage is its class name and its
    Params, which the server instantiates (Spark Connect's ML finds sparkdl's stages through
    the jar's service registration); the model is then a file the server reads:
    ``graph="/path/model.pb"`` (Param ``graphFile``) or ``modelPath="/path/saved_model"``."""

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
    modelTags = Param(
        Params._dummy(), "modelTags", "the SavedModel's MetaGraph tags", typeConverter=TypeConverters.toListString
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(modelTags=["serve"])

    def _set_tf(self, kwargs: Dict[str, Any]) -> None:
        graph = kwargs.pop("graph", None)
        model_path = kwargs.pop("modelPath", None)
        for key in ("inputTensor", "outputTensor"):
            if kwargs.get(key) is not None:
                kwargs[key] = tensor_name(kwargs[key])
        self._set_params(kwargs)
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
        local_file_to_jvm(self._java_obj.loadGraphFile, value, ".pb")
        return self

    def setModelPath(self, path: str, tags=("serve",)) -> "TFStage":
        """A SavedModel folder, copied into the stage now (and into saved pipelines), so the folder
        may go; on Spark Connect, a folder the server reads when the stage first runs."""
        if self._remote:
            return self._set(modelPath=str(path), modelTags=list(tags))
        self._java_obj.loadModelPathJava(str(path), list(tags))
        return self
