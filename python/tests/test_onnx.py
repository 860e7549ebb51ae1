"""ONNX models in sparkdl's native engine (ONNX Runtime through JNI): outputs equal to ONNX
Runtime's own Python API on the same inputs, for models built with onnx.helper and converted
from Keras by tf2onnx; every moved dtype; nested arrays for inputs with several symbolic
dimensions; external data; bad inputs as null rows with reasons; runtime failures failing the
task; saving in pipelines; SQL; and MobileNetV2 built as ONNX agreeing with its TensorFlow graph."""

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from sparkdl_testkit import copy_test_photos

import sparkdl
from sparkdl import DeepImageFeaturizer, DeepImagePredictor, ONNXImageTransformer, ONNXTransformer

OPSET = [helper.make_opsetid("", 17)]


def _model(nodes, inputs, outputs, initializers=(), name="m"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=OPSET)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _affine(path=None):
    """x [batch, 3] -> y = x W + b [batch, 2], and z = sum(y) per row [batch]."""
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(3, 2)).astype(np.float32), rng.normal(size=(2,)).astype(np.float32)
    m = _model(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["y"]),
            helper.make_node("ReduceSum", ["y", "axes"], ["z"], keepdims=0),
        ],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [
            helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2]),
            helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch"]),
        ],
        [
            numpy_helper.from_array(w, "W"),
            numpy_helper.from_array(b, "B"),
            numpy_helper.from_array(np.array([1]), "axes"),
        ],
    )
    if path is not None:
        onnx.save(m, path)
    return m


def _image_schema():
    from pyspark.sql.types import IntegerType, StructField, StructType

    return StructType([StructField("id", IntegerType()), StructField("image", sparkdl.imageSchema)])


def _reference(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def test_a_helper_built_model_matches_onnx_runtime_python(spark, tmp_path):
    path = str(tmp_path / "affine.onnx")
    model = _affine(path)
    x = np.random.default_rng(1).normal(size=(37, 3)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(len(x))], "id int, x array<float>").repartition(3)
    t = ONNXTransformer(modelFile=path, inputMapping={"x": "x"}, outputMapping={"y": "y", "z": "z"}, batchSize=8)
    rows = sorted(t.transform(df).collect(), key=lambda r: r.id)
    y, z = _reference(model, {"x": x})
    got_y = np.array([r.y for r in rows], np.float32)
    got_z = np.array([r.z for r in rows], np.float32).reshape(-1)
    assert np.abs(got_y - y).max() <= 1e-5 and np.abs(got_z - z).max() <= 1e-5
    assert all(r.y_error is None for r in rows)
    # explain() names the engine.
    plan = t.transform(df)._jdf.queryExecution().toString()
    assert "NativeEval" in plan and "ONNX Runtime onnx model" in plan, plan


def test_every_dtype_maps_to_spark_types_as_tensorflow_does(spark):
    cases = [
        (TensorProto.FLOAT16, "array<float>", np.float16, [1.5, -2.0], "float"),
        (TensorProto.DOUBLE, "array<double>", np.float64, [0.25, 3.0], "double"),
        (TensorProto.INT64, "array<bigint>", np.int64, [3, -4], "bigint"),
        (TensorProto.INT32, "array<int>", np.int32, [3, -4], "int"),
        (TensorProto.UINT8, "array<smallint>", np.uint8, [3, 200], "smallint"),
        (TensorProto.BOOL, "array<boolean>", np.bool_, [True, False], "boolean"),
    ]
    for elem, col_type, np_type, values, out_elem in cases:
        op = "Not" if elem == TensorProto.BOOL else "Identity"
        m = _model(
            [helper.make_node(op, ["x"], ["y"])],
            [helper.make_tensor_value_info("x", elem, ["batch", 2])],
            [helper.make_tensor_value_info("y", elem, ["batch", 2])],
        )
        df = spark.createDataFrame([(values,)], f"x {col_type}")
        t = ONNXTransformer(model=m.SerializeToString(), inputMapping={"x": "x"}, outputMapping={"y": "y"})
        out = t.transform(df)
        assert out.schema["y"].dataType.simpleString() == f"array<{out_elem}>", (elem, out.schema["y"])
        got = out.collect()[0].y
        (expected,) = _reference(m, {"x": np.array([values], np_type)})
        assert np.allclose(np.array(got, dtype=np.float64), expected[0].astype(np.float64)), (elem, got, expected)


def test_several_symbolic_dimensions_from_nested_arrays_rows_of_different_shapes(spark):
    """x [batch, rows, cols] -> y = sum over cols: rows of different shapes run in their own chunks."""
    m = _model(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0)],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "rows", "cols"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "rows"])],
        [numpy_helper.from_array(np.array([2]), "axes")],
    )
    data = [
        (0, [[1.0, 2.0], [3.0, 4.0]]),
        (1, [[1.0, 2.0, 3.0]]),
        (2, [[5.0, 5.0], [1.0, 1.0]]),
        (3, [[1.0], [2.0, 3.0]]),  # ragged: this row's reason, the others run
        (4, None),
    ]
    df = spark.createDataFrame(data, "id int, x array<array<float>>")
    t = ONNXTransformer(model=m.SerializeToString(), inputMapping={"x": "x"}, outputMapping={"y": "y"})
    rows = {r.id: r for r in t.transform(df).collect()}
    assert rows[0].y == [3.0, 7.0] and rows[1].y == [6.0] and rows[2].y == [10.0, 2.0]
    assert rows[3].y is None and "not rectangular" in rows[3].y_error, rows[3].y_error
    assert rows[4].y is None and "null" in rows[4].y_error


def test_a_keras_model_converted_by_tf2onnx_matches_onnx_runtime(spark, tmp_path):
    import keras
    import tensorflow as tf
    import tf2onnx

    keras.utils.set_random_seed(5)
    inp = keras.Input(shape=(16, 16, 3), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="probs")(x))
    spec = (tf.TensorSpec((None, 16, 16, 3), tf.float32, name="image"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
    path = str(tmp_path / "keras.onnx")
    onnx.save(proto, path)
    rng = np.random.default_rng(2)
    images = [(rng.random((16, 16, 3)) * 255).astype(np.uint8) for _ in range(5)]
    structs = [sparkdl.imageArrayToStruct(a[:, :, ::-1]) for a in images]  # Spark's images are BGR
    df = spark.createDataFrame([(i, s) for i, s in enumerate(structs)], _image_schema())
    t = ONNXImageTransformer(
        inputCol="image", outputCol="p", modelFile=path, layout="NHWC", scale=1 / 255.0, outputMode="array"
    )
    got = np.array([r.p for r in sorted(t.transform(df).collect(), key=lambda r: r.id)], np.float32)
    batch = np.stack(images).astype(np.float32) * np.float32(1 / 255.0)
    (expected,) = _reference(proto, {proto.graph.input[0].name: batch})
    assert np.abs(got - expected).max() <= 1e-5


def test_external_data_travels_with_the_stage(spark, tmp_path):
    src = tmp_path / "ext"
    (src / "weights").mkdir(parents=True)
    model = _affine()
    # W goes to a data file in a sub-folder (the axes constant stays inline: ONNX Runtime's shape
    # inference reads it, and exporters keep such small constants inside the model).
    from onnx.external_data_helper import set_external_data, write_external_data_tensors

    set_external_data(next(t for t in model.graph.initializer if t.name == "W"), "weights/affine.bin")
    model = write_external_data_tensors(model, str(src))
    onnx.save(model, str(src / "model.onnx"))
    assert (src / "weights" / "affine.bin").is_file()
    t = ONNXTransformer(modelFile=str(src / "model.onnx"), inputMapping={"x": "x"}, outputMapping={"y": "y"})
    df = spark.createDataFrame([([1.0, 2.0, 3.0],)], "x array<float>")
    before = t.transform(df).collect()[0].y
    # The stage carries the model and its data file: the files may go (executors never read them).
    import shutil

    shutil.rmtree(src)
    assert t.transform(df).collect()[0].y == before
    saved = str(tmp_path / "saved")
    t.write().overwrite().save(saved)
    assert ONNXTransformer.load(saved).transform(df).collect()[0].y == before
    (expected,) = _reference(_affine(), {"x": np.array([[1.0, 2.0, 3.0]], np.float32)})[:1]
    assert np.abs(np.array(before) - expected[0]).max() <= 1e-5


def test_bad_models_and_names_fail_on_the_driver_naming_them(spark, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a model")
    df = spark.createDataFrame([([1.0, 2.0, 3.0],)], "x array<float>")
    with pytest.raises(Exception, match="junk.onnx"):
        ONNXTransformer(modelFile=str(junk), inputMapping={"x": "x"}, outputMapping={"y": "y"}).transform(df)
    path = str(tmp_path / "affine.onnx")
    _affine(path)
    with pytest.raises(Exception, match="no input 'input'.*its inputs are: x"):
        ONNXTransformer(modelFile=path, inputMapping={"x": "input"}, outputMapping={"y": "y"}).transform(df)
    with pytest.raises(Exception, match="no output 'out'.*its outputs are: y float32.*z float32"):
        ONNXTransformer(modelFile=path, inputMapping={"x": "x"}, outputMapping={"out": "y"}).transform(df)
    # An external data location that leaves the model's folder is refused before anything is read.
    evil = tmp_path / "evil.onnx"
    m = _affine()
    m.graph.initializer[0].data_location = TensorProto.EXTERNAL
    m.graph.initializer[0].ClearField("raw_data")
    m.graph.initializer[0].external_data.add(key="location", value="../../etc/passwd")
    evil.write_bytes(m.SerializeToString())
    with pytest.raises(Exception, match=r"evil.onnx.*\.\./\.\./etc/passwd"):
        ONNXTransformer(modelFile=str(evil), inputMapping={"x": "x"}, outputMapping={"y": "y"}).transform(df)


def test_bad_rows_become_reasons_and_the_job_goes_on(spark, tmp_path):
    path = str(tmp_path / "affine.onnx")
    _affine(path)
    df = spark.createDataFrame(
        [(0, [1.0, 2.0, 3.0]), (1, None), (2, [1.0, 2.0]), (3, [0.0, 0.0, 1.0])], "id int, x array<float>"
    )
    t = ONNXTransformer(modelFile=path, inputMapping={"x": "x"}, outputMapping={"y": "y"})
    rows = {r.id: r for r in t.transform(df).collect()}
    assert rows[0].y is not None and rows[3].y is not None
    assert rows[1].y is None and "null" in rows[1].y_error
    assert rows[2].y is None and "expected 3 values" in rows[2].y_error, rows[2].y_error


def test_a_failure_of_onnx_runtime_itself_fails_the_task_with_its_message(spark):
    # Reshape to 4 values: every row has 3, so ONNX Runtime fails each of them, alone too.
    m = _model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(np.array([-1, 4]), "shape")],
    )
    df = spark.createDataFrame([([1.0, 2.0, 3.0],), ([4.0, 5.0, 6.0],)], "x array<float>")
    t = ONNXTransformer(model=m.SerializeToString(), inputMapping={"x": "x"}, outputMapping={"y": "y"})
    with pytest.raises(Exception, match="ONNX Runtime: running the model failed"):
        t.transform(df).collect()


def test_image_stage_defaults_pipelines_and_sql(spark, tmp_path):
    """NCHW and RGB by default; saved in a PipelineModel with its bytes; registered as a SQL function."""
    from pyspark.ml import Pipeline, PipelineModel

    path = _means_model(tmp_path / "means.onnx")
    rgb = np.zeros((6, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 100, 200
    df = spark.createDataFrame([(0, sparkdl.imageArrayToStruct(rgb[:, :, ::-1]))], _image_schema())
    t = ONNXImageTransformer(inputCol="image", outputCol="means", modelFile=path, outputMode="array")
    assert t.getOrDefault(t.layout) == "NCHW" and t.getOrDefault(t.channelOrder) == "RGB"
    assert np.allclose(t.transform(df).collect()[0].means, [10, 100, 200])
    saved = str(tmp_path / "pipeline")
    Pipeline(stages=[t]).fit(df).write().overwrite().save(saved)
    os.remove(path)
    again = PipelineModel.load(saved)
    assert np.allclose(again.transform(df).collect()[0].means, [10, 100, 200])
    sparkdl.registerModel("channel_means", again)
    df.createOrReplaceTempView("pictures")
    row = spark.sql("SELECT channel_means(image) AS m FROM pictures").collect()[0]
    assert np.allclose(row.m, [10, 100, 200])


def test_mobilenet_v2_on_onnx_agrees_with_its_tensorflow_graph(spark, tmp_path):
    """The ONNX model is built natively from the same torchvision weights as the TensorFlow graph:
    features within a cosine of 0.9999 on the test photos, the same top-1."""
    images = sparkdl.readImages(copy_test_photos(tmp_path))
    feats, tops = {}, {}
    for engine in ("onnx", "tensorflow"):
        f = DeepImageFeaturizer(
            inputCol="image", outputCol="f", modelName="MobileNetV2", engine=engine, outputMode="array"
        )
        feats[engine] = {r.image.origin: np.array(r.f) for r in f.transform(images).collect()}
        p = DeepImagePredictor(inputCol="image", outputCol="p", modelName="MobileNetV2", engine=engine)
        tops[engine] = {r.image.origin: int(np.argmax(r.p.toArray())) for r in p.transform(images).collect()}
    for origin, a in feats["onnx"].items():
        b = feats["tensorflow"][origin]
        cosine = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        assert cosine >= 0.9999, (origin, cosine)
    assert tops["onnx"] == tops["tensorflow"]
    coffee = [o for o in tops["onnx"] if o.endswith("coffee.png")][0]
    assert tops["onnx"][coffee] == 967  # espresso


def _means_model(path):
    """image [batch, 3, h, w] -> per-channel means [batch, 3]."""
    m = _model(
        [helper.make_node("ReduceMean", ["image"], ["means"], axes=[2, 3], keepdims=0)],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, "h", "w"])],
        [helper.make_tensor_value_info("means", TensorProto.FLOAT, ["batch", 3])],
    )
    onnx.save(m, str(path))
    return str(path)


def _coloured_files(folder, n=3):
    """n red and n blue PNGs, and one file that is not an image."""
    from PIL import Image

    folder.mkdir()
    for cls, rgb in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        for i in range(n):
            Image.fromarray(np.full((20 + i, 24, 3), rgb, np.uint8)).save(folder / f"{cls}{i}.png")
    (folder / "notes.png").write_bytes(b"not an image at all")
    return folder


def test_structured_streaming_and_undecodable_files(spark, tmp_path):
    """binaryFile's stream through the ONNX stage: bad files get reasons, the stream goes on."""
    model = _means_model(tmp_path / "means.onnx")
    incoming = _coloured_files(tmp_path / "incoming")
    files = (
        spark.readStream.format("binaryFile")
        .option("maxFilesPerTrigger", 2)
        .schema("path string, modificationTime timestamp, length long, content binary")
        .load(str(incoming))
    )
    t = ONNXImageTransformer(inputCol="content", outputCol="m", modelFile=model, outputMode="array")
    query = (
        t.transform(files)
        .select("path", "m", "m_error")
        .writeStream.format("memory")
        .queryName("onnx_stream")
        .trigger(availableNow=True)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    try:
        query.awaitTermination()
        assert query.exception() is None
        rows = {os.path.basename(r.path): r for r in spark.sql("SELECT * FROM onnx_stream").collect()}
    finally:
        query.stop()
    assert len(rows) == 7
    assert rows["notes.png"].m is None and rows["notes.png"].m_error
    for name, r in rows.items():
        if name != "notes.png":
            assert r.m_error is None and ((r.m[0] > r.m[2]) == name.startswith("red")), (name, r)
            assert np.allclose(sorted(r.m), [30, 30, 200])


def test_the_cli_predicts_with_an_onnx_file(tmp_path):
    """`sparkdl predict --model model.onnx`: the index of the highest output and its value per
    image, bad files with their reason, preprocessing options checked."""
    import json
    import subprocess
    import sys

    # A 2-class "classifier": softmax over (mean red, mean blue) of the image scaled to [0, 1].
    m = _model(
        [
            helper.make_node("ReduceMean", ["image"], ["means"], axes=[2, 3], keepdims=0),
            helper.make_node("Gather", ["means", "idx"], ["rb"], axis=1),
            helper.make_node("Mul", ["rb", "ten"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["p"], axis=1),
        ],
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(np.array([0, 2], np.int64), "idx"), numpy_helper.from_array(np.float32(10), "ten")],
    )
    model = tmp_path / "colours.onnx"
    onnx.save(m, str(model))
    images = _coloured_files(tmp_path / "images")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)

    def cli(*args):
        cmd = [sys.executable, "-m", "sparkdl.cli", "predict", "--model", str(model), "--images", str(images), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)

    proc = cli("--output", str(tmp_path / "p.jsonl"), "--scale", str(1 / 255), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {}
    for f in os.listdir(tmp_path / "p.jsonl"):
        if f.endswith(".json"):
            for line in open(tmp_path / "p.jsonl" / f):
                r = json.loads(line)
                rows[os.path.basename(r["path"])] = r
    assert len(rows) == 7
    assert rows["notes.png"].get("prediction") is None and rows["notes.png"]["error"]
    for name, r in rows.items():
        if name != "notes.png":
            assert r["prediction"] == ("0" if name.startswith("red") else "1"), (name, r)
            assert r["probability"] > 0.99
    proc = cli("--output", str(tmp_path / "q.jsonl"), "--mean", "0.5,x", "--quiet")
    assert proc.returncode == 2 and "--mean: '0.5,x' is not a comma-separated list of numbers" in proc.stderr
