"""The pieces of the lean LeRobot save against lerobot's and datasets' own code, value for value (the whole save is
compared file for file in test_writers.py)."""

import datasets
import numpy as np
import pytest
from lerobot.datasets.compute_stats import RunningQuantileStats

from recorder.dataset.writers.lerobot_lean import (
    _count_into_histograms,
    _from_arrow_columns,
    _quantiles_from_one_cumsum,
    arrow_columns,
)


def _batches(rng: np.random.Generator):
    """Columns like an episode's: normal, a few integers, constant, float32, huge, with a NaN."""
    length, dims = int(rng.integers(2, 300)), int(rng.integers(1, 20))
    with_nan = rng.normal(size=(length, dims))
    with_nan[0, 0] = np.nan
    return [rng.normal(size=(length, dims)), rng.integers(0, 3, (length, dims)).astype(float),
            np.full((length, dims), 5.0), rng.random((length, dims)).astype(np.float32),
            rng.normal(size=(length, dims)) * 1e9, with_nan]


def test_histogram_counts_and_quantiles_equal_lerobots():
    rng = np.random.default_rng(0)
    for _ in range(40):
        for batch in _batches(rng):
            shipped, lean = RunningQuantileStats(), RunningQuantileStats()
            shipped.update(batch)
            lean.update(batch)  # lerobot's own update; then its histograms are recounted our way
            lean._histograms = [np.zeros_like(h) for h in lean._histograms]
            _count_into_histograms(lean, batch)
            for ours, theirs in zip(lean._histograms, shipped._histograms, strict=True):
                np.testing.assert_array_equal(ours, theirs)
            for ours, theirs in zip(_quantiles_from_one_cumsum(lean), shipped._compute_quantiles(), strict=True):
                assert ours.dtype == theirs.dtype
                np.testing.assert_array_equal(ours, theirs)
            wider = batch * 3 + 1  # a second batch, partly off the first one's bins: counted nowhere
            shipped_counts = [h.copy() for h in shipped._histograms]
            RunningQuantileStats._update_histograms(shipped, wider)
            lean._histograms = shipped_counts
            _count_into_histograms(lean, wider)
            for ours, theirs in zip(lean._histograms, shipped._histograms, strict=True):
                np.testing.assert_array_equal(ours, theirs)


FEATURES = datasets.Features({
    "state": datasets.Sequence(length=3, feature=datasets.Value("float32")),
    "index": datasets.Value("int64"),
    "done": datasets.Value("bool"),
    "timestamp": datasets.Value("float32"),
    "name": datasets.Value("string"),
})


def test_the_episode_table_is_the_one_datasets_builds():
    """What save_episode reads of its episode's Dataset (the length and the Arrow table, schema metadata
    included) is the same when the table is built from the columns directly."""
    length = 7
    mapping = {"state": np.random.default_rng(1).normal(size=(length, 3)).astype(np.float32),
               "index": np.arange(length), "done": np.zeros((length, 1), dtype=bool),
               "timestamp": np.arange(length) / 30.0, "name": ["pick"] * length}
    build = _from_arrow_columns(vars(datasets.Dataset)["from_dict"], FEATURES, FEATURES.arrow_schema)
    theirs = datasets.Dataset.from_dict(mapping, features=FEATURES, split="train")
    ours = build.__get__(None, datasets.Dataset)(mapping, features=FEATURES, split="train")
    assert len(ours) == len(theirs) == length
    assert ours.with_format("arrow")[:].equals(theirs.with_format("arrow")[:], check_metadata=True)
    fallback = build.__get__(None, datasets.Dataset)({**mapping, "name": [1] * length}, features=FEATURES,
                                                     split="train")
    assert isinstance(fallback, datasets.Dataset)  # a column that does not convert: datasets builds it all


UNCONVERTED = {"objects": ("index", np.array([object(), object()])), "wrong width": ("state", np.zeros((2, 4))),
               "not strings": ("name", [1, 2])}


@pytest.mark.parametrize("case", list(UNCONVERTED))
def test_arrow_columns_leave_other_columns_to_datasets(case):
    mapping = {"state": np.zeros((2, 3)), "index": np.arange(2), "done": np.zeros(2, dtype=bool),
               "timestamp": np.zeros(2), "name": ["a", "b"]}
    assert arrow_columns(mapping, FEATURES) is not None
    key, value = UNCONVERTED[case]
    assert arrow_columns({**mapping, key: value}, FEATURES) is None
