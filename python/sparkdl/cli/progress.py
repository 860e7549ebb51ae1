"""Progress of long Spark work, fed by Spark's job and stage progress (the status tracker).

On a terminal: one redrawn line with a bar, images done of total (estimated from the finished
tasks of the running stages), the rate and the time left. Otherwise (a log file, CI): a line when
each phase starts, a line when it ends (images, elapsed time, rate), and a progress line every
``interval`` seconds in between; so a log says what ran however fast it ran. ``quiet``: nothing.
"""

import sys
import threading
import time
from typing import Any, Callable, Optional, TextIO

_WIDTH = 160


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class SparkProgress:
    """Progress lines for ``with SparkProgress(spark, n) as p: p.set_phase(...); ...``.

    ``tracker`` (default: the SparkContext's status tracker) needs ``getActiveStageIds()`` and
    ``getStageInfo(id)`` (with ``numTasks``, ``numCompletedTasks``); ``clock`` gives seconds.
    Both are parameters so the lines can be tested without Spark and without waiting.
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
        self.tracker = tracker if tracker is not None else spark.sparkContext.statusTracker()
        self.total: Optional[int] = max(1, int(total_images))
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._plain = not quiet and not self.tty  # phase lines only in a log, never with --quiet
        self.interval = interval if interval is not None else (0.5 if self.tty else 10.0)
        self.clock = clock
        self.phase = "starting"
        self._open = False  # a phase was started and has not ended
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
            self._phase_started = self.clock()
            self._open = True
            if self._plain:
                self._write(f"{name}: started" + (f", {self.total} images" if self.total is not None else ""))

    def end_phase(self, failed: bool = False) -> None:
        """Writes the line that ends the current phase (plain mode); nothing when none is open."""
        with self._lock:
            if not self._open:
                return
            self._open = False
            if not self._plain:
                return
            elapsed = max(0.0, self.clock() - self._phase_started)
            if failed:
                self._write(f"{self.phase}: failed after {_duration(elapsed)}")
            elif self.total is None:
                self._write(f"{self.phase}: done in {_duration(elapsed)}")
            else:
                rate = f"{self.total / elapsed:.1f} img/s" if elapsed > 0 else "-- img/s"
                self._write(f"{self.phase}: done, {self.total} images in {_duration(elapsed)} ({rate})")

    def _completed_tasks(self):
        done = total = 0
        for sid in self.tracker.getActiveStageIds():
            info = self.tracker.getStageInfo(sid)
            if info is not None:
                done += info.numCompletedTasks
                total += info.numTasks
        return done, total

    def snapshot(self) -> str:
        done, total = self._completed_tasks()
        fraction = done / total if total else 0.0
        bar = "#" * int(fraction * 24)
        tasks = f"(tasks {done}/{total})"
        if self.total is None:
            return f"[{bar:<24}] {self.phase}: {tasks}"
        images = int(fraction * self.total)
        elapsed = self.clock() - self._phase_started
        rate = images / elapsed if elapsed > 0 else 0.0
        left = (self.total - images) / rate if rate > 0 else None
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if left is not None else "--:--"
        return f"[{bar:<24}] {self.phase}: {images}/{self.total} images, {rate:.1f} img/s, {eta} left {tasks}"

    def tick(self) -> None:
        """One progress line now (the polling thread calls this every ``interval`` seconds);
        nothing between phases, whose numbers would be stale."""
        if not self._open:
            return
        line = self.snapshot()
        with self._lock:
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
            if self.tty:
                self.stream.write("\r" + " " * _WIDTH + "\r")
                self.stream.flush()
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
