"""Executor memory over a long run: heap and RSS of the (local-mode) executor JVM while sparkdl's
TFImageTransformer (MobileNetV2 features) runs over many rows. Bounded memory means the samples stay
flat after the first batches, whatever the number of rows.

    source build/engine-env.sh && .venv/bin/python benches/memory_bench.py [--rows 20000] [--files 512]

The rows cycle over --files distinct JPEGs (each row is read and decoded on its own); the samples are
taken every 2 s and printed with the rows done so far (from Spark's status tracker).
"""

import argparse
import json
import os
import threading
import time

from pipeline_bench import MEAN, STD, count, image_folder, proc_status_bytes


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=20000)
    p.add_argument("--files", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--json")
    args = p.parse_args()

    import sparkdl
    from sparkdl.models import exportModel

    cores = os.cpu_count()
    tmp, _, files = image_folder("sparkdl-membench-", args.files)
    spark = sparkdl.session(conf={"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    graph = open(exportModel("MobileNetV2", out=os.path.join(tmp, "g.pb")), "rb").read()
    rows = spark.createDataFrame([("file://" + files[i % len(files)],) for i in range(args.rows)], "path string")
    rows = rows.repartition(cores).cache()
    rows.count()
    t = sparkdl.TFImageTransformer(
        inputCol="path",
        outputCol="f",
        graph=graph,
        inputTensor="input:0",
        outputTensor="features:0",
        scale=1 / 255.0,
        mean=MEAN.tolist(),
        std=STD.tolist(),
        outputMode="array",
        imageSize=[224, 224],
        batchSize=args.batch,
    )
    jvm = spark.sparkContext._jvm
    pid = int(jvm.ProcessHandle.current().pid())
    runtime = jvm.java.lang.Runtime.getRuntime()
    tracker = spark.sparkContext.statusTracker()

    samples, stop = [], threading.Event()

    def sample():
        start = time.perf_counter()
        while not stop.wait(2.0):
            done = 0
            for sid in tracker.getActiveStageIds():
                info = tracker.getStageInfo(sid)
                if info:
                    done += info.numCompletedTasks
            heap = (runtime.totalMemory() - runtime.freeMemory()) // 2**20
            samples.append(
                {
                    "s": round(time.perf_counter() - start),
                    "heap_mb": heap,
                    "rss_mb": proc_status_bytes(pid, "VmRSS") // 2**20,
                    "arrow_mb": jvm.org.sparkdl.arrow.NativeBatches.allocatedBytes() // 2**20,
                }
            )

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    start = time.perf_counter()
    n = count(t.transform(rows), "f")
    seconds = time.perf_counter() - start
    stop.set()
    th.join()
    print(f"{n} of {args.rows} rows in {seconds:.0f} s ({n / seconds:.1f} images/s)")
    print("t(s)  heap used (MB)  RSS (MB)  Arrow buffers (MB)")
    for s in samples:
        print(f"{s['s']:4d}  {s['heap_mb']:14d}  {s['rss_mb']:8d}  {s['arrow_mb']:18d}")
    if samples:
        rss = [s["rss_mb"] for s in samples]
        q = len(rss) // 4
        print(
            f"RSS: first quarter max {max(rss[: max(q, 1)])} MB, last quarter max {max(rss[-max(q, 1) :])} MB, "
            f"peak {max(rss)} MB; heap peak {max(s['heap_mb'] for s in samples)} MB"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": args.rows, "seconds": seconds, "samples": samples}, fh, indent=2)
    spark.stop()


if __name__ == "__main__":
    main()
