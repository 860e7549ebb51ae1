"""The command line's own lines only: what the CLI's Spark session is started with so that the
libraries under it (Spark's log4j, libtensorflow's absl logging, the JVM, netlib's BLAS loader,
PySpark's pandas check) do not print their banners and warnings on a run that goes well.

Nothing here changes what runs or how: only what is logged, and only in the ``sparkdl`` command
(``sparkdl.session()`` for library users is unchanged); ``--verbose`` leaves it all as it was.

- Spark: a log4j2 configuration for the driver with the root logger at ERROR (WARN and INFO
  lines hidden, errors shown), given before the JVM starts, so no line escapes before it
  applies (not even "Using Spark's default log4j profile").
- libtensorflow, loaded inside the JVM: ``TF_CPP_MIN_LOG_LEVEL=2`` in the environment the JVM
  inherits (INFO and WARNING hidden; ERROR and FATAL shown). ``TF_ENABLE_ONEDNN_OPTS`` is left
  alone: it changes numerics, not logging.
- The JVM's stderr goes through a filter that drops the lines nothing else can silence: the
  JVM's "Using incubator modules" (Spark's launcher always adds jdk.incubator.vector), netlib's
  "JNI_OnLoad: dlopen(libblas.so.3) failed" (printed by its native loader with fprintf; the
  native BLAS is still tried, as without the CLI) and absl's "before absl::InitializeLog()"
  preamble. Every other line passes through as it comes (a JVM crash, an error, a Python worker's
  traceback), so a failure's cause is never among what is dropped.
- PySpark's FutureWarning about pandas >= 3 (a version check, not a problem of this run).
"""

import os
import re
import sys
import threading
import warnings
from typing import Dict, Optional

LOG4J2 = """\
# sparkdl CLI: Spark's own lines only when something is wrong (sparkdl --verbose: Spark's defaults)
rootLogger.level = error
# PySpark's gateway sets the shell's level from its own logger's: the same as the root's, so Spark
# does not announce "Setting default log level to WARN"
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
# MLlib's Instrumentation logs an ERROR with the stack trace of every exception out of fit() or
# load() before rethrowing it; the CLI reports that same exception (its message, exit code).
logger.instrumentation.name = org.apache.spark.ml.util.Instrumentation
logger.instrumentation.level = off
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex
"""

# Whole lines the filter drops: each a known, harmless banner (see the module's text).
NOISE = re.compile(
    r"^(WARNING: Using incubator modules: jdk\.incubator\.vector"
    r"|netlib-(blas|lapack|arpack): JNI_OnLoad: dlopen\(.*\) failed: .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)$"
)

TF_LOG_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def python_warnings() -> None:
    warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas", category=FutureWarning)


def environment() -> None:
    """The engines' log levels for a JVM started after this (a user's own setting wins)."""
    for k, v in TF_LOG_ENV.items():
        os.environ.setdefault(k, v)


def java_options(conf: Dict[str, str], folder: str) -> Dict[str, str]:
    """``conf`` with the driver's log4j2 configuration (written into ``folder``) added to
    ``spark.driver.extraJavaOptions``; unchanged where the user gives a log4j2 configuration."""
    key = "spark.driver.extraJavaOptions"
    given = conf.get(key, "")
    if "log4j2.configurationFile" in given or "log4j.configurationFile" in given:
        return conf
    path = os.path.join(folder, "log4j2-sparkdl-cli.properties")
    with open(path, "w", encoding="utf-8") as f:
        f.write(LOG4J2)
    return {**conf, key: f"{given} -Dlog4j2.configurationFile=file:{path}".strip()}


def _pump(fd: int, out) -> None:
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace", newline="") as lines:
        for line in lines:
            if NOISE.match(line.rstrip("\r\n")):
                continue
            try:
                out.write(line)
                out.flush()
            except (OSError, ValueError):  # our stderr is gone: keep draining the JVM's
                pass


class FilteredStderr:
    """``with FilteredStderr(): <start the JVM>``: processes started inside inherit a stderr
    that goes through the filter (a pipe read by a thread of this process); this process's own
    stderr is what it was before and after."""

    def __init__(self, out=None) -> None:
        self.out = out
        self.thread: Optional[threading.Thread] = None  # the reader; it ends when every writer has
        self._saved: Optional[int] = None

    def __enter__(self) -> "FilteredStderr":
        try:
            sys.stderr.flush()
            r, w = os.pipe()
            self._saved = os.dup(2)
            # The kept lines go to this process's stderr as it was, not to fd 2 (the pipe, for now).
            out = self.out or os.fdopen(os.dup(self._saved), "w", encoding="utf-8", errors="replace")
        except OSError:  # no stderr to replace: leave it
            return self
        os.dup2(w, 2)
        os.close(w)
        self.thread = threading.Thread(target=_pump, args=(r, out), name="sparkdl-jvm-stderr", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            sys.stderr.flush()
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
