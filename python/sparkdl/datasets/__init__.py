"""Real datasets from PyPI packages, as Spark DataFrames (for the demo, examples and tests)."""
