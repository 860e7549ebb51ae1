"""``python -m sparkdl.models list | export NAME [--weights W] [--out PATH] [--engine tensorflow|onnx]``"""

import argparse
import sys

from sparkdl import models


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkdl.models", description="sparkdl's named pretrained models")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the named models")
    export = sub.add_parser("export", help="write a model's frozen graph (default: into the model cache)")
    export.add_argument("name")
    export.add_argument(
        "--weights",
        help="weights file (.pth for MobileNetV2, .h5 for Keras models), "
        "'imagenet' (Keras download) or 'none' (random)",
    )
    export.add_argument("--out", help="where to write the .pb (default: the model cache) or the .onnx")
    export.add_argument(
        "--engine",
        default="tensorflow",
        choices=["tensorflow", "onnx"],
        help="the model's format: a frozen TensorFlow graph (default) or, for natively built models, ONNX",
    )
    args = parser.parse_args(argv)
    if args.command == "list":
        for m in models.describeModels():
            print(
                f"{m['name']:12} {m['height']}x{m['width']} {m['features']:5} features  "
                f"{m['graphSource']:6}  cache: {m['cachedGraph']}"
            )
        return 0
    print(models.exportModel(args.name, args.weights, args.out, args.engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
