#!/usr/bin/env bash
# Source this file: it finds libtensorflow in an installed TensorFlow Python
# package (tensorflow-cpu from PyPI, or the GPU build `tensorflow`) and exports
# what the Rust build and its tests need to link and load it:
#   SPARKDL_TENSORFLOW_LIB_DIR  the folder with libtensorflow_cc.so.2 and
#                               libtensorflow_framework.so.2
#   PKG_CONFIG_PATH             a generated tensorflow.pc, so that the crate
#                               tensorflow-sys links these libraries and never
#                               tries to download a prebuilt libtensorflow
#   LD_LIBRARY_PATH             so cargo's test binaries find them at run time
# Override the lookup with SPARKDL_TENSORFLOW_LIB_DIR or SPARKDL_PYTHON.
_sparkdl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_sparkdl_py="${SPARKDL_PYTHON:-$_sparkdl_root/.venv/bin/python}"
[ -x "$_sparkdl_py" ] || _sparkdl_py="$(command -v python3)"
if [ -z "${SPARKDL_TENSORFLOW_LIB_DIR:-}" ]; then
  SPARKDL_TENSORFLOW_LIB_DIR="$("$_sparkdl_py" -c 'import importlib.util as u; s = u.find_spec("tensorflow"); print(s.submodule_search_locations[0] if s else "")' 2>/dev/null)"
fi
if [ ! -f "$SPARKDL_TENSORFLOW_LIB_DIR/libtensorflow_cc.so.2" ]; then
  echo "tf-env.sh: no libtensorflow_cc.so.2 found (looked in '${SPARKDL_TENSORFLOW_LIB_DIR}')." >&2
  echo "  Install it with: $_sparkdl_py -m pip install tensorflow-cpu==2.21.0" >&2
  echo "  or point SPARKDL_TENSORFLOW_LIB_DIR at a folder holding libtensorflow_cc.so.2." >&2
  return 1 2>/dev/null || exit 1
fi
export SPARKDL_TENSORFLOW_LIB_DIR
_sparkdl_pc="$_sparkdl_root/target/tensorflow-pc"
mkdir -p "$_sparkdl_pc"
ln -sf "$SPARKDL_TENSORFLOW_LIB_DIR/libtensorflow_cc.so.2" "$_sparkdl_pc/libtensorflow.so"
ln -sf "$SPARKDL_TENSORFLOW_LIB_DIR/libtensorflow_framework.so.2" "$_sparkdl_pc/libtensorflow_framework.so"
cat > "$_sparkdl_pc/tensorflow.pc" <<PC
Name: tensorflow
Description: TensorFlow C API from the tensorflow Python wheel ($SPARKDL_TENSORFLOW_LIB_DIR)
Version: 2.21.0
Libs: -L$_sparkdl_pc -ltensorflow -ltensorflow_framework
Cflags: -I$SPARKDL_TENSORFLOW_LIB_DIR/include
PC
# Added once: sourcing this again (make, then sbt's cargo) must leave PKG_CONFIG_PATH as it was,
# or cargo sees it changed and rebuilds every crate whose build script runs pkg-config.
case ":${PKG_CONFIG_PATH:-}:" in
  *":$_sparkdl_pc:"*) ;;
  *) export PKG_CONFIG_PATH="$_sparkdl_pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" ;;
esac
case ":${LD_LIBRARY_PATH:-}:" in
  *":$SPARKDL_TENSORFLOW_LIB_DIR:"*) ;;
  *) export LD_LIBRARY_PATH="$SPARKDL_TENSORFLOW_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
esac
unset _sparkdl_root _sparkdl_py _sparkdl_pc
