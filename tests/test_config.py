"""Mimic spec loading: defaults, and errors that name the file and the key."""

import pytest
import yaml

from augment.spec import load_mimic_spec, task_config_dir
from envs.errors import ConfigError

TASK = "mimicrec/StackThree-v0"


def write_spec(tmp_path, mutate):
    data = yaml.safe_load(open(task_config_dir(TASK) / "mimic.yaml"))
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
    (lambda d: d["generation"].update(guarantee="yes"), "generation.guarantee: expected bool"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(action_noise="big"), "action_noise: expected float"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(selection_strategy="best"), "selection_strategy 'best'"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(term_offset_range=[5, 1]), "term_offset_range"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][1].update(term_signal=None), "term_signal is required"),
    (lambda d: d.pop("task"), "missing required key 'task'"),
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
