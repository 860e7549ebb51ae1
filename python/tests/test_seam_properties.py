"""Property-based tests of the JVM side of the native seam (hypothesis): random batches with nulls,
garbage and valid rows mixed, random row counts, partitions and batch sizes (in rows and in bytes),
through the SQL decode function and TFTransformer. Whatever the mix: one output row per input row,
the right value for every usable row, a null and a reason for every other.

The budget is fixed (a set number of examples, derandomized: the same examples on every run), so
the time CI spends here does not grow and a failure reproduces.
"""

from __future__ import annotations

import io

import numpy as np
import tensorflow as tf  # make test installs it; a missing TensorFlow must fail, not skip
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sparkdl import TFTransformer

SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _png(h: int, w: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    b = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(b, "PNG")
    return b.getvalue()


# A few valid files of different sizes, and what decoding them must give.
VALID = [(h, w, _png(h, w, h * 31 + w)) for h, w in [(1, 1), (3, 5), (17, 9), (40, 64), (120, 90)]]

content = st.one_of(
    st.none(),
    st.binary(max_size=64),  # garbage, often empty
    st.sampled_from(range(len(VALID))),  # a valid file
    st.tuples(st.sampled_from(range(len(VALID))), st.integers(1, 60)),  # a valid file cut short
)


def _bytes_of(c):
    if isinstance(c, int):
        return VALID[c][2]
    if isinstance(c, tuple):
        data = VALID[c[0]][2]
        return data[: max(0, len(data) - c[1] * len(data) // 61 - 1)]
    return c


@SETTINGS
@given(
    rows=st.lists(content, max_size=40),
    partitions=st.integers(1, 3),
    max_bytes=st.sampled_from(["1k", "4k", "64k", "1g"]),
)
def test_decode_function_keeps_every_row_whatever_the_batch(spark, rows, partitions, max_bytes):
    data = [(i, _bytes_of(c)) for i, c in enumerate(rows)]
    df = spark.createDataFrame(data, "id int, content binary").repartition(partitions)
    spark.conf.set("spark.sparkdl.batch.maxBytes", max_bytes)
    try:
        out = {r.id: r for r in df.selectExpr("id", "sparkdl_decode_image(content) AS img").collect()}
    finally:
        spark.conf.unset("spark.sparkdl.batch.maxBytes")
    assert sorted(out) == list(range(len(rows)))
    for i, c in enumerate(rows):
        img = out[i].img
        if isinstance(c, int):
            h, w, _ = VALID[c]
            assert img is not None and (img.height, img.width, img.nChannels) == (h, w, 3), (i, c)
            assert len(img.data) == h * w * 3
        elif isinstance(c, tuple):
            # Cut short: refused, or (when only trailing chunks are lost) the whole picture.
            h, w, _ = VALID[c[0]]
            assert img is None or (img.height, img.width) == (h, w), (i, c)
        elif c is None or len(c) == 0:
            assert img is None, (i, c)
        # Random bytes: a PNG/JPEG signature is unlikely but not impossible; either way one row.


W = np.array([[1.0, -2.0], [0.5, 0.25], [-1.0, 3.0]], np.float32)


def _matmul_graph() -> bytes:
    tf1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [None, 3], name="x")
        tf.identity(tf.matmul(x, tf.constant(W)), name="y")
    return g.as_graph_def().SerializeToString()


GRAPH = _matmul_graph()
vector = st.one_of(
    st.none(),
    st.lists(st.floats(-1e3, 1e3, width=32), min_size=3, max_size=3),
    st.lists(st.floats(-1e3, 1e3, width=32), max_size=6).filter(lambda v: len(v) != 3),
)


@SETTINGS
@given(rows=st.lists(vector, max_size=60), partitions=st.integers(1, 4), batch=st.integers(1, 17))
def test_tf_transformer_keeps_every_row_whatever_the_batch(spark, rows, partitions, batch):
    df = spark.createDataFrame([(i, v) for i, v in enumerate(rows)], "id int, x array<float>").repartition(partitions)
    t = TFTransformer(graph=GRAPH, inputMapping={"x": "x:0"}, outputMapping={"y:0": "y"}, batchSize=batch)
    out = {r.id: r for r in t.transform(df).collect()}
    assert sorted(out) == list(range(len(rows)))
    for i, v in enumerate(rows):
        r = out[i]
        if v is not None and len(v) == 3:
            expected = np.asarray(v, np.float32) @ W
            np.testing.assert_allclose(r.y, expected, rtol=1e-5, atol=1e-3)
            assert r.y_error is None
        else:
            assert r.y is None and r.y_error, (i, v, r)
