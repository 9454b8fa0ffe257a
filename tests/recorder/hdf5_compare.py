"""Compare two HDF5 files object by object: every group, dataset (values and dtype) and attribute."""

from __future__ import annotations

import json

import h5py
import numpy as np

JSON_ATTRS = ("env_args",)  # JSON text whose key order may differ


def hdf5_contents(path, skip_attrs: tuple[str, ...] = (), skip_values: tuple[str, ...] = ()) -> dict[str, object]:
    """Every object of the file by name: datasets as arrays (those named in ``skip_values``: their shape),
    groups as None, attributes as ``name@attr``."""
    found: dict[str, object] = {}

    def visit(name: str, obj) -> None:
        dataset = isinstance(obj, h5py.Dataset)
        found[name] = (obj.shape if name.split("/")[-1] in skip_values else obj[()]) if dataset else None
        for key, value in obj.attrs.items():
            if key not in skip_attrs:
                found[f"{name}@{key}"] = json.loads(value) if key in JSON_ATTRS else value

    with h5py.File(path, "r") as file:
        file.visititems(visit)
    return found


def assert_same_hdf5(a, b, skip_attrs: tuple[str, ...] = (), skip_values: tuple[str, ...] = ()) -> None:
    """Both files hold the same objects with equal values (arrays: equal dtype and values)."""
    left, right = hdf5_contents(a, skip_attrs, skip_values), hdf5_contents(b, skip_attrs, skip_values)
    assert sorted(left) == sorted(right), (sorted(set(left) ^ set(right)))[:10]
    for name, value in left.items():
        other = right[name]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other), name
        else:
            assert type(value) is type(other) and np.all(value == other), (name, value, other)
