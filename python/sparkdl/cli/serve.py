"""``sparkdl serve-sql`` and ``sparkdl serve-connect``: Spark's Thrift JDBC/ODBC server and Spark
Connect server (both ship in the ``pyspark`` wheel), started with spark-submit, with the sparkdl
jar, its SQL extension and users' models, bound to 127.0.0.1 unless told otherwise. They run in
the foreground until interrupted (Ctrl-C, SIGTERM), and stop their JVM when they go.
"""

import os
import signal
import subprocess
import sys
import tempfile
from typing import Dict, List

from sparkdl.cli import EXIT_USAGE, CliError

THRIFT_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def spark_submit() -> str:
    import pyspark

    return os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")


def _settings(args) -> Dict[str, str]:
    from sparkdl._jvm import _session_settings
    from sparkdl.cli.jobs import _conf

    conf = _conf(args.conf)
    models = [m for m in args.model or []]
    for m in models:
        if "=" not in m:
            raise CliError(
                f"--model: expected NAME=PATH (a saved sparkdl stage or PipelineModel), got '{m}'", EXIT_USAGE
            )
    if models:
        existing = conf.get("spark.sparkdl.sql.models", "")
        conf["spark.sparkdl.sql.models"] = ",".join([x for x in [existing] if x] + models)
    try:
        return _session_settings(conf, args.master)
    except FileNotFoundError as e:  # the jar
        raise CliError(str(e))


def command(args, kind: str) -> List[str]:
    """The spark-submit command line of a server."""
    settings = _settings(args)
    state = args.state_dir or tempfile.mkdtemp(prefix=f"sparkdl-{kind}-")
    settings.setdefault("spark.sql.warehouse.dir", os.path.join(state, "warehouse"))
    cmd = [spark_submit(), "--master", args.master, "--name", f"sparkdl {kind}-server"]
    for k, v in settings.items():
        cmd += ["--conf", f"{k}={v}"]
    if kind == "sql":
        cmd += [
            "--class",
            THRIFT_CLASS,
            "spark-internal",
            "--hiveconf",
            f"hive.server2.thrift.port={args.port}",
            "--hiveconf",
            f"hive.server2.thrift.bind.host={args.host}",
            "--hiveconf",
            "javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName="
            + os.path.join(state, "metastore_db")
            + ";create=true",
        ]
    else:
        cmd += [
            "--conf",
            f"spark.connect.grpc.binding.port={args.port}",
            "--conf",
            f"spark.connect.grpc.binding.address={args.host}",
            "--class",
            CONNECT_CLASS,
            "spark-internal",
        ]
    return cmd


def serve(args, kind: str) -> int:
    cmd = command(args, kind)
    what = "Thrift JDBC/ODBC server" if kind == "sql" else "Spark Connect server"
    url = f"jdbc:hive2://{args.host}:{args.port}/default" if kind == "sql" else f"sc://{args.host}:{args.port}"
    print(f"sparkdl: starting the {what} on {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    env = dict(os.environ, PYSPARK_PYTHON=os.environ.get("PYSPARK_PYTHON", sys.executable))
    proc = subprocess.Popen(cmd, env=env, cwd=args.state_dir or None, start_new_session=True)

    def stop(signum, _frame):
        # The whole process group: spark-submit's JVM and anything it started.
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return proc.wait()
    finally:
        if proc.poll() is None:
            stop(signal.SIGTERM, None)
            proc.wait()
