"""Image similarity: exact nearest neighbours over feature vectors, natively in Spark tasks, and a
copy-detection signature of images (``ImageSignature``) for finding near-duplicates.

``NearestNeighbors`` (an Estimator) wraps the Scala ``org.sparkdl.similarity.NearestNeighbors``;
``fit(index)`` gives a ``NearestNeighborsModel`` whose ``transform(queries)`` adds each query's
``k`` best index rows as ``array<struct<id, score>>``, best first.
"""

from typing import Optional

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.ml.util import JavaMLReadable, JavaMLWritable, try_remote_read
from pyspark.ml.wrapper import JavaEstimator, JavaModel, JavaTransformer

from sparkdl.transformers._base import _StageReader

# The Scala Ivf.DefaultProbes and Ivf.DefaultSeed (test_params checks that the defaults agree).
_IVF_PROBES = 8
_IVF_SEED = 20261204


class _NearestNeighborsParams(HasOutputCol):
    """The Params of both classes, with the Scala ``NearestNeighborsParams``' defaults."""

    featuresCol = Param(
        Params._dummy(),
        "featuresCol",
        "column of feature vectors (MLlib vectors, array<float> or array<double>), in the index and the queries",
        typeConverter=TypeConverters.toString,
    )
    idCol = Param(
        Params._dummy(),
        "idCol",
        "the index's column naming each row in the results (an atomic type); ties go to the smaller id",
        typeConverter=TypeConverters.toString,
    )
    k = Param(Params._dummy(), "k", "how many neighbours each query gets, best first", TypeConverters.toInt)
    metric = Param(
        Params._dummy(),
        "metric",
        "cosine (score: the cosine similarity) or l2 (score: the Euclidean distance, negated)",
        typeConverter=TypeConverters.toString,
    )
    queryBlockRows = Param(
        Params._dummy(), "queryBlockRows", "query rows scored together against an index block", TypeConverters.toInt
    )
    indexBlockRows = Param(
        Params._dummy(), "indexBlockRows", "index rows per block (one block per partition)", TypeConverters.toInt
    )

    algorithm = Param(
        Params._dummy(),
        "algorithm",
        "exact (every index row scored) or ivf (approximate: an inverted-file index of KMeans lists, each query "
        "scored against the rows of its nprobe nearest lists only)",
        typeConverter=TypeConverters.toString,
    )
    numLists = Param(
        Params._dummy(),
        "numLists",
        "ivf: the number of lists (KMeans centroids); 0 for about half the square root of the index's rows",
        typeConverter=TypeConverters.toInt,
    )
    nprobe = Param(
        Params._dummy(),
        "nprobe",
        "ivf: the lists each query probes, nearest first (more: better recall, slower)",
        typeConverter=TypeConverters.toInt,
    )
    trainRows = Param(
        Params._dummy(),
        "trainRows",
        "ivf: index rows sampled for the KMeans fit; 0 for 40 per list",
        typeConverter=TypeConverters.toInt,
    )
    seed = Param(Params._dummy(), "seed", "ivf: the seed of the KMeans sample and fit", TypeConverters.toInt)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._setDefault(
            featuresCol="features",
            idCol="id",
            k=10,
            metric="cosine",
            outputCol="neighbors",
            queryBlockRows=1024,
            indexBlockRows=8192,
            algorithm="exact",
            numLists=0,
            nprobe=_IVF_PROBES,
            trainRows=0,
            seed=_IVF_SEED,
        )

    def getFeaturesCol(self) -> str:
        return self.getOrDefault(self.featuresCol)

    def getIdCol(self) -> str:
        return self.getOrDefault(self.idCol)

    def getK(self) -> int:
        return self.getOrDefault(self.k)

    def getMetric(self) -> str:
        return self.getOrDefault(self.metric)

    def getAlgorithm(self) -> str:
        return self.getOrDefault(self.algorithm)

    def getNumLists(self) -> int:
        return self.getOrDefault(self.numLists)

    def getNprobe(self) -> int:
        return self.getOrDefault(self.nprobe)

    def setNprobe(self, value: int):
        return self._set(**_checked({"nprobe": value}))


def _checked(kwargs):
    kwargs = {key: v for key, v in kwargs.items() if v is not None}
    if "metric" in kwargs and kwargs["metric"] not in ("cosine", "l2"):
        raise ValueError(f"metric must be 'cosine' or 'l2', got {kwargs['metric']!r}")
    if "algorithm" in kwargs and kwargs["algorithm"] not in ("exact", "ivf"):
        raise ValueError(f"algorithm must be 'exact' or 'ivf', got {kwargs['algorithm']!r}")
    for name in ("k", "queryBlockRows", "indexBlockRows", "nprobe"):
        if name in kwargs and int(kwargs[name]) < 1:
            raise ValueError(f"{name} must be at least 1, got {kwargs[name]!r}")
    for name in ("numLists", "trainRows"):
        if name in kwargs and int(kwargs[name]) < 0:
            raise ValueError(f"{name} must be at least 0 (0: auto), got {kwargs[name]!r}")
    return kwargs


class _Readable(JavaMLReadable, JavaMLWritable):
    @classmethod
    @try_remote_read
    def read(cls):
        return _StageReader(cls)


class NearestNeighborsModel(JavaModel, _NearestNeighborsParams, _Readable):
    """The index of a ``NearestNeighbors`` fit. ``transform(queries)`` adds ``outputCol``: each
    query's ``k`` best index rows, ``array<struct<id, score>>`` best first (ties to the smaller id;
    null for a query whose vector is null). Saved with a copy of the index's ids and vectors."""

    _java_class_name = "org.sparkdl.similarity.NearestNeighborsModel"
    __module__ = "org.sparkdl.similarity"

    def setOutputCol(self, value: str) -> "NearestNeighborsModel":
        return self._set(outputCol=value)

    def setK(self, value: int) -> "NearestNeighborsModel":
        return self._set(**_checked({"k": value}))

    def setFeaturesCol(self, value: str) -> "NearestNeighborsModel":
        return self._set(featuresCol=value)

    @property
    def dim(self) -> int:
        """The length of the index's vectors."""
        return self._java_obj.dim()


class NearestNeighbors(JavaEstimator, _NearestNeighborsParams, _Readable):
    """Exact k-nearest-neighbour search over feature vectors (cosine or L2), in Spark tasks:
    every block of queries is scored against every block of the index by one native call (a
    SIMD matrix product, candidates re-scored exactly) and the lists merged, so a task holds two
    blocks whatever the index's size.

    >>> nn = NearestNeighbors(k=5).fit(index_df)            # id, features
    >>> nn.transform(queries_df).select("id", "neighbors")  # neighbors: [{id, score}, ...]
    """

    _java_class_name = "org.sparkdl.similarity.NearestNeighbors"
    __module__ = "org.sparkdl.similarity"

    @keyword_only
    def __init__(
        self,
        *,
        featuresCol: Optional[str] = None,
        idCol: Optional[str] = None,
        k: Optional[int] = None,
        metric: Optional[str] = None,
        outputCol: Optional[str] = None,
        queryBlockRows: Optional[int] = None,
        indexBlockRows: Optional[int] = None,
        algorithm: Optional[str] = None,
        numLists: Optional[int] = None,
        nprobe: Optional[int] = None,
        trainRows: Optional[int] = None,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        from sparkdl._jvm import _jvm_api, _resolve_spark

        _jvm_api(_resolve_spark(None))  # a clear error when the jar is missing
        self._java_obj = self._new_java_obj(self._java_class_name, self.uid)
        self._set(**_checked(self._input_kwargs))

    @keyword_only
    def setParams(self, **kwargs) -> "NearestNeighbors":
        return self._set(**_checked(self._input_kwargs))

    def setFeaturesCol(self, value: str) -> "NearestNeighbors":
        return self._set(featuresCol=value)

    def setIdCol(self, value: str) -> "NearestNeighbors":
        return self._set(idCol=value)

    def setK(self, value: int) -> "NearestNeighbors":
        return self._set(**_checked({"k": value}))

    def setMetric(self, value: str) -> "NearestNeighbors":
        return self._set(**_checked({"metric": value}))

    def setOutputCol(self, value: str) -> "NearestNeighbors":
        return self._set(outputCol=value)

    def setAlgorithm(self, value: str) -> "NearestNeighbors":
        return self._set(**_checked({"algorithm": value}))

    def setNumLists(self, value: int) -> "NearestNeighbors":
        return self._set(**_checked({"numLists": value}))

    def setTrainRows(self, value: int) -> "NearestNeighbors":
        return self._set(**_checked({"trainRows": value}))

    def setSeed(self, value: int) -> "NearestNeighbors":
        return self._set(seed=value)

    def _create_model(self, java_model) -> NearestNeighborsModel:
        return NearestNeighborsModel(java_model)


class ImageSignature(JavaTransformer, HasInputCol, HasOutputCol, _Readable):
    """A copy-detection signature of each image (Spark's image struct in ``inputCol``, 8-bit):
    576 floats (``array<float>``, unit norm) in ``outputCol``, close by cosine for copies of a
    picture (resized, centre-cropped, re-encoded, brighter or darker) and apart for different
    pictures, also among images that all look alike, where a CNN's features are not. Computed
    natively, without a model; a null image gives null. Use it as the features of
    ``findDuplicates`` (its threshold: ``ImageSignature.defaultThreshold()``, 0.96) or
    ``NearestNeighbors``. docs/SIMILARITY-SIGNATURE.md has the method and its precision/recall.

    >>> sigs = ImageSignature(inputCol="image", outputCol="features").transform(images)
    >>> findDuplicates(sigs.selectExpr("image.origin AS id", "features"), ImageSignature.defaultThreshold())
    """

    _java_class_name = "org.sparkdl.similarity.ImageSignature"
    __module__ = "org.sparkdl.similarity"

    @staticmethod
    def defaultThreshold(spark=None) -> float:
        """The cosine at and above which two signatures are copies, as measured (0.96; the Scala
        ``ImageSignature.DefaultThreshold``)."""
        from sparkdl._jvm import _jvm_api, _resolve_spark

        spark = _resolve_spark(spark)
        _jvm_api(spark)
        return float(spark._jvm.org.sparkdl.similarity.ImageSignature.DefaultThreshold())

    @keyword_only
    def __init__(self, *, inputCol: Optional[str] = None, outputCol: Optional[str] = None) -> None:
        super().__init__()
        from sparkdl._jvm import _jvm_api, _resolve_spark

        _jvm_api(_resolve_spark(None))  # a clear error when the jar is missing
        self._java_obj = self._new_java_obj(self._java_class_name, self.uid)
        self._setDefault(inputCol="image", outputCol="signature")
        self._set(**{key: v for key, v in self._input_kwargs.items() if v is not None})

    @keyword_only
    def setParams(self, *, inputCol: Optional[str] = None, outputCol: Optional[str] = None) -> "ImageSignature":
        return self._set(**{key: v for key, v in self._input_kwargs.items() if v is not None})

    def setInputCol(self, value: str) -> "ImageSignature":
        return self._set(inputCol=value)

    def setOutputCol(self, value: str) -> "ImageSignature":
        return self._set(outputCol=value)


def findDuplicates(
    df,
    threshold: Optional[float] = None,
    featuresCol: str = "features",
    idCol: str = "id",
    groups: bool = False,
    blockRows: int = 8192,
    algorithm: str = "exact",
    numLists: int = 0,
    nprobe: int = _IVF_PROBES,
    trainRows: int = 0,
    seed: int = _IVF_SEED,
):
    """Near-duplicates among the rows of ``df`` by the cosine similarity of ``featuresCol``.

    Returns every unordered pair with similarity >= ``threshold`` once (``id_a < id_b``,
    ``score``), exactly; with ``groups=True``, the connected components those pairs make instead
    (``id``, ``group``: the smallest id of its component; a row in no pair is its own group), so
    ``df.join(g, "id").where("id = group")`` keeps one row per group. ``threshold`` defaults to
    ``org.sparkdl.similarity.Duplicates.DefaultThreshold``.

    Exact pairs cost n² / 2 vector products. For large sets, ``algorithm="ivf"`` is approximate:
    MLlib KMeans puts the rows in ``numLists`` lists (0: √n / 2), and each row is scored
    against the rows of its ``nprobe`` nearest lists only (about n² · nprobe / numLists
    products); a pair is missed when neither row probes the other's list. docs/PERFORMANCE.md
    measures its recall and speed.
    """
    from pyspark.sql import DataFrame

    from sparkdl._jvm import _jvm_api

    spark = df.sparkSession
    _jvm_api(spark)  # a clear error when the jar is missing
    duplicates = spark._jvm.org.sparkdl.similarity.Duplicates
    if threshold is None:
        threshold = duplicates.DefaultThreshold()
    threshold = float(threshold)
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold!r}")
    _checked({"algorithm": algorithm, "nprobe": nprobe, "numLists": numLists, "trainRows": trainRows})
    jdf = duplicates.find(
        df._jdf,
        threshold,
        featuresCol,
        idCol,
        int(blockRows),
        algorithm,
        int(numLists),
        int(nprobe),
        int(trainRows),
        int(seed),
        bool(groups),
    )
    return DataFrame(jdf, spark)
