"""Symmetric objects (the task file's ``symmetry``): generation carries each segment to the turn of its object
that starts it nearest the hand, so the hand turns no more than the object needs (at most half the symmetry
beyond what its source turned), instead of following the object's whole yaw."""

import h5py
import numpy as np
import pytest
import yaml

from envs.pose import yaw_of
from envs.task_config import CONFIG_ROOT
from recorder.cli import main

pytestmark = pytest.mark.slow


def grasp_turns(path) -> list[float]:
    """Per demo: how far (degrees) the end effector's heading turned from the first step to its first grasp."""
    turns = []
    with h5py.File(path, "r") as f:
        for demo in f["data"].values():
            info = demo["datagen_info"]
            step = int(np.argmax(info["subtask_term_signals/grasp_red"][:] > 0))
            poses = info["eef_pose/robot0"]
            turn = np.degrees(yaw_of(poses[step][:3, :3]) - yaw_of(poses[0][:3, :3]))
            turns.append(abs((turn + 180) % 360 - 180))
    return turns


def spec_file(tmp_path, name: str, use: bool | None):
    spec = yaml.safe_load((CONFIG_ROOT / "StackThree" / "mimic.yaml").read_text())  # the seeds' task
    assert spec["generation"]["use_object_symmetry"] is None  # shipped: as the task observes
    spec["generation"]["use_object_symmetry"] = use
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


def test_a_quarter_symmetric_cube_is_grasped_without_turning_the_hand_through_its_whole_yaw(annotated, tmp_path):
    common = ["generate", str(annotated), "--num-trials", "6", "--num-envs", "1", "--difficulty", "D1",
              "--seed", "3", "--quiet"]
    observe = "observation.symmetric_near_hand="
    runs = {"folded": ["--config", spec_file(tmp_path, "on", True)],
            "plain": ["--config", spec_file(tmp_path, "off", False), "--set", f"{observe}false"],
            "as_observed": ["--config", spec_file(tmp_path, "unset", None), "--set", f"{observe}true"]}
    for name, options in runs.items():
        assert main([*common, *options, "--out", str(tmp_path / name)]) == 0
    folded = grasp_turns(tmp_path / "folded" / "generated.hdf5")
    # the seeds (D0, cubes within 45 degrees) turn the hand up to 45 degrees; the fold adds at most 45 more
    assert max(folded) <= 90 + 5, folded
    plain = grasp_turns(tmp_path / "plain" / "generated.hdf5")
    assert max(plain) > 100 and max(plain) > max(folded) + 30, plain  # without it the hand follows the cube round
    folded_file, observed_file = (tmp_path / name / "generated.hdf5" for name in ("folded", "as_observed"))
    with h5py.File(folded_file) as a, h5py.File(observed_file) as b:
        for demo in a["data"]:  # unset, generation folds as the task observes: the same demos
            assert np.array_equal(a["data"][demo]["actions"][:], b["data"][demo]["actions"][:])
