#!/usr/bin/env bash
# Source this file: it finds the two model runtimes sparkdl's native library loads at run time
# (it links neither) in the project's Python environment, for the Rust tests and benches:
#   SPARKDL_TENSORFLOW_LIB_DIR  the folder with libtensorflow_cc.so.2 and libtensorflow_framework.so.2
#                               (the tensorflow-cpu wheel, or the GPU build `tensorflow`)
#   SPARKDL_ONNXRUNTIME_LIB     libonnxruntime.so.1.* of the onnxruntime wheel
# Override the lookup with those variables or SPARKDL_PYTHON.
_sparkdl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sparkdl_py="${SPARKDL_PYTHON:-$_sparkdl_root/.venv/bin/python}"
[ -x "$_sparkdl_py" ] || _sparkdl_py="$(command -v python3)"
_sparkdl_pkg() {
  "$_sparkdl_py" -c "import importlib.util as u; s = u.find_spec('$1'); print(s.submodule_search_locations[0] if s else '')" 2>/dev/null
}
if [ -z "${SPARKDL_TENSORFLOW_LIB_DIR:-}" ]; then
  SPARKDL_TENSORFLOW_LIB_DIR="$(_sparkdl_pkg tensorflow)"
fi
if [ ! -f "$SPARKDL_TENSORFLOW_LIB_DIR/libtensorflow_cc.so.2" ]; then
  echo "engine-env.sh: no libtensorflow_cc.so.2 found (looked in '${SPARKDL_TENSORFLOW_LIB_DIR}')." >&2
  echo "  Install it with: $_sparkdl_py -m pip install tensorflow-cpu==2.21.0" >&2
  echo "  or point SPARKDL_TENSORFLOW_LIB_DIR at a folder holding libtensorflow_cc.so.2." >&2
  return 1 2>/dev/null || exit 1
fi
if [ -z "${SPARKDL_ONNXRUNTIME_LIB:-}" ]; then
  SPARKDL_ONNXRUNTIME_LIB="$(ls "$(_sparkdl_pkg onnxruntime)"/capi/libonnxruntime.so.1.* 2>/dev/null | head -n 1)"
fi
if [ ! -f "$SPARKDL_ONNXRUNTIME_LIB" ]; then
  echo "engine-env.sh: no libonnxruntime.so.1.* found (looked at '${SPARKDL_ONNXRUNTIME_LIB}')." >&2
  echo "  Install it with: $_sparkdl_py -m pip install onnxruntime==1.32.0" >&2
  echo "  or point SPARKDL_ONNXRUNTIME_LIB at the library file." >&2
  return 1 2>/dev/null || exit 1
fi
export SPARKDL_TENSORFLOW_LIB_DIR SPARKDL_ONNXRUNTIME_LIB
unset -f _sparkdl_pkg
unset _sparkdl_root _sparkdl_py
