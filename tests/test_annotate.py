"""Annotation: boundary finding, offset checks, exact replay, and demos that are left out with a reason."""

import h5py
import numpy as np
import pytest

from augment.annotate import annotate, check_offsets, subtask_ends
from envs.errors import DatasetError


def test_subtask_ends_first_rising_edge_after_previous():
    signals = {"a": np.array([0, 1, 1, 0, 1, 1, 0, 0]), "b": np.array([1, 0, 0, 0, 0, 1, 1, 1])}
    # "b" is on at t=0 but its first 0->1 edge after a's end (1) is at 5
    assert subtask_ends(signals, ["a", "b"], 8) == [1, 5, 8]


def test_subtask_ends_missing_edge():
    with pytest.raises(ValueError, match="never turns on"):
        subtask_ends({"a": np.zeros(5)}, ["a"], 5)


def test_check_offsets_rejects_possibly_empty_subtask():
    check_offsets([10, 40, 60], [(0, 5), (0, 5), (0, 0)])
    with pytest.raises(ValueError, match="subtask 1 may be empty"):
        check_offsets([10, 12, 60], [(0, 5), (0, 5), (0, 0)])


def test_annotated_file_has_boundaries_and_exact_replay(recorded, annotated):
    with h5py.File(recorded.hdf5_path, "r") as src, h5py.File(annotated, "r") as ann:
        for name in ("demo_0", "demo_1", "demo_2"):
            ends = ann[f"data/{name}/datagen_info/subtask_term_inds/robot0"][()]
            length = ann[f"data/{name}"].attrs["num_samples"]
            assert len(ends) == 4 and ends[-1] == length and np.all(np.diff(ends) > 0)
            # replay from the stored initial state reproduced every recorded state bit for bit
            np.testing.assert_array_equal(ann[f"data/{name}/states"][()], src[f"data/{name}/states"][()])
            signals = ann[f"data/{name}/datagen_info/subtask_term_signals/grasp_red"][()]
            assert signals[ends[0]] == 1 and signals[ends[0] - 1] == 0


def test_demo_that_fails_replay_is_reported_not_silently_dropped(recorded, tmp_path):
    broken = tmp_path / "broken.hdf5"
    with h5py.File(recorded.hdf5_path, "r") as src, h5py.File(broken, "w") as dst:
        src.copy(src["data"], dst, name="data")
        actions = dst["data/demo_1/actions"]
        actions[:, :] = 0.0  # the robot never moves: replay cannot succeed
    result = annotate(str(broken), str(tmp_path / "out.hdf5"))
    assert result.kept == ["demo_0", "demo_1"]
    assert "does not end in success" in result.rejected["demo_1"]
    with h5py.File(tmp_path / "out.hdf5", "r") as out:
        assert out["data/demo_1"].attrs["source_demo"] == "demo_2"


def test_all_demos_failing_is_an_error_and_leaves_no_file(recorded, tmp_path):
    broken = tmp_path / "broken.hdf5"
    with h5py.File(recorded.hdf5_path, "r") as src, h5py.File(broken, "w") as dst:
        src.copy(src["data"], dst, name="data")
        for name in ("demo_0", "demo_1", "demo_2"):
            dst[f"data/{name}/actions"][:, :] = 0.0
    with pytest.raises(DatasetError, match="no demo could be annotated"):
        annotate(str(broken), str(tmp_path / "out.hdf5"))
    assert not (tmp_path / "out.hdf5").exists() and not (tmp_path / "out.hdf5.partial").exists()
