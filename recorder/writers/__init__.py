"""Dataset writers fed by one episode stream: robomimic HDF5 and LeRobot v3.0.

Each writer writes into a temporary location and moves it into place only on ``close()``;
``abort()`` (or leaving a ``with`` block by an exception) removes everything it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from recorder.episode import Episode


class EpisodeWriter(Protocol):
    """What the record loop and the generator write episodes to."""

    def write(self, episode: Episode) -> None:
        """Append one episode."""

    def close(self) -> None:
        """Finish the dataset and move it into place."""

    def abort(self) -> None:
        """Remove everything written so far."""


class WriterGroup:
    """Fans one episode stream out to several writers; closes or aborts them together."""

    def __init__(self, writers: Sequence[EpisodeWriter]) -> None:
        self.writers = list(writers)
        self.count = 0

    def write(self, episode: Episode) -> None:
        """Write ``episode`` to every writer."""
        for writer in self.writers:
            writer.write(episode)
        self.count += 1

    def close(self) -> None:
        """Close every writer."""
        for writer in self.writers:
            writer.close()

    def abort(self) -> None:
        """Abort every writer."""
        for writer in self.writers:
            writer.abort()

    def __enter__(self) -> WriterGroup:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
