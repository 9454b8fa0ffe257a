"""Opening mimicrec HDF5 datasets with clear errors, and reading demos back as ``Episode`` pieces."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from envs.errors import DatasetError
from recorder.dataset.tasks import read_env_args
from recorder.dataset.writers.lerobot_meta import attr_from_column, read_meta
from recorder.dataset.writers.robomimic_hdf5 import sorted_demo_names

LEROBOT_OWN_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")  # lerobot adds these
REPLAY_COLUMNS = ("action", "seed", "next.success", "observation.state")  # what replaying an episode needs


def dataset_format(path: Path) -> str:
    """``hdf5`` for a file, ``lerobot`` for a LeRobot dataset folder; ``DatasetError`` otherwise."""
    if path.is_file():
        return "hdf5"
    if (path / "meta" / "info.json").is_file():
        return "lerobot"
    raise DatasetError(f"{path}: neither an HDF5 file nor a LeRobot dataset folder (no meta/info.json)")


@contextlib.contextmanager
def open_dataset(path: str | Path) -> Iterator[h5py.File]:
    """Open an HDF5 dataset read-only; a missing, non-HDF5 or demo-less file raises ``DatasetError``."""
    path = Path(path)
    if path.is_dir():
        raise DatasetError(_folder_given(path))
    if not path.is_file():
        raise DatasetError(f"{path}: no such file; pass the .hdf5 written by `mimicrec record` or `generate`")
    if not h5py.is_hdf5(path):
        raise DatasetError(f"{path}: not an HDF5 file; pass the .hdf5 written by `mimicrec record` or `generate`")
    with _open_hdf5(path) as file:
        if "data" not in file or not any(k.startswith("demo_") for k in file["data"]):
            raise DatasetError(f"{path}: has no data/demo_* groups; it is not a robomimic dataset")
        if "env_args" not in file["data"].attrs:
            raise DatasetError(f"{path}: data has no env_args attribute; record it with `mimicrec record`")
        yield file


def _folder_given(folder: Path) -> str:
    """Why a folder given where an HDF5 file is needed is refused, and the file to pass instead: a run folder's
    own .hdf5 (the folder, or the run folder holding this LeRobot dataset), else how to make one."""
    lerobot = (folder / "meta" / "info.json").is_file()
    run = folder.parent if lerobot and (folder.parent / "run.json").is_file() else folder
    inside = sorted(run.glob("*.hdf5"))
    if inside:
        fix = f"pass {inside[0]}"
    elif lerobot:
        fix = f"`mimicrec convert {folder} --to hdf5 OUT.hdf5` makes one from it (a LeRobot dataset mimicrec wrote)"
    else:
        fix = "pass an .hdf5 file written by `mimicrec record` or `generate`"
    return f"{folder}: {'a LeRobot dataset' if lerobot else 'a folder'}, where this command reads an HDF5 file; {fix}"


def _open_hdf5(path: Path) -> h5py.File:
    """``h5py.File(path, "r")``; a file HDF5 cannot open (truncated, partly copied) raises ``DatasetError``."""
    try:
        return h5py.File(path, "r")
    except OSError as error:
        reason = str(error).split("(", 1)[-1].rstrip(")") if "(" in str(error) else str(error)
        raise DatasetError(f"{path}: HDF5 cannot read it ({reason}); it is damaged or was not copied whole: "
                           "copy it again from its source") from None


def read_lerobot(root: Path, columns: list[str], optional: tuple[str, ...] = ()):
    """(meta/info.json, a pyarrow table of ``columns`` over every committed frame) of a LeRobot dataset folder;
    the ``optional`` columns are read too where the dataset has them.

    A damaged dataset raises ``DatasetError`` naming the file: info.json that is not JSON, a data file
    that is not parquet or lacks a column, or (once closed) fewer episodes or frames than info.json counts.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from recorder.dataset.writers.lerobot_writer import committed_data_files, interrupted

    info = read_lerobot_info(root)
    totals = (info["total_episodes"], info["total_frames"])
    features = info.get("features", {}) if isinstance(info.get("features"), dict) else {}
    columns = [*columns, *(name for name in optional if name in features)]
    table = _read_parquet(pq, pa, committed_data_files(root), columns, root)
    if table is not None and not interrupted(root):
        found = (len(np.unique(np.asarray(table["episode_index"]))), table.num_rows)
        if found != totals:
            raise DatasetError(f"{root}: info.json counts {totals[0]} episodes and {totals[1]} frames but its data "
                               f"files hold {found[0]} and {found[1]}; data files are missing: copy it again")
    return info, table


def read_lerobot_info(root: Path) -> dict:
    """meta/info.json of a LeRobot dataset folder (of a run not closed: as of its last commit, like its data files);
    one that is not JSON or lacks its totals is a ``DatasetError``."""
    from recorder.dataset.writers.lerobot_writer import committed_file

    info_path = root / "meta" / "info.json"
    try:
        committed = committed_file(root, "meta/info.json")
        info = json.loads(committed if committed is not None else info_path.read_text())
        info["total_episodes"], info["total_frames"] = int(info["total_episodes"]), int(info["total_frames"])
    except (ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{info_path}: not a LeRobot info.json ({error}); the dataset is damaged: "
                           "copy it again or regenerate it") from None
    return info


def _read_parquet(pq, pa, files: list[Path], columns: list[str], root: Path):
    """The table of ``columns`` in ``files`` (None without files); a bad or missing file is a ``DatasetError``."""
    if not files:
        return None
    try:
        return pq.read_table(files, columns=columns)
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"{root}: a data file cannot be read ({str(error).splitlines()[0][:200]}); the "
                           "dataset is damaged: copy it again or regenerate it") from None


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


@dataclass(frozen=True)
class StoredEpisode:
    """One episode of a LeRobot dataset mimicrec wrote: its ``REPLAY_COLUMNS`` (``[T, D]`` each), its per-step
    labels (``[T]`` or ``[T, arms]``) and its per-episode columns (attributes and annotated subtask ends)."""

    index: int
    frames: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    columns: dict[str, Any]

    @property
    def seed(self) -> int:
        """The reset seed that rebuilds the episode's initial state."""
        return int(self.frames["seed"][0, 0])


def mimicrec_meta(root: Path, purpose: str) -> dict:
    """The metadata mimicrec keeps with a LeRobot dataset it wrote; ``DatasetError`` for other datasets, which
    cannot be ``purpose`` (e.g. "replayed"): that needs the env and the reset seeds."""
    meta = read_meta(root, read_lerobot_info(root))
    if "env_args" not in meta:
        raise DatasetError(f"{root}: has no mimicrec metadata (its 'seed' feature); only LeRobot datasets written "
                           f"by mimicrec can be {purpose} (exact states are rebuilt by replaying their seeds)")
    return meta


def lerobot_episodes(root: Path, meta: dict) -> Iterator[StoredEpisode]:
    """Every committed episode of a LeRobot dataset with mimicrec metadata ``meta``; labels and columns that
    a lerobot tool removed are left out."""
    features = read_lerobot_info(root).get("features", {})
    labels = [name for name in _label_names(meta, features) if name in features]
    per_episode = [name for name in meta.get("episode_attrs", []) if name in features]
    _, table = read_lerobot(root, ["episode_index", *REPLAY_COLUMNS, *labels, *per_episode])
    if table is None:
        return
    index = np.asarray(table["episode_index"])
    data = {name: np.stack(table[name].to_numpy(zero_copy_only=False)).reshape(len(index), -1)
            for name in [*REPLAY_COLUMNS, *labels]}
    for episode in np.unique(index):
        rows, first = index == episode, int(np.argmax(index == episode))
        columns = {name: attr_from_column(table[name][first].as_py(), features[name]) for name in per_episode}
        yield StoredEpisode(int(episode), {name: data[name][rows] for name in REPLAY_COLUMNS},
                            {name: _label(data[name][rows]) for name in labels}, columns)


def _label_names(meta: dict, features: dict) -> list[str]:
    """The per-step label columns: as the metadata lists them, else (older datasets) every extra int64 column."""
    if "labels" in meta:
        return list(meta["labels"])
    return [name for name, feature in features.items()
            if name not in LEROBOT_OWN_FEATURES and name != "seed" and feature.get("dtype") == "int64"]


def _label(value: np.ndarray) -> np.ndarray:
    """A label column ``[T, E]`` as the HDF5 holds it: ``[T]`` for one column."""
    return value[:, 0] if value.shape[1] == 1 else value
