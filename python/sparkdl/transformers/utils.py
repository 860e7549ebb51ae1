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
