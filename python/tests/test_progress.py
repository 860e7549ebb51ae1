"""The command line's progress lines, with a fake status tracker and a fake clock: what a log
shows must not depend on how fast the machine is (no Spark, no sleeps)."""

import io
from types import SimpleNamespace

from sparkdl.cli.progress import SparkProgress, SparkStatus

NEVER = 1e9  # the polling thread's interval: it never ticks during a test; tick() is called directly


class FakeTracker:
    """What the progress reads of Spark: images done in the phase so far (``images``, set by the
    test), and the phases begun and ended."""

    def __init__(self):
        self.images = 0
        self.phases = []

    def begin(self, name):
        self.phases.append(name)

    def end(self):
        self.phases.append("end")

    def progress(self, total):
        return self.images


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
        tracker.images = 25
        p.tick()
        clock.now += 6
        p.set_phase("saving the model")
        clock.now += 0.5
    lines = log.getvalue().splitlines()
    assert lines[0] == "100 labelled images"
    assert lines[1] == "MobileNetV2: featurize + fit: started, 100 images"
    assert lines[2] == "[######                  ] MobileNetV2: featurize + fit: 25/100 images, 6.2 img/s, 0:12 left"
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
    assert log.getvalue().splitlines()[-1] == "predicting: failed after 2.0 s (0/100 images)"


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
        tracker.images = 50
        clock.now += 5
        p.tick()
        p.set_phase("saving the model")
    out = term.getvalue()
    assert "started" not in out
    assert "\r[############            ] featurizing: 50/100 images, 10.0 img/s, 0:05 left" in out
    # When the phase ends, the bar at 100% stays as a line; the next phase redraws below it.
    assert "\r[########################] featurizing: done, 100 images in 5.0 s (20.0 img/s)" in out
    assert out.count("\n") == 2  # featurizing, and saving the model when the progress closes


def counts(text):
    return [int(line.split(": ")[-1].split("/")[0]) for line in text.splitlines() if " images, " in line]


def test_the_count_only_moves_forward_and_ends_at_the_total():
    """A phase runs several Spark jobs; what Spark reports can fall back (a later job starts at 0)
    or pass the total (rows read twice): the line counts images, never backwards, never past the
    total, and the phase ends at 100%."""
    log = io.StringIO()
    p, tracker, clock = progress(log, images=400)
    with p:
        p.set_phase("featurize + fit", 400)
        for reported in (0, 20, 120, 60, 0, 300, 280, 520, 390):
            tracker.images = reported
            clock.now += 1
            p.tick()
        p.set_phase("predicting", 400)
        tracker.images = 10
        p.tick()
    lines = log.getvalue()
    first, second = lines.split("predicting: started")
    assert counts(first) == [0, 20, 120, 120, 120, 300, 300, 400, 400]
    assert "featurize + fit: done, 400 images in 9.0 s (44.4 img/s)" in first
    assert counts(second) == [10]  # a new phase starts from its own count
    assert tracker.phases == ["featurize + fit", "end", "predicting", "end"]


class FakeStage:
    def __init__(self, status, tasks, done=0, shuffle_read=0, shuffle_write=0, output=0):
        self._v = dict(status=status, tasks=tasks, done=done, shr=shuffle_read, shw=shuffle_write, out=output)

    def status(self):
        return self._v["status"]

    def numTasks(self):
        return self._v["tasks"]

    def numCompleteTasks(self):
        return self._v["done"]

    def shuffleReadRecords(self):
        return self._v["shr"]

    def shuffleWriteRecords(self):
        return self._v["shw"]

    def outputRecords(self):
        return self._v["out"]

    def inputRecords(self):  # a cache's records are its batches, not rows: never read
        raise AssertionError("inputRecords read")


def graph(*model_rdds):
    """A stage's operator graph as RDDOperationGraph.makeDotFile writes it (a model cluster each)."""
    clusters = "".join(
        f'    subgraph cluster_spark_plan_{r} {{\n      id="cluster_spark_plan_{r}";\n      isCluster="true";\n'
        f'      label="NativeEval";\n      {r} [id="node_{r}" labelType="html" label="MapPartitionsRDD [{r}]<br>'
        f'mapPartitionsWithIndex at NativeEvalExec.scala:75"];\n    }}\n'
        for r in model_rdds
    )
    return 'digraph G {\n  subgraph graph_stage_0 {\n    label="Stage 0";\n' + clusters + "  }\n}"


class FakeSpark:
    """Spark as SparkStatus reads it: job groups, jobs' stages, stages' numbers and graphs."""

    def __init__(self):
        self.jobs, self.stages, self.graphs, self.groups = {}, {}, {}, []
        outer = self

        class Tracker:
            def getJobIdsForGroup(self, group):
                return list(outer.jobs)

            def getJobInfo(self, jid):
                return SimpleNamespace(stageIds=outer.jobs[jid])

        class Store:
            def lastStageAttempt(self, sid):
                return outer.stages[sid]

            def operationGraphForStage(self, sid):
                return outer.graphs.get(sid, graph())

        class Graph:
            @staticmethod
            def makeDotFile(g):
                return g

        jvm = SimpleNamespace(
            org=SimpleNamespace(
                apache=SimpleNamespace(
                    spark=SimpleNamespace(ui=SimpleNamespace(scope=SimpleNamespace(RDDOperationGraph=Graph)))
                )
            )
        )
        jsc = SimpleNamespace(
            sc=lambda: SimpleNamespace(statusStore=Store), clearJobGroup=lambda: outer.groups.append(None)
        )
        self.sparkContext = SimpleNamespace(
            statusTracker=Tracker, _jsc=jsc, _jvm=jvm, setJobGroup=lambda g, d: outer.groups.append(d)
        )


def test_spark_status_counts_each_model_rdd_once_in_the_stage_that_computes_it():
    """The train phase's stages as Spark 4.2 ran them (read from a real run): the featurizing stage
    (20 tasks, rows written to the shuffle), the classifier's passes over the cached features (their
    graphs show the model's RDD in the lineage, and skipped stages that computed it), and the
    validation: a stage that reads cached rows and hands results to the driver (no row count)."""
    spark = FakeSpark()
    status = SparkStatus(spark)
    status.begin("featurize + fit")
    assert spark.groups == ["featurize + fit"]
    spark.jobs[12] = [22, 23]
    spark.stages[22] = FakeStage("SKIPPED", 2)
    spark.stages[23] = FakeStage("ACTIVE", 20, done=5, shuffle_write=53)
    spark.graphs[23] = graph(45)
    assert status.progress(282) == 53
    spark.stages[23] = FakeStage("COMPLETE", 20, done=20, shuffle_write=211)
    for j in range(13, 40):  # the classifier: a skipped stage with the model, a pass over the cache
        spark.jobs[j] = [4 * j, 4 * j + 1]
        spark.stages[4 * j] = FakeStage("SKIPPED", 20)
        spark.graphs[4 * j] = graph(45)
        spark.stages[4 * j + 1] = FakeStage("COMPLETE", 2, done=2, shuffle_write=2)
        spark.graphs[4 * j + 1] = graph(45)  # rows from the cache: the same RDD, not counted again
    assert status.progress(282) == 211
    spark.jobs[241] = [925]
    spark.stages[925] = FakeStage("ACTIVE", 20, done=10)
    spark.graphs[925] = graph(992)
    assert status.progress(282) == 211 + 35  # half its tasks, of the 71 images not counted yet
    spark.stages[925] = FakeStage("COMPLETE", 20, done=20)
    spark.jobs[242] = [927]
    spark.stages[927] = FakeStage("COMPLETE", 20, done=20, shuffle_write=46)
    spark.graphs[927] = graph(992)
    assert status.progress(282) == 282
    status.end()
    assert spark.groups[-1] is None and status.progress(282) == 0


def test_spark_status_without_a_model_counts_finished_tasks():
    spark = FakeSpark()
    status = SparkStatus(spark)
    status.begin("signatures")
    spark.jobs[1] = [1, 2]
    spark.stages[1] = FakeStage("COMPLETE", 20, done=20, shuffle_write=100)
    spark.stages[2] = FakeStage("ACTIVE", 20, done=5)
    assert status.progress(100) == 62  # 25 of 40 tasks
