"""Tuning transfer learning on elpv (2,624 solar-cell images): which MobileNetV2 layer, which
input size, which regularisation, chosen by 3-fold cross-validation in Spark.

The grid has 8 maps: DeepImageFeaturizer.featureLayer {pool, multiscale} x imageSize {224, 300}
x LogisticRegression.regParam {0.01, 0.05}. Spark ML's CrossValidator would run the network on
every image 3 x 8 + 1 = 25 times; sparkdl.tuning.CrossValidator runs it once per distinct
featurizer setting (4 here) and fits only the logistic regression per fold and map. The best
model is the whole Pipeline([DeepImageFeaturizer, LogisticRegression]), refitted on all images.

    python examples/tuning_elpv.py [--fraction 1.0] [--folds 3] [--master local[*]] [--json out.json]
"""

import argparse
import json
import sys
import time

import sparkdl
import sparkdl.tuning
from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.ml.feature import StringIndexer
from pyspark.ml.tuning import ParamGridBuilder


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--fraction", type=float, default=1.0, help="stratified sample of the images")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--master", default=None, help="Spark master (default: local[*])")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    from sparkdl.datasets import elpv

    spark = sparkdl.session(master=args.master) if args.master else sparkdl.session()
    paths = elpv.labelled_paths(spark, args.fraction, seed=args.seed)
    data = StringIndexer(inputCol="label", outputCol="y").fit(paths).transform(paths).repartition(8).cache()
    n = data.count()

    featurizer = sparkdl.DeepImageFeaturizer(inputCol="path", outputCol="features", modelName="MobileNetV2")
    lr = LogisticRegression(labelCol="y", maxIter=300, standardization=True)
    grid = (
        ParamGridBuilder()
        .addGrid(featurizer.featureLayer, ["pool", "multiscale"])
        .addGrid(featurizer.imageSize, [[224, 224], [300, 300]])
        .addGrid(lr.regParam, [0.01, 0.05])
        .build()
    )
    evaluator = MulticlassClassificationEvaluator(labelCol="y", metricName="accuracy")
    cv = sparkdl.tuning.CrossValidator(
        estimator=Pipeline(stages=[featurizer, lr]),
        estimatorParamMaps=grid,
        evaluator=evaluator,
        numFolds=args.folds,
        seed=args.seed,
    )

    counter = spark.sparkContext._jvm.org.sparkdl.arrow.NativeBatches
    rows_before, start = counter.rowsProcessed(), time.perf_counter()
    model = cv.fit(data)
    seconds = time.perf_counter() - start
    passes = (counter.rowsProcessed() - rows_before) / n  # this JVM's executors only: local mode

    def describe(m):
        return {p.name: v for p, v in m.items()}

    table = sorted(zip(model.avgMetrics, model.stdMetrics, grid), key=lambda t: -t[0])
    print(
        f"{n} images, {args.folds}-fold cross-validation, {len(grid)} maps, {seconds:.0f} s, "
        f"{passes:.1f} featurization passes"
    )
    for mean, std, m in table:
        d = describe(m)
        print(
            f"  accuracy {mean:.4f} +- {std:.4f}  featureLayer={d['featureLayer']:10} "
            f"imageSize={d['imageSize'][0]}  regParam={d['regParam']}"
        )
    best_featurizer, best_lr = model.bestModel.stages
    best = {
        "featureLayer": best_featurizer.getOrDefault("featureLayer"),
        "imageSize": best_featurizer.getOrDefault("imageSize")[0],
        "regParam": best_lr.getRegParam(),
    }
    print(f"best: {best}, cross-validated accuracy {max(model.avgMetrics):.4f}")
    results = {
        "images": n,
        "folds": args.folds,
        "maps": len(grid),
        "seconds": round(seconds, 1),
        "featurization_passes": passes,
        "best": best,
        "best_accuracy": max(model.avgMetrics),
        "table": [{"accuracy": mean, "std": std, **describe(m)} for mean, std, m in table],
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
