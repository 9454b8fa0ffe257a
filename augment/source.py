"""Annotated source demos as generation reads them: Mimic series plus subtask end indices per eef."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import DatasetError
from recorder.dataset.datagen_info import DatagenInfo
from recorder.dataset.reading import dataset_env, demo_names, open_dataset

STORED_SPEC_ATTR = "mimic_spec"  # an annotated file's ``data`` attribute: the whole spec it was annotated with


@dataclass(frozen=True)
class SourceDemo:
    """One annotated demo: its name, Mimic data and, per eef, the exclusive end index of each subtask."""

    name: str
    info: DatagenInfo
    subtask_ends: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.info)


@dataclass(frozen=True)
class SourceSet:
    """All source demos of an annotated file and the env they were recorded in."""

    path: str
    env_id: str
    env_kwargs: dict[str, Any]
    demos: tuple[SourceDemo, ...]
    spec_text: str | None = None  # the spec the demos were annotated with (JSON), where the file stores it


def load_sources(path: str | Path) -> SourceSet:
    """Read every demo of an annotated file; a file without annotations raises ``DatasetError``."""
    with open_dataset(path) as file:
        env_id, env_kwargs = dataset_env(file)
        demos = tuple(_read_demo(file, name) for name in demo_names(file))
        stored = file["data"].attrs.get(STORED_SPEC_ATTR)
    return SourceSet(str(path), env_id, env_kwargs, demos, None if stored is None else str(stored))


def _read_demo(file, name: str) -> SourceDemo:
    group = file["data"][name]
    if "datagen_info/subtask_term_inds" not in group:
        raise DatasetError(f"{file.filename}: {name} has no subtask annotations; "
                           f"run `mimicrec annotate {file.filename} --auto` first and generate from its output")
    info = DatagenInfo.read(group["datagen_info"])
    ends = {eef: ds[()] for eef, ds in group["datagen_info/subtask_term_inds"].items()}
    return SourceDemo(name, info, ends)


def draw_subtask_ends(demo: SourceDemo, eef: str, offset_ranges: list[tuple[int, int]],
                      rng: np.random.Generator) -> np.ndarray:
    """Subtask ends of ``demo`` shifted by offsets drawn uniformly (inclusive) from each range.

    The last end stays at the demo's length; every segment keeps at least one step.
    """
    ends = demo.subtask_ends[eef].astype(np.int64).copy()
    for i, (lo, hi) in enumerate(offset_ranges[:-1]):
        shifted = ends[i] + int(rng.integers(lo, hi + 1))
        lower = ends[i - 1] + 1 if i > 0 else 1
        ends[i] = int(np.clip(shifted, lower, len(demo) - 1))
    return ends
