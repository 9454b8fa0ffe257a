"""Dataset writers fed by one episode stream: robomimic HDF5 and LeRobot v3.0, committed together.

``write`` appends an episode; ``commit`` makes everything written so far durable and readable in
place (both formats), so a crash or ``kill -9`` loses at most the episodes since the last commit;
``close`` commits and finishes the files; ``abort`` drops what was not committed. The HDF5 file
commits first: after a crash between the two commits it holds the newer episodes, and
``dataset_writers(..., resume=True)`` copies them into the LeRobot dataset before going on.
``RunDatasets`` is a run's pair of groups: kept episodes, and failed ones under ``failed/``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from envs.errors import DatasetError
from recorder.dataset.episode import Episode
from recorder.dataset.writers.lerobot_writer import LeRobotSchema, LeRobotWriter, lerobot_dataset_class
from recorder.dataset.writers.robomimic_hdf5 import RobomimicHDF5Writer, read_episodes


class EpisodeWriter(Protocol):
    """What the record loop and the generator write episodes to."""

    count: int

    def write(self, episode: Episode) -> None:
        """Append one episode."""

    def commit(self, progress: dict | None = None) -> None:
        """Make the episodes written so far durable and readable (with the run's ``progress``)."""

    def close(self, progress: dict | None = None) -> None:
        """Commit (with the run's ``progress``) and finish the dataset."""

    def abort(self) -> None:
        """Drop the episodes written since the last commit."""


class WriterGroup:
    """Fans one episode stream out to several writers; commits, closes or aborts them together."""

    def __init__(self, writers: Sequence[EpisodeWriter]) -> None:
        self.writers = list(writers)
        counts = {w.count for w in self.writers}
        if len(counts) > 1:
            raise DatasetError(f"the run's datasets hold different numbers of episodes ({sorted(counts)}); "
                               "they cannot be resumed together")
        self.count = counts.pop() if counts else 0

    def write(self, episode: Episode) -> None:
        """Write ``episode`` to every writer."""
        for writer in self.writers:
            writer.write(episode)
        self.count += 1

    def commit(self, progress: dict | None = None) -> None:
        """Commit every writer, in order (HDF5 first); ``progress`` goes into the HDF5 index."""
        for writer in self.writers:
            writer.commit(progress)

    @property
    def hdf5(self) -> RobomimicHDF5Writer:
        """The group's HDF5 writer."""
        return next(w for w in self.writers if isinstance(w, RobomimicHDF5Writer))

    def close(self, progress: dict | None = None) -> None:
        """Close every writer, in order (HDF5 first); ``progress`` goes into the HDF5 file."""
        for writer in self.writers:
            writer.close(progress)

    def abort(self) -> None:
        """Abort every writer."""
        for writer in self.writers:
            writer.abort()


def dataset_writers(hdf5_path: str, lerobot_root: str, env_args: dict, schema: LeRobotSchema,
                    attrs: dict | None = None, resume: bool = False) -> WriterGroup:
    """Both writers of a run; with ``resume``, continue an interrupted run (LeRobot catches up from HDF5)."""
    hdf5 = RobomimicHDF5Writer(hdf5_path, env_args, {"recording": schema.recording, **(attrs or {})}, resume=resume)
    lerobot = LeRobotWriter(lerobot_root, schema, resume=resume, attrs=attrs)
    if resume and lerobot.count < hdf5.count:
        for episode in read_episodes(hdf5_path, start=lerobot.count):
            lerobot.write(episode)
        lerobot.commit()
    return WriterGroup([hdf5, lerobot])


class RunDatasets:
    """A run's datasets: kept episodes in ``out``, and (with ``keep_failed``) failed ones in ``out/failed/``."""

    def __init__(self, out: Path, hdf5_name: str, env_args: dict, schema: LeRobotSchema, attrs: dict | None = None,
                 keep_failed: bool = False, resume: bool = False) -> None:
        self.out = out
        self.paths = out / hdf5_name, out / "lerobot"
        self.kept = dataset_writers(str(self.paths[0]), str(self.paths[1]), env_args, schema, attrs, resume)
        self.failed = None
        if keep_failed:
            (out / "failed").mkdir(exist_ok=True)
            self.failed = dataset_writers(str(out / "failed" / hdf5_name), str(out / "failed" / "lerobot"),
                                          env_args, schema, attrs, resume)

    @property
    def groups(self) -> list[WriterGroup]:
        """The writer groups in use."""
        return [g for g in (self.kept, self.failed) if g is not None]

    def prepare(self) -> None:
        """Import lerobot now (it takes seconds) instead of at the first episode."""
        lerobot_dataset_class()

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """``prepare`` in a background thread while the block runs (the first episodes are recorded during
        lerobot's import instead of waiting for it at the first save); joined on leaving, so no import is cut
        off at exit. A failed import is met again, and raised, at the first save."""
        importer = threading.Thread(target=self.prepare, name="mimicrec-import", daemon=True)
        importer.start()
        try:
            yield
        finally:
            importer.join()

    def write(self, episode: Episode, kept: bool) -> None:
        """Write ``episode`` to the kept or the failed datasets."""
        (self.kept if kept else self.failed).write(episode)

    def commit(self, progress: dict | None = None) -> None:
        """Commit the failures first, then the kept episodes (whose HDF5 index holds ``progress``)."""
        for group in reversed(self.groups):
            group.commit(progress)

    def close(self, progress: dict | None = None) -> None:
        """Finish every dataset, the failures first as in ``commit`` (a group that got no episode writes nothing);
        an empty failed/ goes."""
        for group in reversed(self.groups):
            group.close(progress)
        folder = self.out / "failed"
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    def abort(self) -> None:
        """Drop what was not committed."""
        for group in self.groups:
            group.abort()
