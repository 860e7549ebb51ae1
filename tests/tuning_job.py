"""The tuning checks, as one Spark application: run by tests/test_tuning.py on a local master and
on the standalone cluster (`python tuning_job.py MASTER SCRATCH_DIR`); prints `RESULT {json}`."""

import json
import os
import sys

import numpy as np
from PIL import Image


def pictures(folder):
    """8 reddish and 8 bluish noise pictures of 32x32: two separable classes."""
    rng = np.random.default_rng(11)
    rows = []
    for label, color in ((1, (200, 40, 40)), (0, (40, 60, 200))):
        for i in range(8):
            a = np.clip(rng.normal(0, 25, (32, 32, 3)) + color, 0, 255).astype(np.uint8)
            path = os.path.join(folder, f"{'red' if label else 'blue'}{i}.png")
            Image.fromarray(a).save(path)
            rows.append((path, label))
    return rows


def load_image(uri):
    return np.asarray(Image.open(uri).convert("RGB"), np.float32) / 255.0


def small_model(path):
    """A linear conv, pooled, then softmax: it separates the two colours from any start. (With a
    ReLU conv and Adam's default rate, some random starts stayed inverted after 40 steps and the
    cross-validation check failed on a clean clone; measured over 12 seeds: linear + rate 0.05
    reached AUC 1.0 on held-out halves every time, ReLU + 0.001 failed 4 of 12.)"""
    import keras

    keras.utils.set_random_seed(7)
    inp = keras.Input(shape=(32, 32, 3))
    x = keras.layers.Conv2D(4, 3)(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(2, activation="softmax")(x)
    keras.Model(inp, out).save(path)


def predictions(model, df):
    """uri -> the model's output vector, as numpy."""
    return {r.uri: r.prediction.toArray() for r in model.transform(df).select("uri", "prediction").collect()}


def main(master, scratch):
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, MulticlassClassificationEvaluator
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.tuning import CrossValidator as SparkCrossValidator
    from pyspark.ml.tuning import ParamGridBuilder
    from pyspark.sql import functions as F

    import sparkdl
    import sparkdl.tuning
    from sparkdl.estimators import KerasImageFileEstimator
    from sparkdl.transformers import KerasImageFileTransformer

    conf = {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2"}
    if master.startswith("spark://"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from cluster import CLUSTER_APP_CONF

        conf.update(CLUSTER_APP_CONF)
    spark = sparkdl.session(master=master, conf=conf)
    out = {}
    images = os.path.join(scratch, "images")
    os.makedirs(images, exist_ok=True)
    rows = pictures(images)
    # Two partitions without a shuffle: the rows keep one order on every run and master (a
    # repartition's shuffle reads its blocks in arrival order on a cluster). `fold` puts 4 red and
    # 4 blue pictures in each of two cross-validation folds.
    data = [(p, float(y), [1.0 - y, float(y)], Vectors.sparse(2, [y], [1.0]), i % 2) for i, (p, y) in enumerate(rows)]
    df = spark.createDataFrame(spark.sparkContext.parallelize(data, 2), ["uri", "label", "one_hot", "vec", "fold"])
    model_file = os.path.join(scratch, "model.keras")
    small_model(model_file)

    # 1. fit with one-hot labels; the fitted transformer runs natively and saves in a PipelineModel.
    est = KerasImageFileEstimator(
        inputCol="uri",
        outputCol="prediction",
        labelCol="one_hot",
        imageLoader=load_image,
        modelFile=model_file,
        kerasOptimizer={"class_name": "Adam", "config": {"learning_rate": 0.05}},
        kerasLoss="categorical_crossentropy",
        kerasFitParams={"epochs": 40, "batch_size": 8, "verbose": 0},
    )
    pipeline_model = Pipeline(stages=[est]).fit(df)
    preds = {r.uri: int(np.argmax(r.prediction.toArray())) for r in pipeline_model.transform(df).collect()}
    out["accuracy_one_hot"] = float(np.mean([preds[p] == y for p, y in rows]))
    saved = os.path.join(scratch, "pipeline")
    pipeline_model.write().overwrite().save(saved)
    again = {r.uri: r.prediction.toArray().tolist() for r in PipelineModel.load(saved).transform(df).collect()}
    first = {r.uri: r.prediction.toArray().tolist() for r in pipeline_model.transform(df).collect()}
    out["reloaded_same"] = all(np.allclose(again[k], first[k], atol=1e-6) for k in first)

    # Class indices and sparse vectors as labels.
    for col, loss in (("label", "sparse_categorical_crossentropy"), ("vec", "categorical_crossentropy")):
        m = est.copy({est.labelCol: col, est.kerasLoss: loss}).fit(df)
        p = {r.uri: int(np.argmax(r.prediction.toArray())) for r in m.transform(df).collect()}
        out[f"accuracy_{col}"] = float(np.mean([p[u] == y for u, y in rows]))

    # 2. fitMultiple: one task per map; a failing map names itself, the others are intact.
    grid = [
        {est.kerasFitParams: {"epochs": 1, "verbose": 0}},
        {est.kerasLoss: "no_such_loss"},
        {est.kerasFitParams: {"epochs": 40, "batch_size": 8, "verbose": 0}},
    ]
    got, errors = {}, []
    it = est.fitMultiple(df, grid)
    while True:
        try:
            i, m = next(it)
            got[i] = m
        except StopIteration:
            break
        except RuntimeError as e:
            errors.append(str(e))
            break
    rest = list(zip(*(est.copy(grid[2]).fitMultiple(df, [grid[0], grid[2]]))))  # the maps that work
    out["fit_multiple_first"] = sorted(got)
    out["fit_multiple_error"] = errors[0] if errors else ""
    out["fit_multiple_indices"] = list(rest[0])

    # fitMultiple's models carry their own maps: 0 epochs leaves the starting model as it was.
    initial = predictions(
        KerasImageFileTransformer(inputCol="uri", outputCol="prediction", modelFile=model_file, imageLoader=load_image),
        df,
    )
    by_index = dict(
        est.fitMultiple(
            df,
            [
                {est.kerasFitParams: {"epochs": 40, "batch_size": 8, "verbose": 0}},
                {est.kerasFitParams: {"epochs": 0, "verbose": 0}},
            ],
        )
    )
    trained, untouched = predictions(by_index[0], df), predictions(by_index[1], df)
    out["epochs0_is_initial"] = max(float(np.abs(untouched[u] - initial[u]).max()) for u in initial)
    out["epochs40_accuracy"] = float(np.mean([int(np.argmax(trained[p])) == y for p, y in rows]))

    # The same seed, data and params give the same model (batches of 4: fit's shuffling matters).
    small_batches = est.copy({est.kerasFitParams: {"epochs": 3, "batch_size": 4, "verbose": 0}})
    a, b = predictions(small_batches.fit(df), df), predictions(small_batches.fit(df), df)
    out["same_seed_max_diff"] = max(float(np.abs(a[u] - b[u]).max()) for u in a)

    # 3. The original's example: CrossValidator over the estimator's fit params, on the folds of
    # `fold` (Spark's random folds change with PySpark's default seed, which changes with every
    # Python process, and 16 rows sometimes give a fold of one colour, which AUC scores 0 or 1).
    param_grid = (
        ParamGridBuilder()
        .addGrid(
            est.kerasFitParams,
            [{"epochs": 5, "batch_size": 8, "verbose": 0}, {"epochs": 40, "batch_size": 8, "verbose": 0}],
        )
        .build()
    )
    bc = BinaryClassificationEvaluator(rawPredictionCol="prediction", labelCol="label")
    cv_model = SparkCrossValidator(
        estimator=est, estimatorParamMaps=param_grid, evaluator=bc, numFolds=2, foldCol="fold"
    ).fit(df)
    out["keras_cv_metrics"] = list(cv_model.avgMetrics)
    # The same folds by hand: each trial's model on its own training rows, and on its fold's
    # validation rows (the metrics CrossValidator averaged).
    train_accuracy, by_hand = [], [[0.0, 0.0], [0.0, 0.0]]
    for i in range(2):
        train, validation = df.where(F.col("fold") != i), df.where(F.col("fold") == i)
        labels = {r.uri: r.label for r in train.collect()}
        for j, m in est.fitMultiple(train, param_grid):
            p = predictions(m, train)
            train_accuracy.append(float(np.mean([int(np.argmax(p[u])) == y for u, y in labels.items()])))
            by_hand[j][i] = bc.evaluate(m.transform(validation))
    out["keras_cv_train_accuracy"] = train_accuracy
    out["keras_cv_by_hand"] = [float(np.mean(m)) for m in by_hand]

    # 4. Transfer-learning grid: featurizations computed once per featurizer setting.
    images_df = (
        sparkdl.readImages(images, numPartitions=2)
        .withColumn("label", F.col("image.origin").contains("/red").cast("double"))
        .cache()
    )
    images_df.count()
    featurizer = sparkdl.DeepImageFeaturizer(inputCol="image", outputCol="features", modelName="MobileNetV2")
    lr = LogisticRegression(maxIter=30)
    grid = (
        ParamGridBuilder().addGrid(featurizer.imageSize, [[64, 64], [96, 96]]).addGrid(lr.regParam, [0.01, 0.1]).build()
    )
    pipeline = Pipeline(stages=[featurizer, lr])
    evaluator = MulticlassClassificationEvaluator(metricName="accuracy")
    jvm = spark.sparkContext._jvm.org.sparkdl.arrow.NativeBatches
    n = images_df.count()
    start = jvm.rowsProcessed()
    ours = sparkdl.tuning.CrossValidator(
        estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator, numFolds=3, seed=5
    ).fit(images_df)
    ours_rows = jvm.rowsProcessed() - start
    start = jvm.rowsProcessed()
    spark_cv = SparkCrossValidator(
        estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator, numFolds=3, seed=5
    ).fit(images_df)
    spark_rows = jvm.rowsProcessed() - start
    out["tuning_metrics"] = [list(ours.avgMetrics), list(spark_cv.avgMetrics)]
    out["tuning_passes"] = [ours_rows / n, spark_rows / n]  # this JVM only: meaningful in local mode
    out["tuning_best_stages"] = [type(s).__name__ for s in ours.bestModel.stages]
    out["tuning_best_accuracy"] = evaluator.evaluate(ours.bestModel.transform(images_df))
    spark.stop()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
