"""Image helpers and readers: Spark image structs <-> numpy / PIL, and the sparkdl
image readers (``readImages``, ``readImageFiles``)."""

from sparkdl.image.imageIO import (
    OcvType,
    PIL_to_imageStruct,
    createResizeImageUDF,
    filesToDF,
    imageArrayToStruct,
    imageFields,
    imageSchema,
    imageStructToArray,
    imageStructToPIL,
    imageTypeByName,
    imageTypeByOrdinal,
    ocvTypes,
    readImageFiles,
    readImages,
)

__all__ = [
    "OcvType",
    "PIL_to_imageStruct",
    "createResizeImageUDF",
    "filesToDF",
    "imageArrayToStruct",
    "imageFields",
    "imageSchema",
    "imageStructToArray",
    "imageStructToPIL",
    "imageTypeByName",
    "imageTypeByOrdinal",
    "ocvTypes",
    "readImageFiles",
    "readImages",
]
