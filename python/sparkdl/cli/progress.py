"""Progress of long Spark work, fed by Spark's job and stage progress (the status tracker).

On a terminal: one redrawn line with a bar, images done of total (estimated from the finished
tasks of the running stages), the rate and the time left. Otherwise (a log file, CI): a plain
line every ``interval`` seconds. ``quiet``: nothing.
"""

import sys
import threading
import time
from typing import Optional, TextIO


class SparkProgress:
    def __init__(self, spark, total_images: int, quiet: bool = False, stream: Optional[TextIO] = None,
                 interval: Optional[float] = None) -> None:
        self.sc = spark.sparkContext
        self.total = max(1, int(total_images))
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval if interval is not None else (0.5 if self.tty else 10.0)
        self.phase = "starting"
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = time.time()
        self._phase_started = self._started
        self.lines_written = 0

    def set_phase(self, name: str, images: Optional[int] = None) -> None:
        """A new phase (e.g. "featurizing 2,624 images"), whose progress starts from zero."""
        self.phase = name
        if images is not None:
            self.total = max(1, int(images))
        self._phase_started = time.time()

    def _completed_tasks(self):
        tracker = self.sc.statusTracker()
        done = total = 0
        for sid in tracker.getActiveStageIds():
            info = tracker.getStageInfo(sid)
            if info is not None:
                done += info.numCompletedTasks
                total += info.numTasks
        return done, total

    def snapshot(self) -> str:
        done, total = self._completed_tasks()
        fraction = done / total if total else 0.0
        images = int(fraction * self.total)
        elapsed = time.time() - self._phase_started
        rate = images / elapsed if elapsed > 0 else 0.0
        left = (self.total - images) / rate if rate > 0 else None
        bar = "#" * int(fraction * 24)
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if left is not None else "--:--"
        return (f"[{bar:<24}] {self.phase}: {images}/{self.total} images, "
                f"{rate:.1f} img/s, {eta} left (tasks {done}/{total})")

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                line = self.snapshot()
            except Exception:  # the context is stopping
                return
            if self.tty:
                self.stream.write("\r" + line[:160].ljust(160))
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
            self.lines_written += 1

    def __enter__(self) -> "SparkProgress":
        if not self.quiet:
            self._thread = threading.Thread(target=self._run, name="sparkdl-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            if self.tty:
                self.stream.write("\r" + " " * 160 + "\r")
                self.stream.flush()

    def log(self, message: str) -> None:
        """A line for the user (kept apart from the progress line)."""
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r" + " " * 160 + "\r")
        self.stream.write(message + "\n")
        self.stream.flush()
