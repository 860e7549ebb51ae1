"""The command line's progress lines, with a fake status tracker and a fake clock: what a log
shows must not depend on how fast the machine is (no Spark, no sleeps)."""

import io
from types import SimpleNamespace

from sparkdl.cli.progress import SparkProgress

NEVER = 1e9  # the polling thread's interval: it never ticks during a test; tick() is called directly


class FakeTracker:
    """Spark's status tracker as the progress reads it: active stages and their task counts."""

    def __init__(self):
        self.stages = {}

    def getActiveStageIds(self):
        return list(self.stages)

    def getStageInfo(self, sid):
        done, total = self.stages[sid]
        return SimpleNamespace(numCompletedTasks=done, numTasks=total)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def progress(stream, quiet=False, images=100):
    tracker, clock = FakeTracker(), FakeClock()
    p = SparkProgress(None, images, quiet=quiet, stream=stream, interval=NEVER, tracker=tracker, clock=clock)
    return p, tracker, clock


def test_a_log_gets_a_line_when_each_phase_starts_and_ends():
    log = io.StringIO()
    p, tracker, clock = progress(log)
    with p:
        p.log("100 labelled images")
        p.set_phase("MobileNetV2: featurize + fit", 100)
        clock.now += 4
        tracker.stages[3] = (5, 20)
        p.tick()
        clock.now += 6
        tracker.stages.clear()
        p.set_phase("saving the model")
        clock.now += 0.5
    lines = log.getvalue().splitlines()
    assert lines[0] == "100 labelled images"
    assert lines[1] == "MobileNetV2: featurize + fit: started, 100 images"
    assert "MobileNetV2: featurize + fit: 25/100 images, 6.2 img/s, 0:12 left (tasks 5/20)" in lines[2]
    assert lines[3] == "MobileNetV2: featurize + fit: done, 100 images in 10.0 s (10.0 img/s)"
    assert lines[4] == "saving the model: started"
    assert lines[5] == "saving the model: done in 0.5 s"
    assert len(lines) == 6 and p.lines_written == 5


def test_end_phase_is_written_once_and_long_phases_in_minutes_then_no_ticks():
    log = io.StringIO()
    p, _, clock = progress(log, images=2624)
    with p:
        p.set_phase("featurizing", 2624)
        clock.now += 125
        p.end_phase()
        p.end_phase()
        p.tick()  # between phases: nothing
    assert log.getvalue().splitlines() == [
        "featurizing: started, 2624 images",
        "featurizing: done, 2624 images in 2:05 (21.0 img/s)",
    ]


def test_a_failed_phase_says_so():
    log = io.StringIO()
    p, _, clock = progress(log)
    try:
        with p:
            p.set_phase("predicting", 100)
            clock.now += 2
            raise RuntimeError("job failed")
    except RuntimeError:
        pass
    assert log.getvalue().splitlines()[-1] == "predicting: failed after 2.0 s"


def test_quiet_writes_nothing():
    log = io.StringIO()
    p, tracker, _ = progress(log, quiet=True)
    with p:
        p.log("hello")
        p.set_phase("featurizing", 100)
        p.set_phase("saving the model")
    assert log.getvalue() == ""


def test_a_terminal_gets_the_redrawn_bar_not_phase_lines():
    term = Terminal()
    p, tracker, clock = progress(term)
    with p:
        p.set_phase("featurizing", 100)
        tracker.stages[1] = (10, 20)
        clock.now += 5
        p.tick()
        p.set_phase("saving the model")
    out = term.getvalue()
    assert "started" not in out and "done" not in out
    assert "\r[############            ] featurizing: 50/100 images, 10.0 img/s, 0:05 left (tasks 10/20)" in out
    assert "\n" not in out


def test_each_finished_task_moves_the_line():
    """Progress moves by one task's share of the phase: 20 tasks give 5% steps."""
    log = io.StringIO()
    p, tracker, clock = progress(log, images=400)
    with p:
        p.set_phase("featurizing", 400)
        for done in range(21):
            tracker.stages[7] = (done, 20)
            clock.now += 1
            p.tick()
    counts = [line.split(": ", 1)[1].split(" images")[0] for line in log.getvalue().splitlines() if "(tasks" in line]
    assert counts == [f"{20 * k}/400" for k in range(21)]
