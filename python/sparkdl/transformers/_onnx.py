"""The base of the ONNX stages' wrappers: where the model comes from (a file, bytes, or a
PyTorch module exported once on the driver)."""

from typing import Any, Dict, Optional

from pyspark.ml.param import Param, Params, TypeConverters

from sparkdl.transformers._base import ModelStage, local_file_to_jvm


class ONNXStage(ModelStage):
    """Base of the ONNX stages: the model is an ``.onnx`` file the driver reads (``modelFile``,
    with its external data files beside it; on Spark Connect a file the server reads), or bytes
    handed to the JVM stage (``model=`` bytes, an ``onnx.ModelProto``, or a ``torch.nn.Module``
    exported by :func:`sparkdl.transformers.torch_export.exported`)."""

    modelFile = Param(
        Params._dummy(),
        "modelFile",
        "an ONNX model file (.onnx) the driver reads (Spark Connect: the server's driver)",
        typeConverter=TypeConverters.toString,
    )

    def _set_onnx(self, kwargs: Dict[str, Any]) -> None:
        model = kwargs.pop("model", None)
        example = kwargs.pop("exampleInput", None)
        self._set_params(kwargs)
        if model is not None:
            self.setModel(model, exampleInput=example)

    def setModelFile(self, path: str):
        return self._set(modelFile=str(path))

    def setModel(self, model: Any, exampleInput: Optional[Any] = None):
        """The model: ONNX bytes, an ``onnx.ModelProto``, a path to an ``.onnx`` file, or a PyTorch
        ``nn.Module`` / saved ``torch.export`` program (exported to ONNX here, on the driver, with a
        dynamic batch axis; ``exampleInput`` is one batch of input, required for a module)."""
        if isinstance(model, str) and not model.endswith(".pt2"):
            return self.setModelFile(model)
        if self._remote:
            from sparkdl._jvm import connect_unsupported

            raise connect_unsupported(
                f"model={type(model).__name__}",
                "Save the ONNX model where the server reads it and pass its path (modelFile='/models/m.onnx').",
            )
        if isinstance(model, (bytes, bytearray)):
            local_file_to_jvm(self._java_obj.loadModelFile, bytes(model), ".onnx")
        elif type(model).__name__ == "ModelProto":
            local_file_to_jvm(self._java_obj.loadModelFile, model.SerializeToString(), ".onnx")
        else:
            from sparkdl.transformers.torch_export import exported, is_torch_model

            if not is_torch_model(model):
                raise ValueError(
                    "model: give ONNX bytes, an onnx.ModelProto, an .onnx path or a torch.nn.Module (or a saved "
                    f"torch.export program); got {type(model).__name__}"
                )
            # The JVM reads the model and any external data files at once; the folder then goes.
            with exported(model, exampleInput) as path:
                self._java_obj.loadModelFile("file://" + path)
        return self
