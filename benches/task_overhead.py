"""What a Spark task costs sparkdl beyond what it costs Spark: the same rows in more partitions.

    source build/engine-env.sh
    .venv/bin/python benches/task_overhead.py [--rows 8192] [--rounds 5]

The rows (small float arrays, cached) are run through a model that does almost nothing (an ONNX
ReduceSum built with onnx.helper), so a job's time is its tasks' fixed costs plus Spark's. Each
partitioning (2, 16, 64, 256 partitions of the same rows) is timed on:
  spark      Spark alone: the same rows, a SQL expression of the same result
  sparkdl    ONNXTransformer, default settings (batches in flight per task: 2)
  inFlight1  ONNXTransformer with spark.sparkdl.batch.inFlight=1 (one Arrow slot per task)
alternating job by job, medians of the rounds. The slope over partitions is each one's cost per
task (ms); sparkdl's own is its slope minus Spark's. Timings are noisy here: read the slopes from
one run.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

PARTITIONS = (2, 16, 64, 256)


def reduce_sum_model(path, width):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])
    node = helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [1])
    graph = helper.make_graph([node], "sum", [x], [y], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def noop(df):
    start = time.perf_counter()
    df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def slope(xs, ys):
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=8192)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    import sparkdl

    spark = sparkdl.session(
        master="local[2]", conf={"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}
    )
    tmp = tempfile.mkdtemp(prefix="sparkdl-task-overhead-")
    path = os.path.join(tmp, "sum.onnx")
    reduce_sum_model(path, args.width)
    base = spark.range(args.rows).selectExpr(f"array_repeat(cast(id as float), {args.width}) as x")
    frames = {}
    for p in PARTITIONS:
        df = base.repartition(p).cache()
        df.count()
        frames[p] = df
    stage = sparkdl.ONNXTransformer(modelFile=path, inputMapping={"x": "x"}, outputMapping={"y": "y"})

    def spark_job(df):
        return noop(df.selectExpr("x", "aggregate(x, 0f, (a, b) -> a + b) as y"))

    def sparkdl_job(df):
        return noop(stage.transform(df))

    def in_flight_1(df):
        spark.conf.set("spark.sparkdl.batch.inFlight", "1")
        try:
            return noop(stage.transform(df))
        finally:
            spark.conf.unset("spark.sparkdl.batch.inFlight")

    jobs = {"spark": spark_job, "sparkdl": sparkdl_job, "inFlight1": in_flight_1}
    for df in frames.values():  # warm-up: code generation, the session, the pages
        for job in jobs.values():
            job(df)
    times = {(name, p): [] for name in jobs for p in PARTITIONS}
    for _ in range(args.rounds):
        for p, df in frames.items():
            for name, job in jobs.items():
                times[(name, p)].append(job(df))
    med = {k: statistics.median(v) for k, v in times.items()}
    per_task = {name: 1000 * slope(PARTITIONS, [med[(name, p)] for p in PARTITIONS]) for name in jobs}
    for name in jobs:
        cells = ", ".join(f"{p}: {med[(name, p)] * 1000:.0f} ms" for p in PARTITIONS)
        print(f"{name:>9}: {cells}; per task {per_task[name]:.2f} ms")
    for name in ("sparkdl", "inFlight1"):
        print(f"{name} beyond Spark: {per_task[name] - per_task['spark']:.2f} ms per task")
    print(
        json.dumps(
            {
                "rows": args.rows,
                "rounds": args.rounds,
                "median_ms": {f"{n} {p}": round(v * 1000, 1) for (n, p), v in med.items()},
                "per_task_ms": {k: round(v, 2) for k, v in per_task.items()},
            }
        )
    )
    spark.stop()


if __name__ == "__main__":
    sys.exit(main())
