"""What mimicrec keeps in a LeRobot dataset beyond lerobot's own features, laid out so lerobot's tools keep it.

lerobot's dataset tools (``delete_episodes``, ``split_dataset``, ``remove_feature``, ``merge_datasets``)
rebuild ``meta/info.json`` from the feature declarations, copy the data files' rows, and drop every
other file under ``meta/``. So all that mimicrec needs lives in data columns or feature declarations:

- per-step labels (``subtask_index``, ``src_demo_index``, ...): int64 columns, one component per arm;
- per-episode attributes (``attempt_index``, ``src_demo_inds``, ``source``, ``failed_subtask``, ...) and
  annotated subtask ends (``subtask_term_inds.<eef>``): columns that are constant over an episode;
- the dataset's metadata (env_args, the HDF5 file attributes such as the recording metadata, the subtask
  descriptions and the spec digest, and which columns are labels or attributes): the ``mimicrec`` entry
  of the ``seed`` feature's declaration. ``meta/mimicrec.json`` holds a readable copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

MIMICREC_META = "meta/mimicrec.json"  # the readable copy; lerobot's editing tools drop it
META_FEATURE = "seed"  # the feature whose declaration carries the metadata (replay needs it anyway)
ENDS_PREFIX = "subtask_term_inds."  # + eef: an annotated episode's subtask ends


def attr_feature(value: Any) -> dict:
    """The LeRobot declaration of a column holding an episode attribute like ``value`` (an array, even of one
    element, is marked ``scalar: false`` so that it comes back as an array)."""
    array = np.asarray(value)
    if array.dtype.kind in "USO":
        return {"dtype": "string", "shape": (1,), "names": None}
    dtype = {"b": "bool", "f": "float64"}.get(array.dtype.kind, "int64")
    feature = {"dtype": dtype, "shape": array.shape or (1,), "names": None}
    return {**feature, "scalar": False} if array.ndim > 0 else feature


def attr_frame_value(value: Any, feature: dict) -> Any:
    """``value`` as one frame of the column ``feature`` declares."""
    if feature["dtype"] == "string":
        return str(value)
    return np.asarray(value, dtype=feature["dtype"]).reshape(feature["shape"])


def attr_from_column(value: Any, feature: dict) -> Any:
    """An episode attribute back from one frame of its column: a string, a scalar or an array."""
    if feature["dtype"] == "string":
        return str(value)
    array = np.asarray(value, dtype=feature["dtype"]).reshape(tuple(feature["shape"]))
    return array[0] if tuple(feature["shape"]) == (1,) and feature.get("scalar", True) else array


def episode_columns(attrs: dict[str, Any], subtask_ends: dict[str, np.ndarray]) -> dict[str, Any]:
    """The per-episode columns of an episode: its attributes and its annotated subtask ends."""
    return {**attrs, **{ENDS_PREFIX + eef: np.asarray(ends, dtype=np.int64) for eef, ends in subtask_ends.items()}}


def episode_features(columns: dict[str, Any]) -> dict[str, dict]:
    """Declarations of an episode's per-episode columns."""
    return {name: attr_feature(value) for name, value in columns.items()}


def split_columns(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Per-episode column values -> (episode attributes, subtask ends per eef)."""
    attrs = {k: v for k, v in values.items() if not k.startswith(ENDS_PREFIX)}
    ends = {k[len(ENDS_PREFIX):]: np.asarray(v, dtype=np.int64) for k, v in values.items() if k.startswith(ENDS_PREFIX)}
    return attrs, ends


def jsonable(value: Any) -> Any:
    """An HDF5 attribute value as JSON can hold it (numpy scalars and arrays become numbers and lists)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value.decode() if isinstance(value, bytes) else value


def build_meta(env_args: dict, attrs: dict[str, Any], labels: list[str], episode_attrs: list[str]) -> dict:
    """The metadata mimicrec keeps with a LeRobot dataset."""
    recording = attrs.get("recording", "{}")
    return {"env_args": env_args, "recording": json.loads(recording) if isinstance(recording, str) else recording,
            "attrs": {k: jsonable(v) for k, v in attrs.items()}, "labels": labels, "episode_attrs": episode_attrs}


def read_meta(root: Path, info: dict) -> dict:
    """The metadata of a dataset mimicrec wrote: from the feature declaration (kept by lerobot's tools), else
    from ``meta/mimicrec.json`` (datasets written before it moved there); ``{}`` for other datasets."""
    features = info.get("features") if isinstance(info.get("features"), dict) else {}
    meta = features.get(META_FEATURE, {}).get("mimicrec") if isinstance(features.get(META_FEATURE), dict) else None
    if isinstance(meta, dict):
        return meta
    try:
        meta = json.loads((root / MIMICREC_META).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}
