"""sparkdl's named pretrained models: list them, and export their frozen graphs.

The registry lives on the JVM (``org.sparkdl.models.ModelRegistry``), the single source of truth
for each model's graph source, weight sources, input size, preprocessing, labels and tensors;
these functions read it through py4j.

    python -m sparkdl.models list
    python -m sparkdl.models export MobileNetV2            # into the model cache
    python -m sparkdl.models export InceptionV3 --weights inception_v3.h5 --out inception.pb
"""

import json
from typing import Any, Dict, List, Optional


def _api() -> Any:
    from sparkdl._jvm import _jvm_api, _resolve_spark

    return _jvm_api(_resolve_spark(None))


def listModels() -> List[str]:
    """The names every ``modelName`` Param accepts."""
    return [m["name"] for m in describeModels()]


def describeModels() -> List[Dict[str, Any]]:
    """Each named model's registry entry (input size, features, tensors, weight sources...)."""
    return json.loads(str(_api().modelsJson()))


def describeModel(name: str) -> Dict[str, Any]:
    for m in describeModels():
        if m["name"] == name:
            return m
    raise ValueError(f"modelName: no model named '{name}'. Valid names: {', '.join(listModels())}")


def exportModel(name: str, weights: Optional[str] = None, out: Optional[str] = None, engine: str = "tensorflow") -> str:
    """Writes model ``name``'s frozen graph to ``out`` (default: the model cache, where
    ``modelName`` finds it) and returns the path. ``engine="onnx"`` writes a natively built
    model as an ONNX model instead (``out`` is then required).

    Natively built models (MobileNetV2) are built by the JVM/Rust side from their PyTorch
    weights (``weights``, or the registry's sources). Keras-application models are exported
    here with Keras: ``weights`` is an ``.h5`` file, ``"imagenet"`` (Keras downloads them; the
    default) or ``"none"`` (random weights, for tests).
    """
    info = describeModel(name)
    if engine == "onnx":
        if info["graphSource"] != "native" or not out:
            raise ValueError(
                f"exportModel(engine='onnx'): give out=, for a natively built model ({name} is {info['graphSource']})"
            )
        return str(_api().exportModel(name, weights or "", out, "onnx"))
    if engine != "tensorflow":
        raise ValueError(f"engine: '{engine}' is not an engine; use tensorflow or onnx")
    target = out or info["cachedGraph"]
    if info["graphSource"] == "native":
        return str(_api().exportModel(name, weights or "", target))
    return export_keras_application(info, weights, target)


def export_keras_application(info: Dict[str, Any], weights: Optional[str], out: str) -> str:
    """Exports ``keras.applications.<app>`` as a frozen graph with sparkdl's tensor names:
    ``input`` (float, NHWC, preprocessed), ``features`` (the feature layer) and
    ``probabilities`` (the classifier's softmax)."""
    import os

    import keras
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    app = getattr(keras.applications, info["builder"])
    w = None if (weights or "").lower() in ("none", "random") else (weights or "imagenet")
    model = app(weights=w)
    both = keras.Model(model.inputs, [model.get_layer(info["kerasLayer"]).output, model.outputs[0]])
    spec = tf.TensorSpec([None, info["height"], info["width"], 3], tf.float32, name="input")

    @tf.function(input_signature=[spec])
    def run(x):
        features, probabilities = both(x, training=False)
        return (
            tf.identity(features, name=info["featureTensor"].split(":")[0]),
            tf.identity(probabilities, name=info["probabilityTensor"].split(":")[0]),
        )

    frozen = convert_variables_to_constants_v2(run.get_concrete_function())
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "wb") as f:
        f.write(frozen.graph.as_graph_def().SerializeToString())
    return out


__all__ = ["listModels", "describeModels", "describeModel", "exportModel"]
