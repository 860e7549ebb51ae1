"""Tuning transfer learning without recomputing the network: a ``CrossValidator`` that computes
each distinct featurization once.

Spark ML's ``CrossValidator`` over ``Pipeline([DeepImageFeaturizer, classifier])`` fits the whole
pipeline for every fold and parameter map, so the network featurizes every image about
``numFolds x len(grid)`` times although, for a given featurizer setting, the features never
change. ``sparkdl.tuning.CrossValidator`` is a drop-in replacement: when the estimator is a
Pipeline whose first stage is a sparkdl image stage (``DeepImageFeaturizer``,
``TFImageTransformer``, ...), it groups the grid by that stage's params (``modelName``,
``featureLayer``, ``imageSize``, ...), featurizes the whole dataset once per group (cached; only the best
group so far stays cached, so at most two featurizations are held at once), and fits and
evaluates only the rest of the pipeline per fold and map, on the same folds as Spark's
CrossValidator. The result is Spark's ``CrossValidatorModel`` (``bestModel``, ``avgMetrics``,
``stdMetrics``), whose best model is the full pipeline. Other estimators go through Spark's own
CrossValidator unchanged.

>>> from pyspark.ml.tuning import ParamGridBuilder
>>> featurizer = DeepImageFeaturizer(inputCol="image", outputCol="features", modelName="MobileNetV2")
>>> lr = LogisticRegression()
>>> grid = (ParamGridBuilder().addGrid(featurizer.featureLayer, ["pool", "multiscale"])
...         .addGrid(lr.regParam, [0.01, 0.05]).build())
>>> cv = sparkdl.tuning.CrossValidator(estimator=Pipeline(stages=[featurizer, lr]),
...         estimatorParamMaps=grid, evaluator=MulticlassClassificationEvaluator(), numFolds=3)
>>> model = cv.fit(images)          # 2 featurization passes instead of 3 x 4 + 1
"""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.param import Param
from pyspark.ml.tuning import CrossValidator as SparkCrossValidator
from pyspark.ml.tuning import CrossValidatorModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

__all__ = ["CrossValidator"]


def _image_stage(stage: Any) -> bool:
    """A sparkdl stage that runs a network on images (its features are what tuning reuses)."""
    from sparkdl.transformers.named_image import DeepImageFeaturizer, DeepImagePredictor
    from sparkdl.transformers.tf_image import TFImageTransformer

    return isinstance(stage, (DeepImageFeaturizer, DeepImagePredictor, TFImageTransformer))


class CrossValidator(SparkCrossValidator):
    """Spark ML's CrossValidator, computing each distinct featurization of a
    ``Pipeline([sparkdl image stage, ...])`` once (see the module's documentation)."""

    def _fit(self, dataset: DataFrame) -> CrossValidatorModel:
        est = self.getOrDefault(self.estimator)
        stages = est.getStages() if isinstance(est, Pipeline) else []
        if len(stages) < 2 or not _image_stage(stages[0]) or self.getCollectSubModels():
            return super()._fit(dataset)
        featurizer, rest = stages[0], stages[1:]
        epm = self.getOrDefault(self.estimatorParamMaps)
        eva = self.getOrDefault(self.evaluator)
        n_folds = self.getOrDefault(self.numFolds)

        # Group the grid by the featurizer's own params, in the grid's order.
        groups: Dict[Tuple, List[Tuple[int, Dict[Param, Any]]]] = {}
        for j, m in enumerate(epm):
            key = tuple(sorted(((p.name, _freeze(v)) for p, v in m.items() if p.parent == featurizer.uid)))
            rest_map = {p: v for p, v in m.items() if p.parent != featurizer.uid}
            groups.setdefault(key, []).append((j, rest_map))

        # The folds of Spark's CrossValidator (the same rand(seed) column, or foldCol).
        fold_col = self.getOrDefault(self.foldCol)
        rand_col = self.uid + "_rand"
        with_folds = dataset if fold_col else dataset.select("*", F.rand(self.getOrDefault(self.seed)).alias(rand_col))

        def fold(df: DataFrame, i: int) -> Tuple[DataFrame, DataFrame]:
            if fold_col:
                cond = F.col(fold_col) == F.lit(i)
            else:
                h = 1.0 / n_folds
                cond = (F.col(rand_col) >= i * h) & (F.col(rand_col) < (i + 1) * h)
            return df.filter(~cond), df.filter(cond)

        # One featurization pass per group; only the best group so far stays cached, so at most
        # two featurizations of the dataset are held at once, whatever the grid's size.
        larger_better = eva.isLargerBetter()
        metrics_all = [[0.0] * len(epm) for _ in range(n_folds)]
        best: Optional[Tuple[float, int]] = None  # (average metric, map index) of the best map
        best_features: Optional[DataFrame] = None
        for key, members in groups.items():
            f = featurizer.copy(dict((featurizer.getParam(name), _thaw(v)) for name, v in key))
            features = f.transform(with_folds).persist()
            features.count()  # the one featurization pass of this group
            for i in range(n_folds):
                train, validation = fold(features, i)
                for j, rest_map in members:
                    model = Pipeline(stages=rest).fit(train, rest_map)
                    metrics_all[i][j] = eva.evaluate(model.transform(validation, rest_map))
            improved = False
            for j, _ in members:
                avg = float(np.mean([metrics_all[i][j] for i in range(n_folds)]))
                if best is None or _better(avg, j, best, larger_better):
                    best, improved = (avg, j), True
            if improved:
                if best_features is not None:
                    best_features.unpersist()
                best_features = features
            else:
                features.unpersist()

        metrics, std_metrics = SparkCrossValidator._gen_avg_and_std_metrics(metrics_all)
        assert best is not None and best_features is not None
        best_j = best[1]
        # The best model: its featurizer, and the rest refitted on all the (cached) features.
        best_rest = {p: v for p, v in epm[best_j].items() if p.parent != featurizer.uid}
        best_featurizer = featurizer.copy({p: v for p, v in epm[best_j].items() if p.parent == featurizer.uid})
        rest_model = Pipeline(stages=rest).fit(best_features.drop(*([] if fold_col else [rand_col])), best_rest)
        best_features.unpersist()
        best_model = PipelineModel([best_featurizer] + list(rest_model.stages))
        return self._copyValues(CrossValidatorModel(best_model, metrics, None, std_metrics))


def _better(avg: float, j: int, best: Tuple[float, int], larger_better: bool) -> bool:
    """Whether map j (average metric avg) beats the best so far; ties go to the lower index, as
    numpy's argmax/argmin in Spark's CrossValidator."""
    if avg == best[0]:
        return j < best[1]
    return avg > best[0] if larger_better else avg < best[0]


def _freeze(v: Any) -> Any:
    """A hashable form of a param value (lists, e.g. imageSize, become tuples)."""
    return tuple(v) if isinstance(v, list) else v


def _thaw(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
