"""``python -m sparkdl.cli`` is the ``sparkdl`` command."""

from sparkdl.cli import entry_point

entry_point()
