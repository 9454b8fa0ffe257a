"""One run lifecycle for ``record`` and ``generate``: the run folder, its ``run.json``, its datasets (kept
episodes, and failed ones with ``keep_failed``), periodic commits, and ``--resume``.

A new run gets a new folder (``--out`` or the next ``datasets/<command>_NNN``) whose ``run.json``
holds what the run was started with; ``--resume DIR`` continues it from that file and the commits
its datasets hold. A run that committed nothing leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from envs.errors import UsageError
from recorder.dataset.paths import output_dir, write_atomically
from recorder.dataset.writers import RunDatasets
from recorder.dataset.writers.lerobot_writer import LeRobotSchema

RUN_FILE = "run.json"  # what a record or generate run was started with; --resume continues from it
Options = TypeVar("Options")


def run_state(folder: str | Path) -> dict[str, Any] | None:
    """What the ``run.json`` of ``folder`` holds; None where there is none (a folder no run wrote)."""
    path = Path(folder) / RUN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def read_run_file(folder: str | Path, command: str) -> dict[str, Any]:
    """The ``run.json`` of a run folder given to ``--resume``, or a ``UsageError`` naming the fix."""
    state = run_state(folder)
    if state is None:
        raise UsageError(f"{folder}: no {RUN_FILE}; --resume takes a folder written by `mimicrec {command}`")
    wrote = command_of(state)
    if wrote != command:
        raise UsageError(f"{folder} holds a `mimicrec {wrote}` run; continue it with "
                         f"`mimicrec {wrote} --resume {folder}`")
    return state


def resumed_options(opts: Options, command: str, keys: Iterable[str], refused: dict[str, str]) -> Options:
    """``opts`` (a dataclass with a ``resume`` folder) with the ``keys`` stored in that run's ``run.json``.

    ``refused`` maps an option that may not be given with ``--resume`` to the flag a person drops.
    """
    folder = opts.resume
    if folder is None:
        return opts
    given = [flag for option, flag in refused.items() if getattr(opts, option)]
    if given:
        raise UsageError(f"--resume continues a run with its own input and folder; drop {' and '.join(given)}")
    state = read_run_file(folder, command)
    return replace(opts, **{key: state[key] for key in keys if key in state})


def command_of(state: dict[str, Any]) -> str:
    """The command whose ``run.json`` holds ``state`` (a generate run starts from an input dataset)."""
    return "generate" if "input_path" in state else "record"


@contextlib.contextmanager
def run_folder(command: str, out: str | None, resume: str | None) -> Iterator[Path]:
    """The run's folder: ``resume`` itself, or a new one (``out`` or the next numbered one) that is removed
    again if the run fails before committing anything (a lone ``run.json`` included)."""
    if resume is not None:
        with held(Path(resume), command):
            yield Path(resume)
        return
    if out is not None and (state := run_state(out)) is not None:
        wrote = command_of(state)
        raise UsageError(f"{out} holds a `mimicrec {wrote}` run already; continue it with "
                         f"`mimicrec {wrote} --resume {out}`, or pass a new --out")
    with output_dir(out, command, keep_data=True) as folder, held(folder, command):
        try:
            yield folder
        except BaseException:
            if [p.name for p in folder.iterdir()] == [RUN_FILE]:
                (folder / RUN_FILE).unlink()
            raise


@contextlib.contextmanager
def held(folder: Path, command: str) -> Iterator[None]:
    """The run folder locked for this process while the run lasts (an advisory ``flock`` on the folder itself;
    its forked workers share it): a second run into it, such as ``--resume`` of a run still going, is refused
    with a ``UsageError`` before it touches a file. Where there is no ``flock`` (Windows, file systems without
    locks) nothing is locked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    handle = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(f"{folder} is in use by another `mimicrec {command}` run; let it end (or stop it "
                             f"with Ctrl-C), then `mimicrec {command} --resume {folder}`") from None
        except OSError:  # a file system without locks (some network mounts): the run goes on unlocked
            pass
        yield
    finally:
        os.close(handle)


class Run(RunDatasets):
    """A run's datasets and its ``run.json`` (``state``: the options it started with, plus counters).

    ``commit_if_due`` commits every ``commit_every_s`` seconds (0: at every call); ``close`` finishes
    the datasets, and a run that kept nothing leaves no ``run.json``.
    """

    def __init__(self, out: Path, hdf5_name: str, env_args: dict, schema: LeRobotSchema, state: dict[str, Any],
                 attrs: dict | None = None, keep_failed: bool = False, resume: bool = False,
                 commit_every_s: float = 0.0) -> None:
        super().__init__(out, hdf5_name, env_args, schema, attrs, keep_failed=keep_failed, resume=resume)
        self.state = dict(state)
        self.commit_every_s = commit_every_s
        self.last_commit = time.perf_counter()
        self.save_state()

    def save_state(self, **changes: Any) -> None:
        """Rewrite ``run.json`` atomically with ``changes`` applied."""
        self.state.update(changes)
        write_atomically(self.out / RUN_FILE, json.dumps(self.state, indent=2, default=str))

    def commit(self, progress: dict | None = None) -> None:
        """Commit every dataset now (``progress`` goes into the HDF5 index)."""
        super().commit(progress)
        self.last_commit = time.perf_counter()

    def commit_if_due(self, progress: dict | None = None) -> None:
        """Commit if ``commit_every_s`` have passed since the last commit."""
        if time.perf_counter() - self.last_commit >= self.commit_every_s:
            self.commit(progress)

    def close(self, progress: dict | None = None) -> None:
        """Finish the datasets (with the run's ``progress``); a run that kept nothing leaves no ``run.json``."""
        super().close(progress)
        if not any(group.count for group in self.groups):
            (self.out / RUN_FILE).unlink(missing_ok=True)
