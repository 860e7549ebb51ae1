"""The Keras example of the original Deep Learning Pipelines announcement, on Keras 3.

Changed from the announcement, and nothing else: Keras 3 imports (`keras.utils.load_img` /
`img_to_array`, `keras.applications.inception_v3.preprocess_input`), `InceptionV3(weights=None)`
(no weights can be downloaded here; pass your own trained model file the same way), and local
paths instead of dbfs (`dbutils` lines dropped).

    python examples/keras_image_file_transformer.py [IMAGE_FOLDER]
"""

import os
import sys

import sparkdl
from pyspark.sql import SQLContext

spark = sparkdl.session()
sqlContext = SQLContext(spark.sparkContext)
sample_img_dir = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.path.join(os.path.dirname(__import__("elpv_dataset").__file__), "data", "images")
)

# --- the announcement's code (Keras 3) -----------------------------------------
# fmt: off
from keras.applications import InceptionV3
from keras.applications.inception_v3 import preprocess_input
from keras.utils import img_to_array, load_img
import numpy as np
from pyspark.sql.types import StringType
from sparkdl import KerasImageFileTransformer

model = InceptionV3(weights=None)
model.save('/tmp/model-full.h5')

def loadAndPreprocessKerasInceptionV3(uri):
    image = img_to_array(load_img(uri, target_size=(299, 299)))
    image = np.expand_dims(image, axis=0)
    return preprocess_input(image)

transformer = KerasImageFileTransformer(inputCol="uri", outputCol="predictions",
                                        modelFile='/tmp/model-full.h5',
                                        imageLoader=loadAndPreprocessKerasInceptionV3,
                                        outputMode="vector")

files = [os.path.join(sample_img_dir, f) for f in sorted(os.listdir(sample_img_dir))]
uri_df = sqlContext.createDataFrame(files, StringType()).toDF("uri")
keras_pred_df = transformer.transform(uri_df)
# fmt: on
# ------------------------------------------------------------------------------

if __name__ == "__main__":
    for row in keras_pred_df.limit(5).collect():
        top = int(np.argmax(row.predictions.toArray())) if row.predictions is not None else None
        print(row.uri, "top class:", top, row.predictions_error or "")
