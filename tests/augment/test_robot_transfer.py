"""Robot transfer: Panda seeds generate demos on the iiwa and the xArm6, which replay exactly."""

import json

import h5py
import pytest

from recorder.cli import main
from recorder.dataset.replay import replay

ROBOT_TYPES = {"iiwa": "kuka_iiwa", "xarm6": "xarm6"}


@pytest.mark.slow
@pytest.mark.parametrize("robot", sorted(ROBOT_TYPES))
def test_panda_seeds_generate_on_another_arm_and_replay_exactly(annotated, tmp_path, robot):
    out = tmp_path / "gen"
    assert main(["generate", str(annotated), "--num-trials", "2", "--num-envs", "1", "--robot", robot,
                 "--out", str(out), "--quiet"]) == 0
    with h5py.File(out / "generated.hdf5", "r") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        demo = f["data/demo_0"]
        arm_dof = demo["obs/robot0_joint_pos"].shape[1]
        assert demo["actions"].shape[1] == 7  # delta_eef: the target arm's actions
    definition = env_args["env_kwargs"]["task"]
    assert definition["scene"]["robots"][0]["definition"]["name"] == robot
    assert arm_dof == (6 if robot == "xarm6" else 7)
    info = json.loads((out / "lerobot" / "meta" / "info.json").read_text())
    assert info["robot_type"] == ROBOT_TYPES[robot]
    results = replay(str(out / "generated.hdf5"))
    assert len(results) == 2 and all(r.states_identical and r.replay_success for r in results)
    run = json.loads((out / "run.json").read_text())
    assert run["robot"] == robot  # --resume keeps generating on the same arm


@pytest.mark.slow
def test_joint_space_seeds_transfer_with_the_new_arms_joint_limits(tmp_path):
    seeds = tmp_path / "seeds"
    assert main(["record", "--task", "mimicrec/Lift-v0", "--num-demos", "2", "--action-mode", "joint_pos",
                 "--out", str(seeds), "--quiet"]) == 0
    assert main(["annotate", str(seeds / "demos.hdf5"), "--quiet"]) == 0
    out = tmp_path / "gen"
    assert main(["generate", str(seeds / "demos_annotated.hdf5"), "--num-trials", "2", "--num-envs", "1",
                 "--robot", "xarm6", "--out", str(out), "--quiet"]) == 0
    with h5py.File(out / "generated.hdf5", "r") as f:
        kwargs = json.loads(f["data"].attrs["env_args"])["env_kwargs"]
        assert f["data/demo_0/actions"].shape[1] == 7  # six xArm joints + gripper
    assert kwargs["action_mode"] == "joint_pos" and kwargs["action_scale"] == {}
    assert all(r.states_identical and r.replay_success for r in replay(str(out / "generated.hdf5")))
