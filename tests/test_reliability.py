"""Faults and concurrency on real multi-JVM set-ups: an executor killed mid-job on the standalone
cluster, and many tasks and models at once in one executor."""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(script, *args, timeout=1800):
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable)
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-6000:]
    return json.loads(proc.stdout.split("RESULT ")[-1])


def test_an_executor_killed_mid_job_loses_no_row(standalone_cluster, tmp_path):
    out = run("fault_job.py", standalone_cluster.url, standalone_cluster.root, tmp_path)
    assert len(out["killed"]) == 1, out  # an executor JVM was killed during the job
    assert out["rows_clean"] == out["rows_faulty"] == out["files"] == 48
    assert out["identical"] is True and out["nulls"] == 0  # retried tasks gave the same features


def test_concurrent_tasks_and_models_in_one_executor(tmp_path):
    out = run("concurrency_job.py", tmp_path)
    assert out["tasks_at_once"] == 8, out  # eight tasks in the one JVM at once
    assert out["rows"] == out["rows_expected"] and out["wrong"] == 0, out  # both models, every row right
