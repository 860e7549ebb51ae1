"""A real Spark standalone cluster for the tests: a master and two workers on 127.0.0.1, started
with `spark-class` from the `pyspark` wheel, each worker with one core, so a job's tasks run in
two separate executor JVMs (and Python workers) as on a cluster of machines. Stopped, with
everything it started, when the tests are done, also after a failure."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import List, Optional

STARTUP_DEADLINE_S = 300  # a bound on a slow machine's start-up, not an expected time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_class() -> str:
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-class")


class StandaloneCluster:
    def __init__(self, root: str, workers: int = 2, worker_memory: str = "3g") -> None:
        self.root = root
        self.port = free_port()
        self.ui_port = free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.procs: List[subprocess.Popen] = []
        self.workers = workers
        self.worker_memory = worker_memory
        self.worker_pids: List[int] = []

    def _env(self) -> dict:
        env = dict(os.environ)
        env.update(
            {
                "SPARK_LOCAL_IP": "127.0.0.1",
                "SPARK_LOG_DIR": os.path.join(self.root, "logs"),
                "SPARK_WORKER_DIR": os.path.join(self.root, "work"),
                "PYSPARK_PYTHON": sys.executable,
                "SPARK_NO_DAEMONIZE": "1",
            }
        )
        return env

    def _spawn(self, name: str, args: List[str]) -> subprocess.Popen:
        log = open(os.path.join(self.root, f"{name}.log"), "w")
        p = subprocess.Popen(
            [spark_class()] + args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
            start_new_session=True,
            cwd=self.root,
        )
        self.procs.append(p)
        return p

    def start(self) -> "StandaloneCluster":
        os.makedirs(os.path.join(self.root, "work"), exist_ok=True)
        self._spawn(
            "master",
            [
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--webui-port",
                str(self.ui_port),
            ],
        )
        for i in range(self.workers):
            w = self._spawn(
                f"worker{i}",
                [
                    "org.apache.spark.deploy.worker.Worker",
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    "1",
                    "--memory",
                    self.worker_memory,
                    "--webui-port",
                    "0",
                    "--work-dir",
                    os.path.join(self.root, "work", f"w{i}"),
                    self.url,
                ],
            )
            self.worker_pids.append(w.pid)
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while self.alive_workers() < self.workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                logs = "".join(
                    open(os.path.join(self.root, f)).read()[-2000:] for f in os.listdir(self.root) if f.endswith(".log")
                )
                self.stop()
                raise RuntimeError(f"the standalone cluster did not start:\n{logs}")
            time.sleep(0.5)
        return self

    def status(self) -> Optional[dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def alive_workers(self) -> int:
        s = self.status()
        return int(s.get("aliveworkers", 0)) if s else 0

    def executor_pids(self) -> List[int]:
        """The executor JVMs the workers started (CoarseGrainedExecutorBackend processes)."""
        out = subprocess.run(["pgrep", "-f", "CoarseGrainedExecutorBackend"], capture_output=True, text=True).stdout
        pids = []
        for pid in out.split():
            try:
                cwd = os.readlink(f"/proc/{pid}/cwd")  # workers start executors in their work folders
            except OSError:
                continue
            if cwd.startswith(self.root):
                pids.append(int(pid))
        return pids

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        # Executors the workers started (their own process groups), found by the cluster's folder.
        left = subprocess.run(["pgrep", "-f", self.root], capture_output=True, text=True).stdout.split()
        for pid in left:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


# Spark confs of an application on the cluster: one 1-core executor per worker.
CLUSTER_APP_CONF = {
    "spark.executor.cores": "1",
    "spark.executor.memory": "1500m",
    "spark.cores.max": "2",
    "spark.pyspark.python": sys.executable,
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
