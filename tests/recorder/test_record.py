"""The record command's options: the action mode's precedence (flag, then gym.yaml, then the code's
default) and what a run stores for ``--resume``."""

import json

import h5py
import pytest

from recorder.cli import build_parser
from recorder.record import RecordOptions, record
from tests.conftest import edit_config

LIFT = "mimicrec/Lift-v0"


def recorded_action_mode(path) -> str:
    with h5py.File(path, "r") as file:
        return json.loads(file["data"].attrs["env_args"])["env_kwargs"]["action_mode"]


def test_the_cli_leaves_the_action_mode_to_the_task_unless_given():
    assert build_parser().parse_args(["record"]).action_mode is None
    assert build_parser().parse_args(["record", "--action-mode", "abs_eef"]).action_mode == "abs_eef"


@pytest.mark.parametrize(("in_gym_yaml", "flag", "expected"), [
    (None, None, "delta_eef"),  # the code's default, as every built-in gym.yaml says
    ("abs_eef", None, "abs_eef"),  # gym.yaml beats the code's default
    ("abs_eef", "joint_pos", "joint_pos"),  # the flag beats gym.yaml
])
def test_flag_beats_gym_yaml_beats_default(config_root, tmp_path, in_gym_yaml, flag, expected):
    if in_gym_yaml is not None:
        edit_config(config_root, "Lift", "gym", lambda d: d["robot"].update(action_mode=in_gym_yaml))
    else:
        edit_config(config_root, "Lift", "gym", lambda d: d["robot"].pop("action_mode", None))
    res = record(RecordOptions(LIFT, num_demos=1, seed=2, out=str(tmp_path / "run"), action_mode=flag))
    assert res.num_saved == 1
    assert recorded_action_mode(res.hdf5_path) == expected
    assert json.loads((tmp_path / "run" / "run.json").read_text())["action_mode"] == expected
