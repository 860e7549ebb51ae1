"""Every Python wrapper of a JVM stage has the JVM stage's Params, with the same defaults: the
Params are declared once per side (python/sparkdl/transformers/_base.py mirrors
org.sparkdl.param.SharedParams), and this test is what keeps the two sides in step."""

import pytest

import sparkdl

# Params the wrappers hold in Python only, or set on the JVM through their own calls (the model
# sources: a graph/tf.Graph or a module is turned into bytes in Python; mappings go as Java maps).
PYTHON_ONLY = {"graph", "inputTensor", "outputTensor", "model", "exampleInput"}


def _jvm_params(java):
    return {p.name(): p for p in java.params()}


def _py_value(v):
    try:
        return list(v) if not isinstance(v, (str, bytes)) and hasattr(v, "__iter__") else v
    except TypeError:
        return v


@pytest.mark.parametrize(
    "cls",
    [
        sparkdl.TFImageTransformer,
        sparkdl.TFTransformer,
        sparkdl.ONNXImageTransformer,
        sparkdl.ONNXTransformer,
        sparkdl.DeepImageFeaturizer,
        sparkdl.DeepImagePredictor,
        sparkdl.NearestNeighbors,
        sparkdl.ImageSignature,
    ],
)
def test_wrappers_have_the_jvm_stages_params_and_defaults(spark, cls):
    stage = cls()
    java = stage._java_obj
    jvm = _jvm_params(java)
    py = {p.name: p for p in stage.params}
    # The mappings live on the JVM stage; the wrappers set and get them through Java maps.
    by_calls = {"inputMapping", "outputMapping"} if hasattr(stage, "setInputMapping") else set()
    missing_in_python = sorted(set(jvm) - set(py) - by_calls)
    assert not missing_in_python, f"{cls.__name__}: JVM Params without a Python Param: {missing_in_python}"
    missing_on_jvm = sorted(set(py) - set(jvm) - PYTHON_ONLY)
    assert not missing_on_jvm, f"{cls.__name__}: Python Params the JVM stage lacks: {missing_on_jvm}"
    for name, p in py.items():
        if name not in jvm:
            continue
        jp = jvm[name]
        py_has, jvm_has = stage.hasDefault(p), java.hasDefault(jp)
        assert py_has == jvm_has, f"{cls.__name__}.{name}: default in Python {py_has}, on the JVM {jvm_has}"
        if py_has:
            jv = java.getDefault(jp).get()
            jv = list(jv) if hasattr(jv, "__iter__") and not isinstance(jv, str) else jv
            assert _py_value(stage.getOrDefault(p)) == jv, (
                f"{cls.__name__}.{name}: default {stage.getOrDefault(p)!r} in Python, {jv!r} on the JVM"
            )
