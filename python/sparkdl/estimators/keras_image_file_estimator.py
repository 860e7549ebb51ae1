"""KerasImageFileEstimator: trains a Keras 3 image model on image URIs, each parameter map of a
tuning grid in its own Spark task, and gives KerasImageFileTransformers that run natively."""

import json
import os
import tempfile
import zlib
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
from pyspark import keyword_only
from pyspark.ml import Estimator
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasLabelCol, HasOutputCol, HasSeed
from pyspark.sql import DataFrame

from sparkdl.transformers._base import HasBatchSizeAndErrorCol
from sparkdl.transformers.keras_image import KerasImageFileTransformer, _loader_udf

# Spark confs of the tuning data path (see _TrainingData), declared with the others in the JVM's
# org.sparkdl.SparkdlConf, which reads and checks them.
MAX_BROADCAST_CONF = "spark.sparkdl.tuning.maxBroadcastBytes"
DATA_DIR_CONF = "spark.sparkdl.tuning.dataDir"
# The default seed: a fixed number (PySpark's HasSeed default, hash(class name), changes with every
# Python process, because str hashes are randomised).
DEFAULT_SEED = zlib.crc32(b"KerasImageFileEstimator")


def _setting(spark: Any, key: str) -> Optional[str]:
    """A sparkdl setting of `spark`'s conf, read and checked by its JVM entry (None when unset)."""
    from sparkdl._jvm import _jvm_api

    value = _jvm_api(spark).conf(spark._jsparkSession, key)
    return None if value is None else str(value)


class _TrainingData:
    """The loaded images and labels of a fit, as the trial tasks read them: broadcast when they
    fit in ``spark.sparkdl.tuning.maxBroadcastBytes`` (default 256 MB), otherwise written once as
    Parquet under ``spark.sparkdl.tuning.dataDir`` (default: a temporary folder of the driver),
    which every task reads with pyarrow. On a multi-machine cluster that folder must be one all
    workers read (a shared mount, or a URI pyarrow.fs opens: s3://, gs://, hdfs://). The driver
    never collects data beyond the broadcast limit."""

    def __init__(self, broadcast: Any = None, path: Optional[str] = None) -> None:
        self.broadcast = broadcast
        self.path = path

    def arrays(self) -> Tuple[np.ndarray, np.ndarray]:
        """(x, y), in the task."""
        if self.broadcast is not None:
            return self.broadcast.value
        import pyarrow.parquet as pq

        table = pq.read_table(self.path)
        x = np.stack([np.asarray(v, np.float32) for v in table.column("x").to_pylist()])
        y = _labels(table.column("y").to_pylist())
        return x, y

    def release(self) -> None:
        if self.broadcast is not None:
            self.broadcast.unpersist()
        elif self.path and self.path.startswith(tempfile.gettempdir()):
            import shutil

            shutil.rmtree(self.path, ignore_errors=True)


def _labels(values: Sequence[Any]) -> np.ndarray:
    """Class indices stay a 1-D array; one-hot arrays and vectors become a 2-D float array."""
    first = values[0]
    if isinstance(first, (list, tuple, np.ndarray)):
        return np.stack([np.asarray(v, np.float32) for v in values])
    return np.asarray(values)


class KerasImageFileEstimator(Estimator, HasInputCol, HasOutputCol, HasLabelCol, HasSeed, HasBatchSizeAndErrorCol):
    """The original sparkdl's ``KerasImageFileEstimator``, on Keras 3: trains a Keras image model
    on a column of image URIs and returns a :class:`KerasImageFileTransformer` whose inference
    runs in sparkdl's native engine.

    - ``modelFile``: a ``.keras`` or ``.h5`` model, compiled or not (it is compiled with
      ``kerasOptimizer`` and ``kerasLoss``).
    - ``imageLoader(uri)``: a numpy array of the model's input shape, as for
      KerasImageFileTransformer (runs in Python workers).
    - ``labelCol``: class indices (for e.g. ``sparse_categorical_crossentropy``), or one-hot
      arrays / ML vectors, dense or sparse (for e.g. ``categorical_crossentropy``).
    - ``kerasOptimizer``: a Keras optimizer name ("adam") or config dict; ``kerasLoss``: a loss
      name; ``kerasFitParams``: keyword arguments of ``model.fit`` (e.g. ``{"epochs": 5,
      "batch_size": 32}``).
    - ``seed``: each trial seeds Python's, numpy's and the backend's random generators with it
      (``keras.utils.set_random_seed``) before it trains, so the shuffling of ``fit`` and any
      random layer give the same model for the same data and params on every run and worker.

    ``fitMultiple`` (what CrossValidator and TrainValidationSplit call) trains all parameter
    maps at once, one Spark task per map, each in its own Python worker: on a cluster, the
    grid trains in parallel. See :class:`_TrainingData` for how the data reaches the tasks.

    >>> est = KerasImageFileEstimator(inputCol="uri", outputCol="prediction", labelCol="one_hot",
    ...     imageLoader=load, modelFile="/tmp/model.keras", kerasOptimizer="adam",
    ...     kerasLoss="categorical_crossentropy", kerasFitParams={"epochs": 3, "verbose": 0})
    """

    imageLoader = Param(Params._dummy(), "imageLoader", "function uri -> numpy array of the model's input shape")
    modelFile = Param(
        Params._dummy(),
        "modelFile",
        "a Keras 3 model file (.keras or .h5), read on the driver",
        typeConverter=TypeConverters.toString,
    )
    kerasOptimizer = Param(Params._dummy(), "kerasOptimizer", "a Keras optimizer name or config dict")
    kerasLoss = Param(Params._dummy(), "kerasLoss", "a Keras loss name", typeConverter=TypeConverters.toString)
    kerasFitParams = Param(Params._dummy(), "kerasFitParams", "keyword arguments of keras Model.fit (a dict)")
    outputMode = Param(
        Params._dummy(),
        "outputMode",
        "vector or array (of the fitted transformer)",
        typeConverter=TypeConverters.toString,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: Optional[str] = None,
        outputCol: Optional[str] = None,
        labelCol: Optional[str] = None,
        imageLoader: Optional[Callable[[str], Any]] = None,
        modelFile: Optional[str] = None,
        kerasOptimizer: Any = None,
        kerasLoss: Optional[str] = None,
        kerasFitParams: Optional[Dict[str, Any]] = None,
        outputMode: Optional[str] = None,
        batchSize: Optional[int] = None,
        errorCol: Optional[str] = None,
        seed: Optional[int] = None,
    ) -> None:
        super().__init__()
        from sparkdl._jvm import connect_unsupported, is_connect

        if is_connect():
            raise connect_unsupported(
                "KerasImageFileEstimator (Keras in this Python process)",
                "Run it where the driver is (spark-submit, a notebook attached to the cluster).",
            )
        self._setDefault(
            kerasOptimizer="adam", kerasFitParams={"verbose": 0}, outputMode="vector", batchSize=64, seed=DEFAULT_SEED
        )
        self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    # Setters/getters with the original's names.
    def setImageLoader(self, value):
        return self._set(imageLoader=value)

    def getImageLoader(self):
        return self.getOrDefault(self.imageLoader)

    def setModelFile(self, value):
        return self._set(modelFile=value)

    def getModelFile(self):
        return self.getOrDefault(self.modelFile)

    def setKerasOptimizer(self, value):
        return self._set(kerasOptimizer=value)

    def getKerasOptimizer(self):
        return self.getOrDefault(self.kerasOptimizer)

    def setKerasLoss(self, value):
        return self._set(kerasLoss=value)

    def getKerasLoss(self):
        return self.getOrDefault(self.kerasLoss)

    def setKerasFitParams(self, value):
        return self._set(kerasFitParams=value)

    def getKerasFitParams(self):
        return self.getOrDefault(self.kerasFitParams)

    def setOutputMode(self, value):
        return self._set(outputMode=value)

    def setSeed(self, value):
        return self._set(seed=value)

    # -- fitting ---------------------------------------------------------------------------
    def _fit(self, dataset: DataFrame) -> KerasImageFileTransformer:
        return next(iter(self.fitMultiple(dataset, [{}])))[1]

    def fitMultiple(
        self, dataset: DataFrame, paramMaps: Sequence[Dict[Param, Any]]
    ) -> Iterator[Tuple[int, KerasImageFileTransformer]]:
        """Trains every map in one Spark job, a task per map; yields (index, model) in index
        order. A failed trial raises, naming its parameter map, when its turn comes."""
        self._check(dataset)
        trials = [self.copy(m) for m in paramMaps]
        for t in trials:
            t._check(dataset)
        model_path = self._local_model_path()
        with open(model_path, "rb") as fh:
            model_bytes = fh.read()
        shape = self._input_shape(model_path)
        spark = dataset.sparkSession
        data = self._training_data(dataset, shape)
        try:
            configs = [
                (
                    i,
                    {
                        "optimizer": t.getKerasOptimizer(),
                        "loss": t.getKerasLoss(),
                        "fit": dict(t.getKerasFitParams() or {}),
                        "seed": t.getSeed(),
                        "params": _describe(paramMaps[i]),
                    },
                )
                for i, t in enumerate(trials)
            ]
            model_bc = spark.sparkContext.broadcast(model_bytes)
            suffix = os.path.splitext(model_path)[1] or ".keras"
            train = _trainer(data, model_bc, suffix)
            results = dict(spark.sparkContext.parallelize(configs, len(configs)).map(train).collect())
            model_bc.unpersist()
        finally:
            data.release()

        def models() -> Iterator[Tuple[int, KerasImageFileTransformer]]:
            for i, t in enumerate(trials):
                ok, payload = results[i]
                if not ok:
                    raise RuntimeError(
                        f"KerasImageFileEstimator: the trial with params {configs[i][1]['params']} failed: {payload}"
                    )
                yield i, t._transformer(payload, suffix)

        return models()

    def _check(self, dataset: DataFrame) -> None:
        for p in (self.inputCol, self.outputCol, self.labelCol, self.imageLoader, self.modelFile, self.kerasLoss):
            if not self.isDefined(p):
                raise ValueError(
                    f"{p.name}: set it (KerasImageFileEstimator needs inputCol, outputCol, labelCol, "
                    "imageLoader, modelFile and kerasLoss)"
                )
        for p in (self.inputCol, self.labelCol):
            if self.getOrDefault(p) not in dataset.columns:
                raise ValueError(
                    f"{p.name}: no column '{self.getOrDefault(p)}' (columns: {', '.join(dataset.columns)})"
                )
        if not isinstance(self.getKerasFitParams() or {}, dict):
            raise ValueError(f"kerasFitParams: give a dict of Model.fit arguments, got {self.getKerasFitParams()!r}")

    def _local_model_path(self) -> str:
        f = self.getModelFile()
        path = f[len("file:") :] if f.startswith("file:") else f
        if not os.path.isfile(path):
            raise ValueError(f"modelFile: no such file: {f} (give a local .keras or .h5 file)")
        return path

    @staticmethod
    def _input_shape(model_path: str) -> tuple:
        import keras

        model = keras.models.load_model(model_path, compile=False)
        shape = tuple(model.inputs[0].shape[1:])
        if any(d is None for d in shape):
            raise ValueError(
                f"modelFile: the model's input shape {(None,) + shape} has unknown dimensions "
                "besides the batch; build it with a fixed size"
            )
        return shape

    def _training_data(self, dataset: DataFrame, shape: tuple) -> _TrainingData:
        """Loads the images (imageLoader, in Python workers) once, for every trial."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.ml.linalg import VectorUDT
        from pyspark.sql import functions as F

        spark = dataset.sparkSession
        label = F.col(self.getLabelCol())
        if isinstance(dataset.schema[self.getLabelCol()].dataType, VectorUDT):
            label = vector_to_array(label)  # dense or sparse vectors: dense float arrays
        load = _loader_udf(self.getImageLoader(), tuple(shape), self.getInputCol(), self.getOrDefault(self.batchSize))
        loaded = (
            dataset.select(load(F.col(self.getInputCol())).alias("l"), label.alias("y"))
            .where(F.col("l.x").isNotNull() & F.col("y").isNotNull())
            .select(F.col("l.x").alias("x"), "y")
        )
        n = loaded.count()
        if n == 0:
            raise ValueError(
                f"KerasImageFileEstimator: no training rows: imageLoader gave no image for any URI of "
                f"'{self.getInputCol()}' with a label in '{self.getLabelCol()}'"
            )
        size = n * int(np.prod(shape)) * 4
        limit = int(_setting(spark, MAX_BROADCAST_CONF))
        if size <= limit:
            rows = loaded.collect()
            x = np.stack([np.asarray(r.x, np.float32).reshape(shape) for r in rows])
            y = _labels([r.y for r in rows])
            return _TrainingData(broadcast=spark.sparkContext.broadcast((x, y)))
        base = _setting(spark, DATA_DIR_CONF) or tempfile.mkdtemp(prefix="sparkdl-tuning-")
        path = os.path.join(base, f"data-{self.uid}-{os.getpid()}-{id(dataset)}")
        loaded.write.mode("overwrite").parquet(path)
        return _TrainingData(path=path)

    def _transformer(self, model_bytes: bytes, suffix: str) -> KerasImageFileTransformer:
        """The fitted transformer: the trained model written to a local file (its modelFile)."""
        fd, path = tempfile.mkstemp(prefix="sparkdl-trained-", suffix=suffix)
        with os.fdopen(fd, "wb") as fh:
            fh.write(model_bytes)
        t = KerasImageFileTransformer(
            inputCol=self.getInputCol(),
            outputCol=self.getOutputCol(),
            modelFile=path,
            imageLoader=self.getImageLoader(),
            outputMode=self.getOrDefault(self.outputMode),
            batchSize=self.getOrDefault(self.batchSize),
        )
        if self.isSet(self.errorCol):
            t.setErrorCol(self.getOrDefault(self.errorCol))
        return t


def _describe(param_map: Dict[Param, Any]) -> str:
    return json.dumps({p.name: v for p, v in param_map.items()}, default=repr, sort_keys=True)


def _trainer(data: _TrainingData, model_bc: Any, suffix: str) -> Callable:
    """The function one trial task runs: (index, config) -> (index, (ok, model bytes or reason))."""

    def train(item):
        i, cfg = item
        try:
            import keras

            x, y = data.arrays()
            # numpy takes seeds below 2**32; Spark's seeds are any long.
            keras.utils.set_random_seed(int(cfg["seed"]) % (1 << 32))
            with tempfile.TemporaryDirectory(prefix="sparkdl-trial-") as tmp:
                src = os.path.join(tmp, "model" + suffix)
                with open(src, "wb") as fh:
                    fh.write(model_bc.value)
                model = keras.models.load_model(src, compile=False)
                optimizer = cfg["optimizer"]
                if isinstance(optimizer, dict):
                    optimizer = keras.optimizers.get(optimizer)
                model.compile(optimizer=optimizer, loss=cfg["loss"])
                fit = dict(cfg["fit"])
                fit.setdefault("verbose", 0)
                model.fit(x, y, **fit)
                out = os.path.join(tmp, "trained" + suffix)
                model.save(out)
                with open(out, "rb") as fh:
                    return i, (True, fh.read())
        except Exception as e:  # the trial's own failure: reported with its param map
            return i, (False, f"{type(e).__name__}: {e}")

    return train
