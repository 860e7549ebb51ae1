"""Transfer learning on real data: solar-cell defects (elpv-dataset, 2,624 electroluminescence
images of 300x300, label = defect probability >= 0.5).

Three logistic regressions on the same held-out split, the original sparkdl's "with and
without transfer learning" comparison:
  1. pretrained MobileNetV2 features:  Pipeline([DeepImageFeaturizer, LogisticRegression])
  2. raw pixels (32x32 grey, resized natively)
  3. the same MobileNetV2 with random weights (torchvision's initialisation)
The pretrained pipeline is also saved, reloaded and checked to predict the same.

    python examples/transfer_learning_elpv.py [--fraction 1.0] [--seed 42] [--json out.json]
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
    import elpv_dataset

    root = os.path.join(os.path.dirname(elpv_dataset.__file__), "data")
    rows = []
    with open(os.path.join(root, "labels.csv")) as f:
        for line in f:
            path, prob, kind = line.split()
            rows.append(("file://" + os.path.abspath(os.path.join(root, path)), float(float(prob) >= 0.5), kind))
    labels = spark.createDataFrame(rows, "origin string, label double, type string")
    images = sparkdl.readImages(os.path.join(root, "images"))
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


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--fraction", type=float, default=1.0, help="stratified sample of the images")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)

    spark = sparkdl.session()
    data = elpv_frame(spark, args.fraction, args.seed).repartition(8).cache()
    train, test = data.randomSplit([0.75, 0.25], seed=args.seed)
    train, test = train.cache(), test.cache()
    evaluator = MulticlassClassificationEvaluator(metricName="accuracy")
    results = {"images": data.count(), "train": train.count(), "test": test.count(),
               "majority_class": test.filter("label = 0").count() / max(1, test.count())}

    def lr():
        return LogisticRegression(maxIter=300, regParam=0.01, elasticNetParam=0.0, standardization=True)

    def run(name, stages):
        start = time.time()
        model = Pipeline(stages=stages + [lr()]).fit(train)
        predictions = model.transform(test).cache()
        results[name] = round(evaluator.evaluate(predictions), 4)
        results[name + "_seconds"] = round(time.time() - start, 1)
        print(f"{name}: accuracy {results[name]} ({results[name + '_seconds']} s)", flush=True)
        return model, predictions

    featurizer = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="features", modelName="MobileNetV2")
    model, predictions = run("pretrained_mobilenet_v2", [featurizer])

    with tempfile.TemporaryDirectory() as tmp:
        model.write().overwrite().save(os.path.join(tmp, "pipeline"))
        reloaded = PipelineModel.load(os.path.join(tmp, "pipeline"))
        a = predictions.select("image.origin", "prediction").orderBy("origin").collect()
        b = reloaded.transform(test).select("image.origin", "prediction").orderBy("origin").collect()
        results["reloaded_same_predictions"] = a == b

        pixels = sparkdl.TFImageTransformer(inputCol="image", outputCol="features", graph=pixels_graph(32),
                                            inputTensor="pixels:0", outputTensor="flat:0", channelOrder="L",
                                            scale=1 / 255.0, outputMode="vector")
        run("raw_pixels", [pixels])

        from sparkdl.datasets.elpv import random_mobilenet_weights
        weights = random_mobilenet_weights(os.path.join(tmp, "random.pth"), args.seed)
        random_net = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="features",
                                                 modelName="MobileNetV2", weightsPath=weights)
        run("random_mobilenet_v2", [random_net])

    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
