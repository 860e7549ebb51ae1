"""How much memory an executor needs outside its JVM heap for sparkdl: the number behind
docs/RELIABILITY.md's `spark.executor.memoryOverhead` advice.

    source build/engine-env.sh && .venv/bin/python benches/executor_memory.py [--images 256] [--cores 2]

Local mode runs the executor inside the driver JVM, started here with Native Memory Tracking on.
Before any sparkdl work, the JVM's resident set (RSS) and NMT's committed total are recorded;
then DeepImageFeaturizer (MobileNetV2) runs at several batch sizes, one after another, each
twice. After each step: RSS growth minus the growth of what the JVM itself committed (heap,
metaspace, threads, code, GC, NIO and Arrow direct buffers: all in NMT) is the memory outside
the JVM's accounting: libtensorflow's code and data, the TensorFlow session (weights,
intermediate activations per running batch) and sparkdl's native buffers. That is what
`spark.executor.memoryOverhead` must cover on top of Spark's own needs.
"""

import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pipeline_bench import image_folder, proc_status_bytes  # noqa: E402


def nmt_committed(pid: int) -> int:
    """NMT's committed total of the JVM `pid`, in bytes."""
    out = subprocess.run(
        ["jcmd", str(pid), "VM.native_memory", "summary", "scale=KB"], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"Total: reserved=\d+KB, committed=(\d+)KB", out)
    if not m:
        raise RuntimeError(f"no NMT total in jcmd's answer:\n{out[:2000]}")
    return int(m.group(1)) * 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--cores", type=int, default=2)
    p.add_argument("--batches", default="16,64,128")
    args = p.parse_args()

    import sparkdl

    _, folder, _ = image_folder("sparkdl-execmem-", args.images)
    spark = sparkdl.session(
        master=f"local[{args.cores}]",
        conf={
            "spark.ui.enabled": "false",
            "spark.driver.extraJavaOptions": "-XX:NativeMemoryTracking=summary",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    jvm = spark.sparkContext._jvm
    pid = int(jvm.ProcessHandle.current().pid())
    # Spark's own start-up work first (a job, a file listing), so it is not counted as sparkdl's.
    spark.read.format("binaryFile").load(folder).select("path").count()
    rss0, nmt0 = proc_status_bytes(pid, "VmRSS"), nmt_committed(pid)
    print(f"before sparkdl: RSS {rss0 / 2**20:.0f} MB, JVM committed (NMT) {nmt0 / 2**20:.0f} MB")

    images = sparkdl.readImages(folder).repartition(args.cores).cache()
    images.count()
    print(f"{'step':<34}{'RSS MB':>8}{'JVM MB':>8}{'outside JVM MB':>16}{'peak RSS MB':>13}")
    for batch in [int(b) for b in args.batches.split(",")]:
        f = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="f", modelName="MobileNetV2", batchSize=batch)
        for run in (1, 2):
            n = f.transform(images).filter("f is not null").count()
            assert n == args.images, n
            rss, nmt = proc_status_bytes(pid, "VmRSS"), nmt_committed(pid)
            hwm = proc_status_bytes(pid, "VmHWM")
            outside = (rss - rss0) - (nmt - nmt0)
            print(
                f"{f'batch {batch}, run {run}, {args.cores} tasks':<34}{rss / 2**20:>8.0f}{nmt / 2**20:>8.0f}"
                f"{outside / 2**20:>16.0f}{hwm / 2**20:>13.0f}"
            )
    spark.stop()


if __name__ == "__main__":
    main()
