"""Mimic spec loading: defaults, and errors that name the file and the key."""

import json
import shutil

import pytest
import yaml

import envs
from augment.spec import load_mimic_spec
from envs.errors import ConfigError

TASK = "mimicrec/StackThree-v0"


def write_spec(tmp_path, mutate):
    data = yaml.safe_load(open(envs.task_config_file(TASK, "mimic")))
    mutate(data)
    path = tmp_path / "mimic.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_default_spec_loads():
    spec = load_mimic_spec(env_id=TASK)
    subtasks = spec.eefs["robot0"].subtasks
    assert [s.term_signal for s in subtasks] == ["grasp_red", "red_on_blue", "grasp_green", None]
    assert spec.generation.guarantee and not spec.generation.keep_failed
    assert all(s.action_noise == 0.03 and s.num_interpolation_steps == 5 for s in subtasks)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d["generation"].update(bogus=1), "unknown key(s) bogus"),
    (lambda d: d["generation"].update(guarantee="yes"), "generation.guarantee: expected true or false"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(action_noise="big"), "action_noise: expected a number"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(selection_strategy="best"), "selection_strategy 'best'"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(term_offset_range=[5, 1]), "term_offset_range"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][1].update(term_signal=None), "term_signal is required"),
    (lambda d: d.pop("task"), "missing required key 'task'"),
    (lambda d: d["generation"].update(keep_failed="no"), "generation.keep_failed: expected true or false"),
    (lambda d: d["generation"].update(seed=-5), "generation.seed must be an integer from 0 to 4294967295, got -5"),
    (lambda d: d["generation"].update(seed=2**32), "generation.seed must be an integer from 0 to 4294967295"),
])
def test_bad_spec_names_file_and_key(tmp_path, mutate, fragment):
    path = write_spec(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_mimic_spec(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_mimic_spec(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_mimic_spec(bad)


BIMANUAL = "mimicrec/BimanualLift-v0"
COORD = {"type": "coordination", "subtasks": [["robot0", 1], ["robot1", 1]]}


@pytest.mark.parametrize("constraints, fragment", [
    ([{**COORD, "type": "parallel"}], "type 'parallel' is unknown"),
    ([{**COORD, "subtasks": [["robot0", 1]]}], "exactly two [eef, subtask index] pairs"),
    ([{**COORD, "subtasks": [["robot0", 0], ["robot0", 1]]}], "two different end effectors"),
    ([{**COORD, "subtasks": [["robot0", 1], ["robot2", 1]]}], "names an end effector or subtask index"),
    ([{**COORD, "subtasks": [["robot0", 5], ["robot1", 1]]}], "names an end effector or subtask index"),
    ([{**COORD, "coordination_scheme": "mirror"}], "coordination_scheme 'mirror' is unknown"),
    ([{**COORD, "min_time_diff": -2}], "min_time_diff must be >= -1"),
    ([{**COORD, "coordination_scheme_pos_noise_scale": -0.1}], "noise scales must be >= 0"),
    ([COORD, {**COORD, "type": "sequential"}], "constraints[1]: a subtask may be in one constraint only"),
    ([{**COORD, "bogus": 1}], "unknown key(s) bogus"),
])
def test_bad_constraint_names_the_key(tmp_path, constraints, fragment):
    data = yaml.safe_load(open(envs.task_config_file(BIMANUAL, "mimic")))
    data["constraints"] = constraints
    path = tmp_path / "mimic.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_mimic_spec(path)
    assert str(path) in str(err.value) and fragment in str(err.value)


def test_coordination_transform_needs_object_refs(tmp_path):
    data = yaml.safe_load(open(envs.task_config_file(BIMANUAL, "mimic")))
    data["eefs"]["robot0"]["subtasks"][1].update(object_ref=None, selection_strategy="random")
    data["constraints"] = [{**COORD, "coordination_scheme": "transform"}]
    path = tmp_path / "mimic.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="needs an object_ref on both subtasks"):
        load_mimic_spec(path)


def test_negative_settle_steps_are_refused(tmp_path):
    path = write_spec(tmp_path, lambda d: d["eefs"]["robot0"]["subtasks"][0].update(num_settle_steps_before_gripper=-1))
    with pytest.raises(ConfigError, match="num_settle_steps_before_gripper"):
        load_mimic_spec(path)


def test_json_spec_is_found_when_the_task_has_no_yaml(tmp_path, monkeypatch):
    """mimic.json is looked up as gym.json is: the one precedence rule (YAML, else JSON)."""
    from envs import task_config

    root = tmp_path / "configs"
    shutil.copytree(task_config.CONFIG_ROOT, root)
    monkeypatch.setattr(task_config, "CONFIG_ROOT", root)
    data = yaml.safe_load((root / "StackThree" / "mimic.yaml").read_text())
    data["eefs"]["robot0"]["subtasks"][0]["description"] = "from JSON"
    (root / "StackThree" / "mimic.yaml").unlink()
    (root / "StackThree" / "mimic.json").write_text(json.dumps(data))
    assert load_mimic_spec(env_id=TASK).eefs["robot0"].subtasks[0].description == "from JSON"


def test_a_spec_stored_as_text_reads_back_equal_and_a_broken_one_is_named():
    """What annotate stores in its file (``spec_text``) is what generate reads back where the task has no spec."""
    from augment.spec import spec_from_text, spec_text

    for task in ("Lift", "StackThree", "BimanualLift", "StackWall"):
        spec = load_mimic_spec(None, f"mimicrec/{task}-v0")
        assert spec_from_text(spec_text(spec), "ann.hdf5") == spec
    with pytest.raises(ConfigError, match="ann.hdf5: the stored spec is not JSON"):
        spec_from_text("{eefs:", "ann.hdf5")
    with pytest.raises(ConfigError, match="ann.hdf5"):
        spec_from_text('{"task": "x"}', "ann.hdf5")  # eefs missing
