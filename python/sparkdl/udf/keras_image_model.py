"""``registerModel`` and ``registerKerasImageUDF``: a model as a SQL function of the session."""

from typing import Any, Callable, Optional

from sparkdl.transformers.graph import tensor_name


def _session(spark: Any) -> Any:
    from sparkdl._jvm import _jvm_api, _resolve_spark, connect_unsupported, is_connect

    spark = _resolve_spark(spark)
    if is_connect(spark):
        raise connect_unsupported(
            "Registering a model from Python",
            "Save the model (stage.write().save(path)) and start the server "
            "with it: sparkdl serve-connect --model NAME=PATH (the conf spark.sparkdl.sql.models); then "
            "SELECT NAME(image) works from every client.",
        )
    _jvm_api(spark)  # a clear error when the jar is missing
    return spark


def _java_stage(stage: Any) -> Any:
    """The JVM object behind a sparkdl stage or a PipelineModel of them, params sent along."""
    to_java = getattr(stage, "_to_java", None)
    if to_java is None:
        raise ValueError(
            f"registerModel: {type(stage).__name__} runs Python code per row, so it cannot be a SQL function "
            "that the JVM evaluates; register a JVM-backed stage (DeepImageFeaturizer, DeepImagePredictor, "
            "TFImageTransformer, TFTransformer) or a PipelineModel of them, or use registerKerasImageUDF"
        )
    try:
        return to_java()
    except AttributeError as e:  # a Python-only stage inside a PipelineModel
        raise ValueError(f"registerModel: every stage must be a JVM-backed sparkdl stage ({e})") from e


def registerModel(name: str, stage: Any, spark: Any = None) -> None:
    """Makes ``name(input)`` a SQL function of the session that applies ``stage`` to ``input``.

    ``stage``: a sparkdl stage with one input and one output column, or a fitted
    ``PipelineModel`` whose first stage reads the input and whose last writes the result (a
    ``TFTransformer`` with one input and one output mapping works too). The function's
    result is that column, computed in batches by the native engine.

    >>> featurizer = DeepImageFeaturizer(inputCol="image", outputCol="f", modelName="MobileNetV2")
    >>> sparkdl.registerModel("features", featurizer)
    >>> spark.sql("SELECT features(image) FROM images")
    """
    spark = _session(spark)
    jstage = _java_stage(stage)
    spark.sparkContext._jvm.org.sparkdl.sql.ModelFunctions.register(spark._jsparkSession, name, jstage)


def registerKerasImageUDF(
    udf_name: str, keras_model_or_file_path: Any, preprocessor: Optional[Callable[[str], Any]] = None, spark: Any = None
) -> None:
    """The original sparkdl's ``registerKerasImageUDF``: makes ``udf_name(image)`` a SQL
    function that applies a Keras model to an image struct column and returns the model's
    output (flattened, ``array<float>``).

    ``keras_model_or_file_path``: a Keras 3 model, or a ``.keras``/``.h5`` file. It is frozen
    once, here, and runs in sparkdl's native engine.

    ``preprocessor``: optional, as in the original: a function from an image file path (the
    struct's ``origin``) to a uint8 array of the model's input shape. It runs in Python
    workers, only when given. Without it, images are resized to the model's input size and fed
    as RGB pixel values 0-255.

    >>> registerKerasImageUDF("inception", InceptionV3(weights="imagenet"))
    >>> spark.sql("SELECT inception(image) AS predictions FROM images")
    """
    spark = _session(spark)
    from sparkdl.transformers._keras import KerasGraph
    from sparkdl.transformers.tf_image import TFImageTransformer
    from sparkdl.transformers.tf_tensor import TFTransformer

    if isinstance(keras_model_or_file_path, str):
        graph = KerasGraph.export(keras_model_or_file_path)
    else:
        graph = KerasGraph.from_model(keras_model_or_file_path)
    shape = tuple(graph.input_shape)
    if any(d is None for d in shape):
        raise ValueError(
            f"registerKerasImageUDF: the model's input shape {(None,) + shape} has unknown "
            "dimensions besides the batch; build it with a fixed size, e.g. "
            "keras.Input(shape=(299, 299, 3))"
        )
    jvm = spark.sparkContext._jvm.org.sparkdl.sql.ModelFunctions
    if preprocessor is None:
        stage = TFImageTransformer(
            inputCol="image",
            outputCol="output",
            graph=graph.graph_def,
            inputTensor=tensor_name(graph.input_name),
            outputTensor=tensor_name(graph.output_name),
            channelOrder="RGB" if len(shape) < 3 or shape[-1] != 1 else "L",
            outputMode="array",
        )
        jvm.register(spark._jsparkSession, udf_name, _java_stage(stage))
        return

    # The preprocessor runs in Python workers (a pandas UDF over batches of paths); its uint8
    # arrays feed the model as numbers, in the native engine.
    import numpy as np
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import ArrayType, ShortType

    size = int(np.prod(shape))

    def local_path(uri: str) -> str:
        from urllib.parse import unquote, urlparse

        u = urlparse(uri)
        return unquote(u.path) if u.scheme == "file" else uri

    def run(paths: pd.Series) -> pd.Series:
        out = []
        for p in paths:
            if p is None:
                out.append(None)
                continue
            arr = np.asarray(preprocessor(local_path(p)))
            if arr.size != size:
                raise ValueError(
                    f"registerKerasImageUDF: the preprocessor gave {arr.shape} for {p}; the model takes {shape} (uint8)"
                )
            out.append(arr.astype(np.int16).reshape(-1))
        return pd.Series(out)

    pre_name = f"__sparkdl_pre_{udf_name}"
    spark.udf.register(pre_name, pandas_udf(run, ArrayType(ShortType())))
    model = TFTransformer(
        graph=graph.graph_def, inputMapping={"input": graph.input_name}, outputMapping={graph.output_name: "output"}
    )
    jvm.registerWithPreprocessor(spark._jsparkSession, udf_name, pre_name, _java_stage(model))
