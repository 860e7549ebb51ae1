"""Shared plumbing of the Keras stages: a Keras 3 model file exported once to a frozen
TensorFlow graph, run by a JVM ``TFTransformer``, and persisted with that graph.

The Keras stages are Python ``Transformer``s (Keras and the image loader are Python), each
holding a JVM ``TFTransformer`` that runs the graph natively. Saved, a stage is a folder:

    metadata/      its Params, written by Spark ML's DefaultParamsWriter
    tf/            the inner TFTransformer, with the frozen graph's bytes
    imageLoader/   (KerasImageFileTransformer) the loader function, cloudpickled, in Parquet

so a reloaded stage works where the model file is gone.
"""

import os
from typing import Any, Dict, Optional, Tuple

from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter

from sparkdl.transformers._base import HasBatchSizeAndErrorCol

# Columns a stage adds while it works; dropped before it returns.
TMP_PREFIX = "__sparkdl_keras_"


class KerasGraph:
    """A Keras model file exported to a frozen GraphDef: its bytes, its single input and
    output tensor names, and the input's shape without the batch dimension."""

    def __init__(
        self, graph_def: bytes, input_name: str, output_name: str, input_shape: Tuple[Optional[int], ...]
    ) -> None:
        self.graph_def = graph_def
        self.input_name = input_name
        self.output_name = output_name
        self.input_shape = input_shape

    @staticmethod
    def export(model_file: str) -> "KerasGraph":
        """Loads ``model_file`` (.keras or .h5) with Keras 3 and freezes its inference graph."""
        if not model_file:
            raise ValueError("modelFile: set it to a Keras model file (.keras or .h5)")
        path = model_file[len("file:") :] if model_file.startswith("file:") else model_file
        if not os.path.isfile(path):
            raise ValueError(
                f"modelFile: no such file: {model_file} (give a local .keras or .h5 "
                "file; copy files from distributed storage to the driver first)"
            )
        import keras

        try:
            model = keras.models.load_model(path, compile=False)
        except Exception as e:  # Keras raises many types; name the file and the format
            raise ValueError(f"modelFile: Keras could not load {model_file}: {e}") from e
        return KerasGraph.from_model(model, model_file)

    @staticmethod
    def from_model(model: Any, what: str = "the model") -> "KerasGraph":
        """Freezes a loaded Keras model's inference graph."""
        from sparkdl.transformers.graph import freeze_with_names

        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(
                f"modelFile: {what} has {len(model.inputs)} inputs and "
                f"{len(model.outputs)} outputs; the Keras stages take models with one "
                "of each (use TFTransformer with inputMapping/outputMapping for more)"
            )
        graph_def, inputs, outputs = freeze_with_names(model)
        shape = tuple(model.inputs[0].shape[1:])
        return KerasGraph(graph_def.SerializeToString(), inputs[0], outputs[0], shape)


class KerasStage(Transformer, HasInputCol, HasOutputCol, HasBatchSizeAndErrorCol, MLReadable, MLWritable):
    """Base of KerasTransformer and KerasImageFileTransformer."""

    modelFile = Param(
        Params._dummy(),
        "modelFile",
        "path to a Keras 3 model file (.keras or .h5), read on the driver",
        typeConverter=TypeConverters.toString,
    )

    # Params that are not saved as JSON metadata (e.g. a Python function).
    _unsaved_params: Tuple[str, ...] = ()

    def __init__(self) -> None:
        super().__init__()
        from sparkdl._jvm import connect_unsupported, is_connect

        if is_connect():
            raise connect_unsupported(
                f"{type(self).__name__} (Keras in this Python process, py4j to the JVM)",
                "Export the model to a frozen graph or SavedModel the server reads and use TFImageTransformer "
                "(graph='/path/model.pb' or modelPath=...), or run the Keras stages where the driver is.",
            )
        self._setDefault(batchSize=64)
        self._graph: Optional[KerasGraph] = None
        self._graph_for: Optional[Tuple[str, float]] = None
        self._inner: Any = None  # the JVM-backed TFTransformer, once made
        self._inner_for: Any = None  # what it was made from, or "loaded"
        self._loaded_io: Any = None  # _model_io() of a loaded stage

    # -- setters shared by both stages ------------------------------------------------
    def setInputCol(self, value: str) -> "KerasStage":
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "KerasStage":
        return self._set(outputCol=value)

    def setModelFile(self, value: str) -> "KerasStage":
        if self._inner_for == "loaded":  # a new file replaces the saved graph
            self._inner, self._inner_for = None, None
        return self._set(modelFile=value)

    def getModelFile(self) -> str:
        return self.getOrDefault(self.modelFile)

    def _error_col(self) -> str:
        if self.isSet(self.errorCol):
            return self.getOrDefault(self.errorCol)
        return self.getOutputCol() + "_error"

    # -- the model ----------------------------------------------------------------------
    def _keras_graph(self) -> KerasGraph:
        """The exported graph, made once per model file (and again if the file changes)."""
        if not self.isDefined(self.modelFile):
            raise ValueError("modelFile: set it to a Keras model file (.keras or .h5)")
        model_file = self.getModelFile()
        path = model_file[len("file:") :] if model_file.startswith("file:") else model_file
        key = (model_file, os.path.getmtime(path) if os.path.isfile(path) else -1.0)
        if self._graph is None or self._graph_for != key:
            self._graph = KerasGraph.export(model_file)
            self._graph_for = key
            self._inner = None
        return self._graph

    def _model_io(self) -> Tuple[str, str, Tuple[Optional[int], ...]]:
        """(input tensor, output tensor, input shape without the batch dimension)."""
        if self._inner_for == "loaded":
            return self._loaded_io
        g = self._keras_graph()
        return g.input_name, g.output_name, g.input_shape

    def _tf_stage(self, input_col: str, output_col: str, error_col: str, output_mode: str = "array") -> Any:
        """The TFTransformer that runs the model: ``input_col`` -> ``output_col``."""
        from sparkdl.transformers.tf_tensor import TFTransformer

        if self._inner_for != "loaded":
            graph = self._keras_graph()
            if self._inner is None:
                self._inner = TFTransformer(graph=graph.graph_def)
                self._inner_for = self._graph_for
        inp, out, _ = self._model_io()
        stage = self._inner
        stage.setInputMapping({input_col: inp})
        stage.setOutputMapping({out: output_col})
        stage.setBatchSize(self.getOrDefault(self.batchSize))
        stage.setErrorCol(error_col)
        stage.setOutputMode(output_mode)
        return stage

    # -- persistence --------------------------------------------------------------------
    def write(self) -> MLWriter:
        return _KerasWriter(self)

    @classmethod
    def read(cls) -> MLReader:
        return _KerasReader(cls)

    def _save_extra(self, path: str, spark: Any) -> None:
        """Subclasses save what is not a JSON Param (e.g. the image loader)."""

    def _load_extra(self, path: str, spark: Any) -> None:
        """Subclasses load what ``_save_extra`` wrote."""

    def copy(self, extra: Optional[Dict] = None) -> "KerasStage":
        that = super().copy(extra)
        that._graph, that._graph_for = self._graph, self._graph_for
        that._inner, that._inner_for = None, None
        if self._inner_for == "loaded":
            that._inner, that._inner_for, that._loaded_io = self._inner, "loaded", self._loaded_io
        return that


class _KerasWriter(MLWriter):
    def __init__(self, instance: KerasStage) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        stage = self.instance
        params = {p.name: v for p, v in stage._paramMap.items() if p.name not in stage._unsaved_params}
        inp, out, shape = stage._model_io()
        extra = {"inputTensor": inp, "outputTensor": out, "inputShape": list(shape)}
        DefaultParamsWriter.saveMetadata(stage, path, self.sc, extraMetadata=extra, paramMap=params)
        inner = stage._tf_stage("input", "output", "output_error")
        inner.write().overwrite().save(path.rstrip("/") + "/tf")
        stage._save_extra(path.rstrip("/"), self.sparkSession)


class _KerasReader(MLReader):
    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> KerasStage:
        from sparkdl.transformers.tf_tensor import TFTransformer

        metadata = DefaultParamsReader.loadMetadata(path, self.sc)
        stage = self.cls()
        stage._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(stage, metadata)
        stage._inner = TFTransformer.load(path.rstrip("/") + "/tf")
        stage._inner_for = "loaded"
        stage._loaded_io = (metadata["inputTensor"], metadata["outputTensor"], tuple(metadata["inputShape"]))
        stage._load_extra(path.rstrip("/"), self.sparkSession)
        return stage
