"""Write episodes as a robomimic HDF5 file, plus the Mimic fields (``datagen_info``) and exact states."""

from __future__ import annotations

import json
import os
from typing import Any

import h5py
import numpy as np

from recorder.episode import Episode

VALID_EVERY = 10  # one demo in ten goes to mask/valid (when there are at least ten)


class RobomimicHDF5Writer:
    """Appends demos ``demo_0, demo_1, ...`` to ``path`` (written as ``path + '.partial'`` until closed)."""

    def __init__(self, path: str, env_args: dict[str, Any], attrs: dict[str, Any] | None = None) -> None:
        self.path = path
        self.partial = path + ".partial"
        self.file = h5py.File(self.partial, "w")
        self.data = self.file.create_group("data")
        self.data.attrs["env_args"] = json.dumps(env_args)
        for key, value in (attrs or {}).items():
            self.data.attrs[key] = value
        self.names: list[str] = []
        self.total = 0

    def write(self, episode: Episode) -> None:
        """Append ``episode`` as the next ``demo_<i>`` group."""
        name = f"demo_{len(self.names)}"
        write_demo(self.data.create_group(name), episode)
        self.names.append(name)
        self.total += len(episode)
        self.data.attrs["total"] = self.total
        self.file.flush()

    def close(self) -> None:
        """Write the train/valid masks, close the file and move it to ``path``."""
        write_masks(self.file, self.names)
        self.file.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        """Close and delete the partial file."""
        self.file.close()
        if os.path.exists(self.partial):
            os.unlink(self.partial)


def write_demo(group: h5py.Group, episode: Episode) -> None:
    """Write one episode into an (empty) demo group in robomimic's layout."""
    group.attrs["num_samples"] = len(episode)
    group.attrs["seed"] = episode.seed
    group.attrs["success"] = episode.success
    for key, value in episode.attrs.items():
        group.attrs[key] = value
    group.create_dataset("actions", data=episode.actions)
    group.create_dataset("rewards", data=episode.rewards)
    group.create_dataset("dones", data=episode.dones)
    group.create_dataset("states", data=episode.states)
    group.create_dataset("initial_state", data=episode.initial_state, compression="gzip")
    for prefix, obs in (("obs", episode.obs), ("next_obs", episode.next_obs)):
        for key, value in obs.items():
            write_array(group, f"{prefix}/{key}", value)
    for key, value in episode.extras.items():
        group.create_dataset(key, data=value)
    if episode.datagen_info is not None:
        episode.datagen_info.write(group.create_group("datagen_info"))


def write_array(group: h5py.Group, name: str, value: np.ndarray) -> None:
    """Write ``value``; image stacks ``[T, H, W, C]`` are gzip'd and chunked one frame per chunk."""
    if value.ndim == 4:
        group.create_dataset(name, data=value, chunks=(1, *value.shape[1:]), compression="gzip", compression_opts=4)
    else:
        group.create_dataset(name, data=value)


def write_masks(file: h5py.File, names: list[str]) -> None:
    """``mask/train`` and ``mask/valid`` filter keys (every ``VALID_EVERY``-th demo is validation)."""
    valid = [n for i, n in enumerate(names) if len(names) >= VALID_EVERY and i % VALID_EVERY == VALID_EVERY - 1]
    train = [n for n in names if n not in valid]
    if "mask" in file:
        del file["mask"]
    file.create_dataset("mask/train", data=np.array(train, dtype="S"))
    file.create_dataset("mask/valid", data=np.array(valid, dtype="S"))


def sorted_demo_names(data: h5py.Group) -> list[str]:
    """Demo group names sorted by their integer suffix (``demo_2`` before ``demo_10``)."""
    return sorted(data.keys(), key=lambda n: int(n.split("_")[-1]))
