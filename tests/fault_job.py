"""An executor killed in the middle of a featurization job on the standalone cluster; Spark's
retries must give output complete and identical to a clean run.

    python fault_job.py MASTER CLUSTER_ROOT SCRATCH     (prints RESULT {json})

The job featurizes 24 partitions with DeepImageFeaturizer and writes Parquet. Partitions after
the first two wait for a marker file before they start, so the kill always lands while the job
runs, whatever the machine's speed: as soon as the first task has finished, the driver kills one
executor JVM (SIGKILL), then writes the marker. The clean run has no waiting and no kill."""

import json
import os
import signal
import sys
import threading
import time

import numpy as np
from PIL import Image


def main(master, cluster_root, scratch):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from cluster import CLUSTER_APP_CONF
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    import sparkdl

    images = os.path.join(scratch, "images")
    os.makedirs(images, exist_ok=True)
    rng = np.random.default_rng(5)
    for i in range(48):
        Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(os.path.join(images, f"i{i:02d}.png"))
    marker = os.path.join(scratch, "killed")
    spark = sparkdl.session(master=master, conf=dict(CLUSTER_APP_CONF, **{"spark.task.maxFailures": "4"}))

    def gate(path, wait):
        # Deterministic: returns its input; on the faulty run, later partitions wait for the kill.
        if wait:
            deadline = time.monotonic() + 600
            while not os.path.exists(marker) and time.monotonic() < deadline:
                time.sleep(0.1)
        return path

    def job(out, wait):
        hold = F.udf(lambda p, part: gate(p, wait and part >= 2), StringType())
        files = sparkdl.readImageFiles(images, numPartitions=24)
        gated = files.withColumn("path", hold(F.col("origin"), F.spark_partition_id()))
        f = sparkdl.DeepImageFeaturizer(
            inputCol="path", outputCol="features", modelName="MobileNetV2", imageSize=[96, 96], batchSize=4
        )
        f.transform(gated).select("origin", "features", "features_error").write.mode("overwrite").parquet(out)

    job(os.path.join(scratch, "clean"), wait=False)

    killed = []

    def killer():
        tracker = spark.sparkContext.statusTracker()
        while not killed:
            done = sum(
                (
                    tracker.getStageInfo(s).numCompletedTasks
                    for s in tracker.getActiveStageIds()
                    if tracker.getStageInfo(s) is not None
                ),
                0,
            )
            if done >= 1:
                from cluster import StandaloneCluster

                c = StandaloneCluster.__new__(StandaloneCluster)
                c.root, c.port = cluster_root, int(master.rsplit(":", 1)[1])
                pids = c.executor_pids()
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    open(marker, "w").close()
                    return
            time.sleep(0.1)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    job(os.path.join(scratch, "faulty"), wait=True)
    t.join(5)

    def read(p):
        return {
            r.origin: (None if r.features is None else r.features.toArray().tolist(), r.features_error)
            for r in spark.read.parquet(p).collect()
        }

    clean, faulty = read(os.path.join(scratch, "clean")), read(os.path.join(scratch, "faulty"))
    n_clean = spark.read.parquet(os.path.join(scratch, "clean")).count()
    n_faulty = spark.read.parquet(os.path.join(scratch, "faulty")).count()
    same = clean.keys() == faulty.keys() and all(
        (clean[k][0] is None and faulty[k][0] is None) or np.allclose(clean[k][0], faulty[k][0], atol=1e-6)
        for k in clean
    )
    print(
        "RESULT "
        + json.dumps(
            {
                "killed": killed,
                "rows_clean": n_clean,
                "rows_faulty": n_faulty,
                "files": len(clean),
                "identical": bool(same),
                "nulls": sum(v[0] is None for v in faulty.values()),
            }
        ),
        flush=True,
    )
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
