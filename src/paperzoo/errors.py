"""The `PaperzooError` family: user mistakes the CLI turns into one line and exit code 2.

Raise these (never a bare Exception) for anything a user can fix: a bad path, an unknown
name, a bad ``--set``, a checkpoint that does not match its model. The message must name the
problem and the fix, e.g. ``"--data-dir /x has no cifar-10-batches-py/: download CIFAR-10 (python version) there"``.
"""

from __future__ import annotations


class PaperzooError(Exception):
    """Base class: a clear, user-facing error. The CLI prints ``error: <message>`` and exits 2."""

    exit_code = 2


class ConfigError(PaperzooError, ValueError):
    """A configuration value or ``--set key=value`` is unknown or has the wrong type."""


class UnknownNameError(PaperzooError, KeyError):
    """An unknown recipe/model name; the message lists near matches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(PaperzooError):
    """Input data is missing, unreadable or in the wrong format."""


class CheckpointError(PaperzooError):
    """A checkpoint is missing, corrupt, or does not match the model it is loaded into."""
