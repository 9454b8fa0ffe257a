"""Content digests of a run's datasets, to prove that two runs wrote bit-identical data.

``hdf5_digest`` hashes every dataset of every demo (bytes, dtype and shape) and every demo attribute
but those that name paths on this machine; ``lerobot_digest`` hashes the committed parquet rows.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np

# Attributes that are not data: absolute paths of the machine that wrote the file, and timings.
PATH_ATTRS = {"mimic_source", "progress"}  # progress: the run's counters, with worker timings


def _hash_array(value: np.ndarray) -> str:
    value = np.ascontiguousarray(value)
    head = f"{value.dtype.str}{value.shape}".encode()
    return hashlib.sha256(head + value.tobytes()).hexdigest()[:20]


def _attr_text(value, key: str = "") -> str:
    if key == "env_args":  # the stored task definition grows with the task-file schema: compared elsewhere
        meta = json.loads(value)
        meta.get("env_kwargs", {}).pop("task", None)
        return json.dumps(meta, sort_keys=True)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return _hash_array(value)
    return repr(value.item() if isinstance(value, np.generic) else value)


def hdf5_digest(path: str | Path) -> dict[str, str]:
    """``{"data/demo_0/actions": hash, "data/demo_0@seed": value, ...}`` for every demo of a robomimic file."""
    out: dict[str, str] = {}
    with h5py.File(path, "r") as file:
        for name in sorted(file["data"], key=lambda n: int(n.split("_")[1])):
            group = file["data"][name]
            for key, value in group.attrs.items():
                if key not in PATH_ATTRS:
                    out[f"data/{name}@{key}"] = _attr_text(value, key)

            def visit(sub: str, item, prefix: str = f"data/{name}") -> None:
                if isinstance(item, h5py.Dataset):
                    out[f"{prefix}/{sub}"] = _hash_array(item[()])

            group.visititems(visit)
        for key, value in file["data"].attrs.items():
            if key not in PATH_ATTRS:
                out[f"data@{key}"] = _attr_text(value, key)
    return out


def lerobot_digest(root: str | Path) -> dict[str, str]:
    """A hash per column of the committed LeRobot parquet rows (numeric columns only)."""
    import pyarrow.parquet as pq

    files = sorted(Path(root, "data").rglob("*.parquet"))
    table = pq.read_table(files)
    out = {}
    for column in sorted(table.column_names):
        values = table[column].to_numpy(zero_copy_only=False)
        if values.dtype == object:
            values = np.stack(values)
        out[f"lerobot/{column}"] = _hash_array(np.asarray(values))
    return out


def run_digest(hdf5_path: str | Path, lerobot_root: str | Path) -> dict[str, str]:
    """Both formats' digests in one mapping."""
    return {**hdf5_digest(hdf5_path), **lerobot_digest(lerobot_root)}


def dump(digest: dict[str, str], path: str | Path) -> None:
    """Write a digest as sorted, indented JSON."""
    Path(path).write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
