"""Progress of long Spark work, counted in images: the rows that went through sparkdl's model
operator in the phase's Spark jobs, read from Spark's status store.

On a terminal: one redrawn line with a bar, images done of the phase's total, the rate and the
time left; when the phase ends, the bar at 100% stays as a line. Otherwise (a log file, CI): a
line when each phase starts, a line when it ends (images, elapsed time, rate), and a progress line
every ``interval`` seconds in between; so a log says what ran however fast it ran. ``quiet``:
nothing. Within a phase the count only moves forward (a phase runs several Spark jobs; a later
job never sets it back) and never passes the phase's total.
"""

import itertools
import re
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, TextIO

_WIDTH = 160
_BAR = 24
_OPERATOR = "NativeEval"  # the physical operator that runs a model (org.sparkdl.plan.NativeEvalExec)
_phase_ids = itertools.count(1)
# An RDD of that operator in a stage's operator graph (RDDOperationGraph.makeDotFile): the first
# node of its cluster, e.g. `label="NativeEval"; 3 [id="node_3" ... label="MapPartitionsRDD [3]<br>...`.
_MODEL_RDD = re.compile(r'label="' + _OPERATOR + r'";\s*\d+ \[id="node_\d+"[^\]]*?label="\w+ \[(\d+)\]')


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class SparkStatus:
    """How many images the current phase's Spark jobs have put through a model, from Spark's
    status store (what Spark's UI shows).

    A phase's jobs are those of a job group, set on the calling thread (so on the jobs that the
    JVM calls made from it start). A model stage is the first stage (not skipped) of the phase
    that computes a given RDD of sparkdl's model operator (a cluster "NativeEval" in the stage's
    operator graph; later stages that read those rows from a cache show the same RDD and are not
    counted again). Its images are the rows it moved on (shuffle read or written, output written),
    as its tasks finish; a model stage that reads its rows from a cache and hands them on to the
    driver shows no row count, and counts the fraction of its tasks done of the images not counted
    yet. A phase without a model stage (no model runs) counts the fraction of its tasks done."""

    def __init__(self, spark: Any) -> None:
        self.sc = spark.sparkContext
        self.tracker = self.sc.statusTracker()
        self.store = self.sc._jsc.sc().statusStore()
        self.graph = self.sc._jvm.org.apache.spark.ui.scope.RDDOperationGraph
        self.group: Optional[str] = None
        self._jobs: Dict[int, List[int]] = {}
        self._model_rdds: Dict[int, List[int]] = {}  # stage id -> the model operator's RDDs in it
        self._owner: Dict[int, int] = {}  # model RDD id -> the phase's stage that computed it
        self._finished: Dict[int, tuple] = {}  # stage id -> its numbers, once it is over

    def begin(self, name: str) -> None:
        self.group = f"sparkdl-phase-{next(_phase_ids)}"
        self._jobs.clear()
        self._owner.clear()
        self._finished.clear()
        self.sc.setJobGroup(self.group, name)

    def end(self) -> None:
        if self.group is not None:
            self.sc._jsc.clearJobGroup()
            self.group = None

    def _rdds(self, sid: int) -> Optional[List[int]]:
        known = self._model_rdds.get(sid)
        if known is None:
            try:
                dot = str(self.graph.makeDotFile(self.store.operationGraphForStage(sid)))
            except Exception:  # not (yet) in the store
                return None
            known = [int(i) for i in _MODEL_RDD.findall(dot)]
            self._model_rdds[sid] = known
        return known

    def _stage(self, sid: int) -> Optional[tuple]:
        """(status, rows moved on, tasks done, tasks) of the stage's last attempt."""
        done = self._finished.get(sid)
        if done is not None:
            return done
        try:
            s = self.store.lastStageAttempt(sid)
        except Exception:  # not (yet, or no longer) in the store
            return None
        status = str(s.status())
        rows = max(s.shuffleReadRecords(), s.shuffleWriteRecords(), s.outputRecords())
        out = (status, rows, s.numCompleteTasks(), s.numTasks())
        if status in ("COMPLETE", "SKIPPED", "FAILED"):
            self._finished[sid] = out
        return out

    def progress(self, total: int) -> int:
        """Images of ``total`` the phase has put through a model so far (an estimate between
        task ends; it may pass ``total`` where rows are counted twice, which the caller caps)."""
        if self.group is None:
            return 0
        for jid in self.tracker.getJobIdsForGroup(self.group):
            if jid not in self._jobs:
                info = self.tracker.getJobInfo(jid)
                if info is not None:
                    self._jobs[jid] = list(info.stageIds)
        images = 0.0
        models = done = tasks = 0
        for sid in sorted({s for stages in self._jobs.values() for s in stages}):
            stage = self._stage(sid)
            if stage is None or stage[0] in ("PENDING", "SKIPPED"):
                continue
            status, rows, stage_done, stage_tasks = stage
            done += stage_done
            tasks += stage_tasks
            rdds = self._rdds(sid) or []
            for r in rdds:
                self._owner.setdefault(r, sid)
            if not any(self._owner[r] == sid for r in rdds):
                continue
            models += 1
            if rows > 0:
                images += rows
            elif stage_tasks:
                images += stage_done / stage_tasks * max(0.0, total - images)
        if models == 0:
            return int(total * done / tasks) if tasks else 0
        return int(images)


class SparkProgress:
    """Progress lines for ``with SparkProgress(spark, n) as p: p.set_phase(...); ...``.

    ``tracker`` (default: :class:`SparkStatus` of ``spark``) needs ``begin(name)``, ``end()`` and
    ``progress(total)`` (images of ``total`` done in the phase so far); ``clock`` gives seconds. Both are parameters so the lines can be tested
    without Spark and without waiting.
    """

    def __init__(
        self,
        spark: Any,
        total_images: int,
        quiet: bool = False,
        stream: Optional[TextIO] = None,
        interval: Optional[float] = None,
        tracker: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker if tracker is not None else SparkStatus(spark)
        self.total: Optional[int] = max(1, int(total_images))
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._plain = not quiet and not self.tty  # phase lines only in a log, never with --quiet
        self.interval = interval if interval is not None else (0.5 if self.tty else 10.0)
        self.clock = clock
        self.phase = "starting"
        self._open = False  # a phase was started and has not ended
        self._done = 0  # images done in the phase: only grows
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._phase_started = clock()
        self._lock = threading.Lock()  # the polling thread and the caller both write
        self.lines_written = 0

    def set_phase(self, name: str, images: Optional[int] = None) -> None:
        """Ends the current phase (if any) and starts ``name``, whose progress starts from zero.
        ``images``: how many images it works through (None: a phase without images, e.g. saving)."""
        self.end_phase()
        with self._lock:
            self.phase = name
            self.total = max(1, int(images)) if images is not None else None
            self._done = 0
            self._phase_started = self.clock()
            self._open = True
            if not self.quiet:
                self.tracker.begin(name)
            if self._plain:
                self._write(f"{name}: started" + (f", {self.total} images" if self.total is not None else ""))

    def end_phase(self, failed: bool = False) -> None:
        """Ends the current phase: in a log its closing line; on a terminal the bar at 100% (or the
        point where it failed) stays as a line. Nothing when no phase is open."""
        with self._lock:
            if not self._open:
                return
            self._open = False
            if not self.quiet:
                self.tracker.end()
            if self.quiet:
                return
            elapsed = max(0.0, self.clock() - self._phase_started)
            if failed:
                line = f"{self.phase}: failed after {_duration(elapsed)}"
                if self.total is not None:
                    line += f" ({self._done}/{self.total} images)"
            elif self.total is None:
                line = f"{self.phase}: done in {_duration(elapsed)}"
            else:
                self._done = self.total
                rate = f"{self.total / elapsed:.1f} img/s" if elapsed > 0 else "-- img/s"
                line = f"{self.phase}: done, {self.total} images in {_duration(elapsed)} ({rate})"
            if self.tty:
                bar = f"[{'#' * _BAR}] " if self.total is not None and not failed else ""
                self.stream.write("\r" + (bar + line).ljust(_WIDTH) + "\n")
                self.stream.flush()
                self.lines_written += 1
            else:
                self._write(line)

    def images_done(self) -> int:
        """Images done in the phase: the tracker's count, never less than before, never more than
        the phase's total (rows read twice, e.g. from a cache, are not counted past it)."""
        if self.total is None:
            return 0
        self._done = min(self.total, max(self._done, int(self.tracker.progress(self.total))))
        return self._done

    def snapshot(self) -> str:
        elapsed = max(0.0, self.clock() - self._phase_started)
        if self.total is None:
            return f"{self.phase}: {_duration(elapsed)}"
        images = self.images_done()
        bar = "#" * int(images / self.total * _BAR)
        rate = images / elapsed if elapsed > 0 else 0.0
        left = (self.total - images) / rate if rate > 0 else None
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if left is not None else "--:--"
        return f"[{bar:<{_BAR}}] {self.phase}: {images}/{self.total} images, {rate:.1f} img/s, {eta} left"

    def tick(self) -> None:
        """One progress line now (the polling thread calls this every ``interval`` seconds);
        nothing between phases, whose numbers would be stale."""
        with self._lock:
            if not self._open:
                return
            line = self.snapshot()
            if self.tty:
                self.stream.write("\r" + line[:_WIDTH].ljust(_WIDTH))
                self.stream.flush()
                self.lines_written += 1
            else:
                self._write(line)

    def _write(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self.lines_written += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # the context is stopping
                return

    def __enter__(self) -> "SparkProgress":
        if not self.quiet:
            self._thread = threading.Thread(target=self._run, name="sparkdl-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.end_phase(failed=exc_type is not None)

    def log(self, message: str) -> None:
        """A line for the user (kept apart from the progress line)."""
        if self.quiet:
            return
        with self._lock:
            if self.tty:
                self.stream.write("\r" + " " * _WIDTH + "\r")
            self.stream.write(message + "\n")
            self.stream.flush()
