"""PyTorch models to ONNX, once, on the driver: what the ONNX stages do with an ``nn.Module`` (or a
saved ``torch.export`` program). torch is imported here only, and only the driver needs it."""

import contextlib
import os
import shutil
import tempfile
from typing import Any, Iterator, Optional


def is_torch_model(model: Any) -> bool:
    """An ``nn.Module``, a ``torch.export.ExportedProgram``, or a path to a saved one (``.pt2``)."""
    if isinstance(model, str):
        return model.endswith(".pt2")
    mod = type(model).__module__ or ""
    return mod.startswith("torch") or any(c.__module__.startswith("torch.nn") for c in type(model).__mro__)


@contextlib.contextmanager
def exported(model: Any, example_input: Optional[Any] = None, opset: int = 18) -> Iterator[str]:
    """Exports ``model`` to ONNX in a temporary folder and yields the ``.onnx`` file's path (its
    weights beside it in a data file when they pass 2 GB). The batch axis (0) of every input and
    output is dynamic, named "batch". ``example_input``: one batch (a tensor or a tuple of them);
    a saved or given ``torch.export`` program carries its own."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            "sparkdl: exporting a PyTorch model to ONNX needs torch (and onnxscript) on the driver: "
            "pip install torch onnxscript; or export it yourself (torch.onnx.export) and give the .onnx file"
        ) from e
    if isinstance(model, str):
        model = torch.export.load(model)
    folder = tempfile.mkdtemp(prefix="sparkdl-torch-onnx-")
    path = os.path.join(folder, "model.onnx")
    try:
        if isinstance(model, torch.export.ExportedProgram):
            args = model.example_inputs[0] if model.example_inputs else ()
            module = model
        else:
            if example_input is None:
                raise ValueError(
                    "exampleInput: give one batch of the module's input (e.g. torch.zeros(1, 3, 224, 224)) to export "
                    "a torch.nn.Module"
                )
            model.eval()
            args = example_input if isinstance(example_input, tuple) else (example_input,)
            module = model
        dynamic = tuple({0: torch.export.Dim("batch")} for _ in args)
        with torch.no_grad():
            onnx_program = torch.onnx.export(module, args, dynamo=True, dynamic_shapes=dynamic, opset_version=opset)
        onnx_program.save(path)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
