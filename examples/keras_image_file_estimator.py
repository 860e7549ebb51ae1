"""The original Deep Learning Pipelines' tuning example: a Keras image model tuned with Spark ML's
CrossValidator over KerasImageFileEstimator's fit params, each candidate trained in its own Spark
task (in parallel on a cluster).

Changed from the original, and nothing else: Keras 3 imports; a small CNN on 64x64 grey-as-RGB
images instead of InceptionV3 with downloaded ImageNet weights (no download works here, and
fine-tuning InceptionV3 on CPUs takes hours); the solar-cell images of `elpv-dataset` (defective
or not) as the data; `epochs` in the fit params.

    python examples/keras_image_file_estimator.py [--fraction 0.05] [--master local[*]]
"""

import argparse
import os
import tempfile

parser = argparse.ArgumentParser()
parser.add_argument("--fraction", type=float, default=0.05, help="of elpv's 2,624 images")
parser.add_argument("--master", default="local[*]")
args = parser.parse_args()

import sparkdl
from sparkdl.datasets import elpv

spark = sparkdl.session(master=args.master)
labelled = elpv.labelled_paths(spark, args.fraction, seed=42)
from pyspark.sql import functions as F

train_df = (
    labelled.withColumn("uri", F.regexp_replace("path", "^file://", ""))
    .withColumn("label", (F.col("label") == "defective").cast("double"))
    .withColumn("one_hot_label", F.array(1.0 - F.col("label"), F.col("label")))
)

import keras

inp = keras.Input(shape=(64, 64, 3))
x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inp)
x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
model = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x))
model_file = os.path.join(tempfile.mkdtemp(prefix="sparkdl-example-"), "model-small.keras")
model.save(model_file)

# --- the original's code (Keras 3) ----------------------------------------------
# fmt: off
import PIL.Image
import numpy as np
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from sparkdl.estimators.keras_image_file_estimator import KerasImageFileEstimator

def load_image_from_uri(local_uri):
    img = (PIL.Image.open(local_uri).convert('RGB').resize((64, 64), PIL.Image.LANCZOS))
    img_arr = np.array(img).astype(np.float32)
    return img_arr / 255.0

estimator = KerasImageFileEstimator(inputCol="uri",
                                    outputCol="prediction",
                                    labelCol="one_hot_label",
                                    imageLoader=load_image_from_uri,
                                    kerasOptimizer='adam',
                                    kerasLoss='categorical_crossentropy',
                                    modelFile=model_file)  # local file path for model

paramGrid = (
    ParamGridBuilder()
    .addGrid(estimator.kerasFitParams, [{"batch_size": 16, "epochs": 5, "verbose": 0},
                                        {"batch_size": 32, "epochs": 5, "verbose": 0}])
    .build()
)
bc = BinaryClassificationEvaluator(rawPredictionCol="prediction", labelCol="label")
cv = CrossValidator(estimator=estimator, estimatorParamMaps=paramGrid, evaluator=bc, numFolds=2)

cvModel = cv.fit(train_df)
# fmt: on
# ----------------------------------------------------------------------------------
print(f"{train_df.count()} images; area under ROC per fit params: " + ", ".join(f"{m:.3f}" for m in cvModel.avgMetrics))
print(f"best: {paramGrid[int(np.argmax(cvModel.avgMetrics))][estimator.kerasFitParams]}")
