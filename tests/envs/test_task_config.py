"""Task configuration (gym.yaml): every task loads from its file, the one config lookup rule, and errors
that name the file and the key."""

import json
import math
import re

import gymnasium as gym
import numpy as np
import pytest
import yaml

import envs
from envs import task_config
from envs.errors import ConfigError, TaskError
from tests.conftest import edit_config


@pytest.mark.parametrize("task", sorted(envs.TASKS))
def test_every_task_config_loads_and_drives_the_env(task):
    entry = envs.TASKS[task]
    config = task_config.load_task_config(entry.config_name)
    assert config.task == task and config.rollout.max_episode_steps == entry.max_episode_steps
    env = gym.make(task).unwrapped
    assert env.instruction == config.recording.instruction
    assert set(env.randomization_levels()) == {"D0", "D1", "D2"}
    env.close()


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d.update(colour="red"), "unknown key(s) colour"),
    (lambda d: d["rollout"].update(max_episode_steps="many"), "rollout.max_episode_steps: expected an integer"),
    (lambda d: d["sensors"].update(cameras=[{"name": "agentview", "fov": 3}]),
     "sensors.cameras[0]: unknown key(s) fov"),
    (lambda d: d["observation"].pop("state_keys"), "missing required key 'state_keys'"),
    (lambda d: d["scene"].update(solver_iterations=0), "scene.solver_iterations must be positive"),
    (lambda d: d["observation"].update(object_pairs=[["cube_red", "cube_x"]]),
     "observation.object_pairs[0] names 'cube_x', not an object of the scene; use two of"),
    (lambda d: d["observation"].update(object_pairs=[["cube_red", "cube_red"]]),
     "observation.object_pairs[0] pairs 'cube_red' with itself"),
    (lambda d: d["observation"].update(object_pairs=[["cube_red"]]), "object_pairs[0]: expected 2 values"),
    (lambda d: d["scene"]["objects"]["cube_red"].update(symmetry=70),
     "scene.objects.cube_red.symmetry: 70 does not divide 360"),
    (lambda d: d["scene"]["objects"]["cube_red"].update(rolling_friction=-0.001),
     "scene.objects.cube_red: mass and the frictions must be >= 0"),
])
def test_bad_task_config_names_file_and_key(config_root, mutate, fragment):
    path = edit_config(config_root, "Stack", "gym", mutate)
    with pytest.raises(ConfigError) as err:
        task_config.load_task_config("Stack")
    assert str(path) in str(err.value) and fragment in str(err.value)


@pytest.mark.parametrize("level, fragment", [
    ({"x": [0.6, 0.4], "y": [-0.1, 0.1], "yaw": [0, 0], "min_spacing": 0.1}, "low <= high"),
    ({"x": [0.4, 0.6], "y": [-0.1, 0.1], "yaw": [0, 0], "min_spacing": 0.1, "wind": 3}, "unknown key(s) wind"),
])
def test_bad_randomization_level_fails_when_the_env_is_built(config_root, level, fragment):
    edit_config(config_root, "Stack", "gym", lambda d: d["randomization"].update(D0=level))
    with pytest.raises(ConfigError, match=re.escape(fragment)) as err:
        gym.make("mimicrec/Stack-v0")
    assert "randomization.D0" in str(err.value)


def test_json_task_config_is_accepted(config_root):
    data = yaml.safe_load((config_root / "Lift" / "gym.yaml").read_text())
    data["recording"]["instruction"] = "Lift it."
    (config_root / "Lift" / "gym.yaml").unlink()
    (config_root / "Lift" / "gym.json").write_text(json.dumps(data))
    assert task_config.load_task_config("Lift").recording.instruction == "Lift it."


@pytest.mark.parametrize("kind", task_config.CONFIG_KINDS)
def test_one_lookup_rule_for_every_config_kind(config_root, kind):
    """YAML wins over JSON, JSON is found alone, and a missing file is an error naming its .yaml name."""
    folder = config_root / "Lift"
    (folder / f"{kind}.yaml").write_text("{}\n")
    (folder / f"{kind}.json").write_text("{}")
    assert envs.task_config_file("mimicrec/Lift-v0", kind) == folder / f"{kind}.yaml"
    (folder / f"{kind}.yaml").unlink()
    assert envs.task_config_file("mimicrec/Lift-v0", kind) == folder / f"{kind}.json"
    (folder / f"{kind}.json").unlink()
    with pytest.raises(ConfigError, match=f"{folder} has no {kind}.yaml .or {kind}.json.; "):
        envs.task_config_file("mimicrec/Lift-v0", kind)


def test_unknown_task_and_config_kind_are_named():
    with pytest.raises(TaskError, match="did you mean 'mimicrec/Stack-v0'"):
        envs.task_config_file("mimicrec/Stak-v0", "gym")
    with pytest.raises(ValueError, match="unknown config kind 'policy'"):
        task_config.config_file("Lift", "policy")


def test_gym_yaml_task_key_must_name_the_registered_id(config_root):
    path = edit_config(config_root, "Lift", "gym", lambda d: d.update(task="mimicrec/Lifted-v0"))
    entry = envs.TaskEntry("mimicrec/LiftCopy-v0", "Lift")
    with pytest.raises(ConfigError) as err:
        envs.register_task(entry)
    assert str(path) in str(err.value) and "set task: mimicrec/LiftCopy-v0" in str(err.value)
    assert "mimicrec/LiftCopy-v0" not in envs.TASKS



def test_shipped_yaml_files_read_as_pyyamls_own_safe_loader_reads_them():
    from pathlib import Path

    from envs.config import load_mapping

    root = Path(envs.__file__).resolve().parent.parent
    files = sorted((root / "configs").rglob("*.yaml")) + sorted((root / "envs").rglob("*.yaml"))
    assert len(files) > 20
    for path in files:
        assert load_mapping(path) == yaml.safe_load(path.read_text()), path


def test_symmetric_objects_are_observed_at_the_turn_nearest_the_hand():
    from envs.pose import quat_heading, quat_to_mat, wrap_angle
    from envs.task_config import with_settings

    stack = task_config.load_task_config("Stack")
    plain, near = (gym.make("mimicrec/Stack-v0", difficulty="D1", task=task_config.task_definition(
        with_settings(stack, {"observation.symmetric_near_hand": folded}))).unwrapped for folded in (False, True))
    quarter, turned = np.pi / 2, 0
    try:
        for seed in range(6):
            raw, folded = plain.reset(seed=seed)[0], near.reset(seed=seed)[0]
            hand = quat_heading(folded["robot0_eef_quat"])
            for i in range(len(plain.bodies)):
                before, after = raw["object"][7 * i:7 * i + 7], folded["object"][7 * i:7 * i + 7]
                assert list(after[:3]) == list(before[:3])
                assert abs(wrap_angle(quat_heading(after[3:]) - hand, 2 * np.pi)) <= quarter / 2 + 1e-5
                relative = quat_to_mat(before[3:].astype(float)).T @ quat_to_mat(after[3:].astype(float))
                turn = np.arctan2(relative[1, 0], relative[0, 0])  # about the object's own z, a quarter-turn multiple
                assert relative[2, 2] == pytest.approx(1.0, abs=1e-5)
                assert abs(wrap_angle(turn, quarter)) < 1e-4
                turned += abs(turn) > 0.1
            assert list(folded["object"][14:]) == list(raw["object"][14:])  # eef-relative positions as before
        assert turned > 0  # at D1 (any yaw) some cube is seen turned
    finally:
        plain.close()
        near.close()


def test_object_pairs_append_their_relative_positions_to_the_object_vector():
    from envs.task_config import with_settings

    unheaded = with_settings(envs.load_task_config("StackThree"), {"observation.heading_to_hand": False})
    plain = gym.make("mimicrec/StackThree-v0", task=task_config.task_definition(unheaded)).unwrapped
    pairs = [["cube_red", "cube_blue"], ["cube_green", "cube_red"]]
    config = with_settings(unheaded, {"observation.object_pairs": pairs})
    paired = gym.make("mimicrec/StackThree-v0", task=task_config.task_definition(config)).unwrapped
    try:
        before, after = plain.reset(seed=4)[0]["object"], paired.reset(seed=4)[0]["object"]
        position = {name: before[7 * i:7 * i + 3] for i, name in enumerate(plain.bodies)}
        assert after.shape == (before.shape[0] + 6,) == paired.observation_space["object"].shape
        assert list(after[:-6]) == list(before)  # the vector as before, the pairs after it
        expected = [*(position["cube_red"] - position["cube_blue"]), *(position["cube_green"] - position["cube_red"])]
        assert after[-6:] == pytest.approx(expected, abs=1e-6)
    finally:
        plain.close()
        paired.close()


def test_heading_to_hand_appends_each_objects_turn_from_the_hand_as_sine_and_cosine():
    from envs.pose import quat_heading
    from envs.task_config import with_settings

    shipped = envs.load_task_config("StackThree")
    assert shipped.observation.heading_to_hand  # StackThree observes it; a task file without the key does not
    unheaded = with_settings(shipped, {"observation.heading_to_hand": False})
    plain = gym.make("mimicrec/StackThree-v0", task=task_config.task_definition(unheaded), difficulty="D1").unwrapped
    headed = gym.make("mimicrec/StackThree-v0", difficulty="D1").unwrapped
    try:
        for seed in range(4):
            before, obs = plain.reset(seed=seed)[0]["object"], headed.reset(seed=seed)[0]
            after, count = obs["object"], len(headed.bodies)
            assert after.shape == (before.shape[0] + 2 * count,) == headed.observation_space["object"].shape
            assert list(after[:-2 * count]) == list(before)  # the vector as before, the headings after it
            hand, headings = quat_heading(obs["robot0_eef_quat"]), after[-2 * count:].reshape(count, 2)
            for i, (sine, cosine) in enumerate(headings):
                turn = quat_heading(after[7 * i + 3:7 * i + 7]) - hand  # the observed (folded) quaternion's heading
                assert [sine, cosine] == pytest.approx([math.sin(turn), math.cos(turn)], abs=1e-5)
                assert abs(math.atan2(sine, cosine)) <= math.pi / 4 + 1e-5  # each cube at its turn nearest the hand
    finally:
        plain.close()
        headed.close()
