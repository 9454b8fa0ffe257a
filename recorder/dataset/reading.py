"""Opening mimicrec HDF5 datasets with clear errors, and reading demos back as ``Episode`` pieces."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from envs.errors import DatasetError
from recorder.dataset.tasks import read_env_args
from recorder.dataset.writers.robomimic_hdf5 import sorted_demo_names


@contextlib.contextmanager
def open_dataset(path: str | Path) -> Iterator[h5py.File]:
    """Open an HDF5 dataset read-only; a missing, non-HDF5 or demo-less file raises ``DatasetError``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; pass the .hdf5 written by `mimicrec record` or `generate`")
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path}: not an HDF5 file; pass the .hdf5 written by `mimicrec record` or `generate`")
    with h5py.File(path, "r") as file:
        if "data" not in file or not any(k.startswith("demo_") for k in file["data"]):
            raise DatasetError(f"{path}: has no data/demo_* groups; it is not a robomimic dataset")
        if "env_args" not in file["data"].attrs:
            raise DatasetError(f"{path}: data has no env_args attribute; record it with `mimicrec record`")
        yield file


def dataset_env(file: h5py.File) -> tuple[str, dict[str, Any]]:
    """(env id, env kwargs) of an open dataset."""
    return read_env_args(file["data"].attrs["env_args"], file.filename)


def demo_names(file: h5py.File) -> list[str]:
    """The demo groups of an open dataset in numeric order."""
    return sorted_demo_names(file["data"])


def read_actions_and_initial_state(demo: h5py.Group, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(actions ``[T, A]``, exact initial state) of a demo group, or ``DatasetError`` naming what is missing."""
    for key in ("actions", "initial_state"):
        if key not in demo:
            raise DatasetError(f"{where}: demo {demo.name} has no {key!r}; it cannot be replayed")
    return demo["actions"][()], demo["initial_state"][()]
