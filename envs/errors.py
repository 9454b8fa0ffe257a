"""The error hierarchy of mimicrec: every expected failure is a ``MimicrecError`` with a fix in it.

The CLI prints ``str(error)`` as one line on stderr and exits with ``error.exit_code``; ``counted`` words
the counts in messages.
"""

from __future__ import annotations


class MimicrecError(Exception):
    """Base of all errors a user can cause; the message says what is wrong and what to do."""

    exit_code = 2


class UsageError(MimicrecError):
    """A command-line argument is invalid (negative count, unknown choice, ...)."""


class TaskError(MimicrecError):
    """An unknown task id or an env that cannot be built as asked (e.g. GUI without display)."""


class ConfigError(MimicrecError):
    """A configuration file is missing, malformed, or has unknown or ill-typed keys."""


class DatasetError(MimicrecError):
    """An input dataset is missing, not HDF5, or lacks what the command needs."""


class GenerationError(MimicrecError):
    """Generation or recording failed while running (a worker died, too many failed attempts)."""

    exit_code = 1


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a run that keeps what it made; the message says what is kept and how to go on."""


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun`` in the plural unless it is one: "1 demo", "3 demos"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
