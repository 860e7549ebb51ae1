"""PyTorch's legacy (non-zip) ``torch.save`` format, read and written without torch.

The format: five pickles in a row (a magic number, the protocol version, system info, the
object, and the list of storage keys), then each storage's raw little-endian bytes preceded by
its element count (8 bytes). Tensors in the object are ``torch._utils._rebuild_tensor_v2``
calls over storages given as persistent ids. The reader executes no code: only the globals a
state dict uses are allowed, and they are mapped to plain Python values.

sparkdl's native library has its own reader (Rust) for building models; this one makes test
fixtures (e.g. MobileNetV2 with random weights) and cross-checks it.
"""

import collections
import io
import pickle
import sys
import types
from typing import Dict

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "HalfStorage": np.float16,
    "ByteStorage": np.uint8,
}


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


class _Reader(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, size, stride, *rest: _Tensor(storage, offset, size, stride)
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"refused global {module}.{name}: not part of a state dict")

    def persistent_load(self, pid):
        kind, dtype_name, key, _location, numel = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r}")
        return (key, dtype_name, numel)


def read_state_dict(path: str) -> Dict[str, np.ndarray]:
    with open(path, "rb") as f:
        if _Reader(f).load() != MAGIC:
            raise ValueError(f"{path}: not a legacy torch.save file (bad magic number)")
        if _Reader(f).load() != PROTOCOL:
            raise ValueError(f"{path}: unsupported torch.save protocol")
        _Reader(f).load()  # system info
        obj = _Reader(f).load()
        keys = _Reader(f).load()
        storages = {}
        for key in keys:
            count = int.from_bytes(f.read(8), "little")
            dtype = next(
                np.dtype(_DTYPES[t.storage[1]]) for t in obj.values() if isinstance(t, _Tensor) and t.storage[0] == key
            )
            storages[key] = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
    out = {}
    for name, t in obj.items():
        data = storages[t.storage[0]]
        n = int(np.prod(t.size)) if t.size else 1
        out[name] = data[t.offset : t.offset + n].reshape(t.size).copy()
    return out


def _fake_torch_module():
    """Modules named like torch's, so that ``pickle`` writes the globals a state dict uses."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
        raise RuntimeError("not callable")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in _DTYPES:
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    return torch, utils


def write_state_dict(path: str, tensors: Dict[str, np.ndarray]) -> None:
    """Writes ``tensors`` (C-contiguous float32/int64 arrays) as a legacy ``torch.save``."""
    torch, utils = _fake_torch_module()
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        arrays = {name: np.require(a, requirements="C") for name, a in tensors.items()}  # keeps 0-d
        keys = [str(i) for i in range(len(arrays))]
        storage_type = {np.dtype(v): getattr(torch, k) for k, v in _DTYPES.items()}

        class _Storage:
            def __init__(self, key, array):
                self.key, self.array = key, array

        class _TensorRef:
            def __init__(self, storage):
                self.storage = storage

            def __reduce__(self):
                a = self.storage.array
                strides = tuple(s // a.itemsize for s in a.strides)
                return (utils._rebuild_tensor_v2, (self.storage, 0, a.shape, strides, False, collections.OrderedDict()))

        class _Writer(pickle.Pickler):
            def persistent_id(self, obj):
                if isinstance(obj, _Storage):
                    return ("storage", storage_type[obj.array.dtype], obj.key, "cpu", obj.array.size, None)
                return None

        state = collections.OrderedDict(
            (name, _TensorRef(_Storage(key, a))) for key, (name, a) in zip(keys, arrays.items())
        )
        buf = io.BytesIO()
        for value in (MAGIC, PROTOCOL, {"protocol_version": PROTOCOL, "little_endian": True}):
            pickle.dump(value, buf, protocol=2)
        _Writer(buf, protocol=2).dump(state)
        pickle.dump(keys, buf, protocol=2)
        for a in arrays.values():
            buf.write(int(a.size).to_bytes(8, "little"))
            buf.write(a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
        with open(path, "wb") as f:
            f.write(buf.getvalue())
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


def random_like(state: Dict[str, np.ndarray], seed: int = 0) -> Dict[str, np.ndarray]:
    """torchvision's initialisation of MobileNetV2-like nets: He-normal (fan-out) convolutions,
    BatchNorm scale 1 / shift 0 / mean 0 / var 1, linear layers N(0, 0.01), zero biases."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, a in state.items():
        if a.dtype.kind != "f":
            out[name] = np.zeros_like(a)
        elif name.endswith("running_var"):
            out[name] = np.ones_like(a)
        elif a.ndim == 4:  # conv kernel (out, in, kh, kw)
            fan_out = a.shape[0] * a.shape[2] * a.shape[3]
            out[name] = rng.normal(0, np.sqrt(2.0 / fan_out), a.shape).astype(a.dtype)
        elif a.ndim == 2:  # linear (out, in)
            out[name] = rng.normal(0, 0.01, a.shape).astype(a.dtype)
        elif name.endswith("weight"):  # BatchNorm scale
            out[name] = np.ones_like(a)
        else:  # biases, BatchNorm shift/mean
            out[name] = np.zeros_like(a)
    return out
