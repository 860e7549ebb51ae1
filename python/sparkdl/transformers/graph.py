"""Turning what users hold (a tf.Graph, a GraphDef, a tf.function, a Keras model, a
SavedModel folder) into the bytes sparkdl's native engine runs.

TensorFlow is imported only inside these functions, when a conversion needs it.
"""

import os
from typing import Any, Tuple


def tensor_name(t: Any) -> str:
    """`op:index` for a tf.Tensor / tf.Operation, or the string itself (`op`, `op:index`, or a
    SavedModel signature argument, which the JVM stage resolves)."""
    if isinstance(t, str):
        return t
    name = getattr(t, "name", None)
    if isinstance(name, str):
        return name if ":" in name else name + ":0"
    raise TypeError(f"expected a tensor name such as 'input:0' or a tf.Tensor, got {type(t).__name__}")


def to_model(graph: Any) -> Tuple[str, Any]:
    """('graphdef', bytes) or ('savedmodel', folder) for what the user passed as `graph`."""
    if isinstance(graph, (bytes, bytearray)):
        return "graphdef", bytes(graph)
    if isinstance(graph, (str, os.PathLike)):
        path = os.fspath(graph)
        if os.path.isdir(path):
            if not os.path.isfile(os.path.join(path, "saved_model.pb")):
                raise ValueError(
                    f"graph: {path} is a folder without saved_model.pb; pass a SavedModel "
                    "folder, a frozen GraphDef file or a graph object"
                )
            return "savedmodel", path
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return "graphdef", f.read()
        raise ValueError(f"graph: no such file or folder: {path}")
    serialize = getattr(graph, "SerializeToString", None)
    if callable(serialize):  # a GraphDef proto
        return "graphdef", serialize()
    as_graph_def = getattr(graph, "as_graph_def", None)
    if callable(as_graph_def):  # a tf.Graph (already frozen)
        return "graphdef", as_graph_def(add_shapes=True).SerializeToString()
    return "graphdef", freeze_function(graph).SerializeToString()


def _frozen_concrete(fn: Any, input_signature=None):
    """The concrete function of a tf.function, concrete function or Keras model, with its
    variables turned into constants (``convert_variables_to_constants_v2``)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    concrete = fn
    if hasattr(fn, "inputs") and hasattr(fn, "__call__") and not hasattr(fn, "graph"):
        # A Keras model: trace its call on its own input signature.
        specs = [tf.TensorSpec(i.shape, i.dtype, name=f"input_{k}") for k, i in enumerate(fn.inputs)]
        concrete = tf.function(
            lambda *xs: fn(list(xs) if len(xs) > 1 else xs[0], training=False)
        ).get_concrete_function(*specs)
    elif hasattr(fn, "get_concrete_function") and not hasattr(fn, "graph"):
        concrete = fn.get_concrete_function(*(input_signature or []))
    if not hasattr(concrete, "graph"):
        raise TypeError(
            f"graph: cannot turn a {type(fn).__name__} into a TensorFlow graph; pass a frozen "
            "GraphDef (bytes or proto), a tf.Graph, a tf.function, a Keras model or a SavedModel folder"
        )
    return convert_variables_to_constants_v2(concrete)


def freeze_with_names(fn: Any, input_signature=None) -> Tuple[Any, list, list]:
    """(frozen GraphDef, input tensor names, output tensor names) of a tf.function, a
    concrete function or a Keras model, traced and frozen once."""
    frozen = _frozen_concrete(fn, input_signature)
    return (
        frozen.graph.as_graph_def(add_shapes=True),
        [t.name for t in frozen.inputs],
        [t.name for t in frozen.outputs],
    )


def freeze_function(fn: Any, input_signature=None):
    """A frozen GraphDef of a tf.function, a concrete function or a Keras model. Its inputs
    are the function's placeholders, whose names ``frozen_io_names`` gives."""
    return freeze_with_names(fn, input_signature)[0]


def frozen_io_names(fn: Any, input_signature=None) -> Tuple[list, list]:
    """Input and output tensor names of ``freeze_function(fn)``'s graph."""
    _, inputs, outputs = freeze_with_names(fn, input_signature)
    return inputs, outputs
