"""sparkdl's TensorFlow 1-style graph helpers, for graphs built with ``tf.compat.v1``."""

from typing import Any, Iterable


def imageInputPlaceholder(nChannels: int = 3):
    """A float32 placeholder of shape (batch, height, width, nChannels) for image inputs:
    images are fed at their own size unless the graph fixes one."""
    import tensorflow.compat.v1 as tf

    return tf.placeholder(tf.float32, [None, None, None, nChannels], name="sparkdl_image_input")


def stripAndFreezeGraph(graph_def: Any, sess: Any, output_tensors: Iterable[Any]):
    """A GraphDef with the session's variables turned into constants and stripped to what
    ``output_tensors`` need (sparkdl's ``strip_and_freeze_until``)."""
    import tensorflow.compat.v1 as tf

    names = [t.op.name if hasattr(t, "op") else str(t).split(":")[0] for t in output_tensors]
    frozen = tf.graph_util.convert_variables_to_constants(sess, graph_def, names)
    return tf.graph_util.extract_sub_graph(frozen, names)


def freezeGraph(graph_def: Any, output_tensors: Iterable[Any]) -> bytes:
    """Freezes in sparkdl's native engine, no TensorFlow Python needed: the TF1 variables
    (``VariableV2``, or resource variables) of ``graph_def`` become constants holding their
    initial values, and the graph is stripped to what ``output_tensors`` need. Returns the
    frozen GraphDef's bytes (accepted as ``graph=`` by the transformers)."""
    from sparkdl._jvm import _jvm_api, _resolve_spark
    from sparkdl.transformers.graph import tensor_name, to_model

    kind, value = to_model(graph_def)
    if kind != "graphdef":
        raise ValueError("freezeGraph: give a GraphDef (bytes, proto, tf.Graph or .pb file), not a SavedModel folder")
    api = _jvm_api(_resolve_spark(None))
    names = [tensor_name(t) for t in output_tensors]
    return bytes(api.freezeGraph(bytearray(value), names))
