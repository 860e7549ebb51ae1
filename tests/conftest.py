"""Fixtures of the cross-process tests: a Spark standalone cluster on 127.0.0.1, started once for
the test session, stopped at its end (also on failure)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster import StandaloneCluster  # noqa: E402


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory):
    cluster = StandaloneCluster(str(tmp_path_factory.mktemp("standalone"))).start()
    try:
        yield cluster
    finally:
        cluster.stop()
        assert cluster.alive_workers() == 0 and cluster.status() is None, "the standalone cluster did not stop"
