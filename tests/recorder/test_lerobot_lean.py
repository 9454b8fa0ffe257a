"""The pieces of the lean LeRobot save against lerobot's and datasets' own code, value for value (the whole save is
compared file for file in test_writers.py)."""

import datasets
import numpy as np
import pytest
from lerobot.datasets import compute_stats

from recorder.dataset.writers.lerobot_lean import (
    _aggregate_pair,
    _byte_statistics_class,
    _episode_stats,
    _feature_stats,
    _from_arrow_columns,
    arrow_columns,
)


def _batches(rng: np.random.Generator):
    """Columns like an episode's, and worse: normal, a few integers, constant (float64 and float32, whose
    histogram edges collapse), float32, huge, signed zeros, integers (one beyond float64's integers), flags, a NaN."""
    length, dims = int(rng.integers(2, 300)), int(rng.integers(1, 20))
    with_nan, zeros = rng.normal(size=(length, dims)), np.zeros((length, dims))
    with_nan[0, 0], zeros[:, 0] = np.nan, -0.0
    return [rng.normal(size=(length, dims)), rng.integers(0, 3, (length, dims)).astype(float),
            np.full((length, dims), 5.0), np.full((length, dims), 5.0, dtype=np.float32),
            rng.random((length, dims)).astype(np.float32), rng.normal(size=(length, dims)) * 1e9, zeros,
            rng.integers(-5, 5, (length, dims)), rng.integers(2**60, 2**61, (length, dims)), with_nan,
            rng.random((length, dims)) < 0.3, np.zeros((length, dims), dtype=bool),
            rng.normal(size=length)]


def _assert_same_statistics(ours: dict, theirs: dict) -> None:
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert (ours[key].dtype, ours[key].shape) == (value.dtype, value.shape), key
        np.testing.assert_array_equal(ours[key], value)
        np.testing.assert_array_equal(np.signbit(ours[key]), np.signbit(value))


@pytest.mark.filterwarnings("ignore:Converting input from bool")  # numpy, in lerobot's own histograms
def test_feature_statistics_equal_lerobots_value_for_value():
    shipped = compute_stats.get_feature_stats
    lean = _feature_stats(shipped)
    rng = np.random.default_rng(0)
    for _ in range(40):
        for batch in _batches(rng):
            for keepdims in (False, True):
                _assert_same_statistics(lean(batch, axis=0, keepdims=keepdims), shipped(batch, 0, keepdims))
    images = rng.integers(0, 256, (4, 3, 8, 8), dtype=np.uint8)  # lerobot's image statistics: per channel
    _assert_same_statistics(lean(images, (0, 2, 3), True), shipped(images, (0, 2, 3), True))


@pytest.mark.filterwarnings("ignore:Converting input from bool")  # numpy, in lerobot's own histograms
def test_aggregated_statistics_equal_lerobots_value_for_value():
    shipped = compute_stats.aggregate_feature_stats
    lean = _aggregate_pair(shipped)
    rng = np.random.default_rng(1)
    for _ in range(40):
        first, second = _batches(rng), _batches(rng)
        for one, other in zip(first, second, strict=True):
            if one.ndim == other.ndim == 2 and one.shape[1] != other.shape[1]:
                other = other[:, :1].repeat(one.shape[1], axis=1)
            pair = [compute_stats.get_feature_stats(one, 0, False), compute_stats.get_feature_stats(other, 0, False)]
            _assert_same_statistics(lean(pair), shipped(pair))
    images = [compute_stats.get_feature_stats(rng.integers(0, 256, (4, 3, 8, 8)), (0, 2, 3), True) for _ in "ab"]
    _assert_same_statistics(lean(images), shipped(images))


def _frame_sequences(rng: np.random.Generator):
    """Per-frame batches as lerobot's video statistics get them ([H*W, C] uint8), whose range widens from
    frame to frame, and float batches (the other path) that widen too."""
    narrow = [rng.integers(100, 110 + 10 * k, (64, 3), dtype=np.uint8) for k in range(12)]
    widening = [rng.integers(max(0, 120 - 20 * k), min(256, 130 + 20 * k), (49, 3), dtype=np.uint8) for k in range(8)]
    constant = [np.full((30, 1), 7, dtype=np.uint8)] * 3 + [np.full((30, 1), 9, dtype=np.uint8)]
    floats = [rng.normal(size=(40, 4)) * (1 + k) for k in range(6)]
    return [narrow, widening, constant, floats, [np.array([[0, 255]], dtype=np.uint8).T] * 2]


def test_video_frame_statistics_equal_lerobots_value_for_value():
    lean_class = _byte_statistics_class()
    rng = np.random.default_rng(2)
    for _ in range(4):
        for frames in _frame_sequences(rng):
            shipped, lean = compute_stats.RunningQuantileStats(), lean_class()
            for frame in frames:
                shipped.update(frame)
                lean.update(frame)
                for ours, theirs in zip(lean._histograms, shipped._histograms, strict=True):
                    np.testing.assert_array_equal(ours, theirs)
            _assert_same_statistics(lean.get_statistics(), shipped.get_statistics())


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


@pytest.mark.filterwarnings("ignore:Converting input from bool")  # numpy, in lerobot's own histograms
def test_episode_statistics_equal_lerobots_value_for_value():
    """Features of one type share one quantile search; each keeps its own statistics, types and order."""
    shipped = compute_stats.compute_episode_stats
    lean = _episode_stats(shipped)
    rng = np.random.default_rng(2)
    for _ in range(30):
        length = int(rng.integers(2, 200))
        data = {"task": ["stack"] * length}
        for index, batch in enumerate(_batches(rng)):
            batch = batch[:length] if len(batch) >= length else np.resize(batch, (length, *batch.shape[1:]))
            data[f"column{index}"] = batch[:, 0] if index % 3 == 0 and batch.ndim == 2 else batch
        data["index"] = np.arange(length, dtype=np.int64)
        data["timestamp"] = (np.arange(length) / 20).astype(np.float32)
        data["one_frame_short"] = rng.normal(size=(max(2, length - 1), 3))  # another length: a group of its own
        features = {key: {"dtype": "string" if key == "task" else str(np.asarray(value).dtype)}
                    for key, value in data.items()}
        ours, theirs = lean(data, features), shipped(data, features)
        assert list(ours) == list(theirs)
        for key in theirs:
            _assert_same_statistics(ours[key], theirs[key])
