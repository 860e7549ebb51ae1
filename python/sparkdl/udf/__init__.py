"""Models as SQL functions: ``registerModel`` (any JVM-backed sparkdl stage or PipelineModel)
and the original sparkdl's ``registerKerasImageUDF``.

The functions live in the JVM's session, so SQL text sees them (``spark.sql``, and, for
functions registered from the server's own configuration, JDBC and Spark Connect clients).
sparkdl's own SQL functions (``sparkdl_decode_image``, ``sparkdl_featurize``,
``sparkdl_predict``) need no registration: ``sparkdl.session()`` enables them.
"""

from sparkdl.udf.keras_image_model import registerKerasImageUDF, registerModel

__all__ = ["registerModel", "registerKerasImageUDF"]
