"""Nothing runs code from a file implicitly: Keras' safe_mode stays on, weight files are read by
restricted unpicklers, and the servers listen on 127.0.0.1 unless told otherwise."""

import os
import pickle

import pytest

import sparkdl


def test_a_keras_model_with_a_lambda_layer_is_refused_not_run(tmp_path):
    import keras

    marker = tmp_path / "ran"
    inp = keras.Input(shape=(3,))
    out = keras.layers.Lambda(lambda x: x * 2)(inp)  # arbitrary Python, saved as bytecode
    path = str(tmp_path / "lambda.keras")
    keras.Model(inp, out).save(path)
    t = sparkdl.KerasTransformer(inputCol="x", outputCol="y", modelFile=path)
    with pytest.raises(ValueError, match="safe_mode"):
        t._model_io()
    assert not marker.exists()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/sparkdl-pwned",))


def test_weight_files_are_read_without_running_their_globals(spark, tmp_path):
    from sparkdl.models import _torch_legacy

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"weight": _Evil()}, f, protocol=2)
    if os.path.exists("/tmp/sparkdl-pwned"):
        os.remove("/tmp/sparkdl-pwned")
    with pytest.raises(pickle.UnpicklingError, match="refused global"):
        _torch_legacy.read_state_dict(str(path))
    assert not os.path.exists("/tmp/sparkdl-pwned")
    # The native reader (MobileNetV2 weights) refuses it too, naming the global.
    from pyspark.sql.types import StructField, StructType

    from sparkdl.image.imageIO import imageSchema

    f = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="f", modelName="MobileNetV2", weightsPath=str(path))
    with pytest.raises(Exception, match="refusing the global .posix.system"):
        f.transform(spark.createDataFrame([], StructType([StructField("image", imageSchema)]))).collect()
    assert not os.path.exists("/tmp/sparkdl-pwned")


@pytest.mark.parametrize("kind", ["sql", "connect"])
def test_servers_listen_on_127_0_0_1_unless_told(kind):
    from sparkdl.cli import _parser
    from sparkdl.cli.serve import command

    args = _parser().parse_args([f"serve-{kind}", "--port", "12345"])
    cmd = " ".join(command(args, kind))
    assert (
        "hive.server2.thrift.bind.host=127.0.0.1" if kind == "sql" else "spark.connect.grpc.binding.address=127.0.0.1"
    ) in cmd
    args = _parser().parse_args([f"serve-{kind}", "--port", "12345", "--host", "0.0.0.0"])
    assert "0.0.0.0" in " ".join(command(args, kind))
