"""Symmetric objects (the task file's ``symmetry``): generation carries each segment to the turn of its object
nearest the source's, so the hand turns no more than the object needs (at most half the symmetry)."""

import h5py
import numpy as np
import pytest

from envs.pose import yaw_of
from recorder.cli import main

pytestmark = pytest.mark.slow


def grasp_yaws(path) -> dict[str, float]:
    """Demo -> heading (degrees) of the end effector at the step its first grasp signal turns on."""
    yaws = {}
    with h5py.File(path, "r") as f:
        for name, demo in f["data"].items():
            info = demo["datagen_info"]
            step = int(np.argmax(info["subtask_term_signals/grasp_red"][:] > 0))
            yaws[name] = np.degrees(yaw_of(info["eef_pose/robot0"][step][:3, :3]))
    return yaws


def turns_from_source(annotated, out) -> list[float]:
    """How far (degrees) each generated demo's grasp heading is turned from its source demo's."""
    seeds, generated = grasp_yaws(annotated), grasp_yaws(out / "generated.hdf5")
    with h5py.File(out / "generated.hdf5", "r") as f:
        sources = {name: int(demo.attrs["src_demo_inds"][0]) for name, demo in f["data"].items()}
    return [abs((generated[name] - seeds[f"demo_{sources[name]}"] + 180) % 360 - 180) for name in generated]


def test_a_quarter_symmetric_cube_is_grasped_at_most_an_eighth_turn_from_the_source(annotated, tmp_path):
    common = ["generate", str(annotated), "--num-trials", "6", "--num-envs", "1", "--difficulty", "D1",
              "--seed", "3", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "folded")]) == 0
    folded = turns_from_source(annotated, tmp_path / "folded")
    assert max(folded) <= 45 + 5, folded  # 45 degrees at most, a few more for noise and tracking
    assert main([*common, "--set", "scene.objects.cube_red.symmetry=0", "--out", str(tmp_path / "plain")]) == 0
    plain = turns_from_source(annotated, tmp_path / "plain")
    assert max(plain) > 60, plain  # without the symmetry the hand follows the cube's whole turn
