"""The TensorFlow example of the original Deep Learning Pipelines announcement, unchanged but
for `import tensorflow.compat.v1 as tf` (TensorFlow 2 keeps the TF1 API there).

    python examples/tf_image_transformer.py [IMAGE_FOLDER]
"""

import os
import sys

import sparkdl

spark = sparkdl.session()
sample_img_dir = (
    sys.argv[1]
    if len(sys.argv) > 1
    else os.path.join(os.path.dirname(__import__("elpv_dataset").__file__), "data", "images")
)

# --- the announcement's code -------------------------------------------------
# fmt: off
from sparkdl import readImages, TFImageTransformer
from sparkdl.transformers import utils
import tensorflow.compat.v1 as tf

image_df = readImages(sample_img_dir)

g = tf.Graph()
with g.as_default():
    image_arr = utils.imageInputPlaceholder()
    resized_images = tf.image.resize_images(image_arr, (299, 299))
    frozen_graph = utils.stripAndFreezeGraph(g.as_graph_def(add_shapes=True), tf.Session(graph=g), [resized_images])

transformer = TFImageTransformer(inputCol="image", outputCol="transformed_img", graph=frozen_graph,
                                 inputTensor=image_arr, outputTensor=resized_images, outputMode="image")
tf_trans_df = transformer.transform(image_df)
# fmt: on
# ------------------------------------------------------------------------------

if __name__ == "__main__":
    tf_trans_df.select(
        "image.origin", "transformed_img.height", "transformed_img.width", "transformed_img.nChannels"
    ).show(5, truncate=60)
