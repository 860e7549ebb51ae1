"""Eight tasks at once in one executor JVM (local[8]), each running two models one after the other,
so the executor serves both models to concurrent tasks: every row's result must be its own
model's (no mix-up in the session cache), and none lost.

    python concurrency_job.py SCRATCH      (prints RESULT {json})

Concurrency does not depend on the machine's speed: each task of the first wave waits, before its
rows reach the models, until all eight have started (a file per task in SCRATCH)."""

import json
import os
import sys
import time

import numpy as np

WAVE = 8


def graph(scale):
    """y = x * scale, x float [batch, 4]."""
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        tf.multiply(x, tf.constant(scale, tf.float32), name="y")
    return g.as_graph_def()


def main(scratch):
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType

    import sparkdl

    gate_dir = os.path.join(scratch, "arrived")
    os.makedirs(gate_dir, exist_ok=True)

    def arrive(part):
        # Once per task: announce, then wait until the whole first wave is in.
        mine = os.path.join(gate_dir, str(part))
        if not os.path.exists(mine):
            open(mine, "w").close()
        deadline = time.monotonic() + 600
        while len(os.listdir(gate_dir)) < WAVE and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(os.listdir(gate_dir))

    spark = sparkdl.session(master=f"local[{WAVE}]", conf={"spark.ui.enabled": "false"})
    n = 4000
    gate = F.udf(arrive, IntegerType())
    df = (
        spark.range(0, n, 1, 2 * WAVE)
        .select("id", F.array(*[(F.col("id") + k).cast("float") for k in range(4)]).alias("x"))
        .withColumn("seen", gate(F.spark_partition_id()))
    )
    a = sparkdl.TFTransformer(graph=graph(2.0), inputMapping={"x": "x:0"}, outputMapping={"y:0": "a"}, batchSize=7)
    b = sparkdl.TFTransformer(graph=graph(-3.0), inputMapping={"x": "x:0"}, outputMapping={"y:0": "b"}, batchSize=5)
    rows = b.transform(a.transform(df)).select("id", "seen", "a", "b").collect()
    wrong = 0
    for r in rows:
        x = [r.id + k for k in range(4)]
        if (
            r.a is None
            or r.b is None
            or not (
                np.allclose(r.a, [v * 2.0 for v in x], rtol=1e-6) and np.allclose(r.b, [v * -3.0 for v in x], rtol=1e-6)
            )
        ):
            wrong += 1
    print(
        "RESULT "
        + json.dumps(
            {"tasks_at_once": min(r.seen for r in rows), "rows": len(rows), "rows_expected": n, "wrong": wrong}
        ),
        flush=True,
    )
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
