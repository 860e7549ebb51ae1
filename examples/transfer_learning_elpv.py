"""Transfer learning on real data: solar-cell defects (elpv-dataset, 2,624 electroluminescence
images of 300x300, label = defect probability >= 0.5).

Three logistic regressions, the original sparkdl's "with and without transfer learning"
comparison, each scored by k-fold cross-validation: every image is predicted once, by a model
that did not see it in training, so the accuracy is measured on all 2,624 images rather than on
one random quarter (whose accuracy moves by +-0.015 from split to split):
  1. pretrained MobileNetV2 features (DeepImageFeaturizer, "multiscale" features at 300x300)
  2. raw pixels (32x32 grey, resized natively)
  3. the same MobileNetV2 with random weights (torchvision's initialisation), same features
Fold 0 is also fitted as one Pipeline([DeepImageFeaturizer, LogisticRegression]) straight from
the images, saved, reloaded and checked to predict the same.

    python examples/transfer_learning_elpv.py [--folds 5] [--seed 42] [--fraction 1.0]
        [--feature-layer multiscale] [--image-size 300] [--reg-param 0.05] [--json out.json]
"""

import argparse
import json
import os
import sys
import tempfile
import time

import sparkdl
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.sql import functions as F


def elpv_frame(spark, fraction, seed):
    """(image, label, type) for the elpv images, with `label` = defect probability >= 0.5."""
    from sparkdl.datasets import elpv

    rows = [(uri, float(prob >= 0.5), kind) for uri, _, prob, kind in elpv.rows()]
    labels = spark.createDataFrame(rows, "origin string, label double, type string")
    images = sparkdl.readImages(elpv.images_dir())
    df = images.join(labels, images.image.origin == labels.origin).drop("origin", "error")
    if fraction < 1.0:
        df = df.sampleBy("label", {0.0: fraction, 1.0: fraction}, seed=seed)
    return df


def pixels_graph(size):
    """A graph that flattens a (size, size, 1) grey image: raw pixels as features."""
    import tensorflow.compat.v1 as tf

    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, size, size, 1], name="pixels")
        tf.reshape(x, [-1, size * size], name="flat")
    return g.as_graph_def()


def cross_validated(name, features, folds, lr, evaluator, results):
    """Accuracy over all rows of `features` (fold, label, features): each fold predicted by a
    logistic regression fitted on the other folds."""
    start = time.time()
    predictions, per_fold = None, []
    for k in range(folds):
        model = lr().fit(features.filter(F.col("fold") != k))
        p = model.transform(features.filter(F.col("fold") == k)).select("label", "prediction")
        per_fold.append(round(evaluator.evaluate(p), 4))
        predictions = p if predictions is None else predictions.unionByName(p)
    results[name] = round(evaluator.evaluate(predictions), 4)
    results[name + "_folds"] = per_fold
    results[name + "_seconds"] = round(time.time() - start, 1)
    print(
        f"{name}: accuracy {results[name]} over {folds} folds {per_fold} ({results[name + '_seconds']} s)", flush=True
    )


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=42, help="fold assignment and random weights")
    parser.add_argument("--fraction", type=float, default=1.0, help="stratified sample of the images")
    parser.add_argument("--feature-layer", default="multiscale", help="DeepImageFeaturizer featureLayer")
    parser.add_argument("--image-size", type=int, default=300, help="DeepImageFeaturizer imageSize (square)")
    parser.add_argument("--reg-param", type=float, default=0.05, help="LogisticRegression regParam")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    spark = sparkdl.session()
    # A fold per image from a hash of its path: the same folds whatever the partitioning.
    data = (
        elpv_frame(spark, args.fraction, args.seed)
        .withColumn("fold", F.abs(F.xxhash64("image.origin", F.lit(args.seed))) % args.folds)
        .repartition(8)
        .cache()
    )
    evaluator = MulticlassClassificationEvaluator(metricName="accuracy")
    results = {
        "images": data.count(),
        "folds": args.folds,
        "feature_layer": args.feature_layer,
        "image_size": args.image_size,
        "reg_param": args.reg_param,
        "majority_class": data.filter("label = 0").count() / max(1, data.count()),
    }

    def lr():
        return LogisticRegression(maxIter=300, regParam=args.reg_param, elasticNetParam=0.0, standardization=True)

    def featurizer(**kw):
        return sparkdl.DeepImageFeaturizer(
            inputCol="image",
            outputCol="features",
            modelName="MobileNetV2",
            featureLayer=args.feature_layer,
            imageSize=[args.image_size, args.image_size],
            **kw,
        )

    def evaluate(name, stage):
        features = stage.transform(data).select("fold", "label", "features").cache()
        cross_validated(name, features, args.folds, lr, evaluator, results)
        features.unpersist()

    evaluate("pretrained_mobilenet_v2", featurizer())

    with tempfile.TemporaryDirectory() as tmp:
        # The pipeline, fitted from the images on every fold but 0 and checked on fold 0.
        train, test = data.filter("fold != 0"), data.filter("fold = 0")
        model = Pipeline(stages=[featurizer(), lr()]).fit(train)
        predictions = model.transform(test).cache()
        results["pipeline_fold0"] = round(evaluator.evaluate(predictions), 4)
        model.write().overwrite().save(os.path.join(tmp, "pipeline"))
        reloaded = PipelineModel.load(os.path.join(tmp, "pipeline"))
        a = predictions.select("image.origin", "prediction").orderBy("origin").collect()
        b = reloaded.transform(test).select("image.origin", "prediction").orderBy("origin").collect()
        results["reloaded_same_predictions"] = a == b

        pixels = sparkdl.TFImageTransformer(
            inputCol="image",
            outputCol="features",
            graph=pixels_graph(32),
            inputTensor="pixels:0",
            outputTensor="flat:0",
            channelOrder="L",
            scale=1 / 255.0,
            outputMode="vector",
        )
        evaluate("raw_pixels", pixels)

        from sparkdl.datasets.elpv import random_mobilenet_weights

        weights = random_mobilenet_weights(os.path.join(tmp, "random.pth"), args.seed)
        evaluate("random_mobilenet_v2", featurizer(weightsPath=weights))

    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
