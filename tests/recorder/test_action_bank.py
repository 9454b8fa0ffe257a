"""Action banks: every task's bank loads, runs, and bad graphs fail with errors naming the part."""

import copy

import numpy as np
import pytest
import yaml

import envs
from envs.errors import ConfigError
from recorder.devices.action_bank import action_bank_path, load_action_bank
from recorder.devices.scripted import ActionBankExpert

LIFT = "mimicrec/Lift-v0"


def _lift_bank() -> dict:
    return yaml.safe_load(action_bank_path(LIFT).read_text())


def _load(tmp_path, raw: dict, suffix: str = ".yaml"):
    path = tmp_path / f"action_bank{suffix}"
    path.write_text(yaml.safe_dump(raw))
    return load_action_bank(str(path))


@pytest.mark.parametrize("task", sorted(envs.TASKS))
def test_every_task_has_a_valid_bank(task):
    bank = load_action_bank(str(action_bank_path(task)))
    assert bank.edge and bank.node and bank.scope


def test_json_is_accepted(tmp_path):
    import json

    path = tmp_path / "action_bank.json"
    path.write_text(json.dumps(_lift_bank()))
    assert "approach" in load_action_bank(str(path)).edges


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: b["edge"]["arm"][0].update(fn="fly"), "edge 'approach': unknown function 'fly'"),
    (lambda b: b["edge"]["arm"][1].update(to="nowhere"), "edge 'descend': moves to node 'nowhere'"),
    (lambda b: b["sync"].update(descend=["lift"]), "edges form a cycle"),
    (lambda b: b["node"].update(a={"base": {"node": "b"}}, b={"base": {"node": "a"}}), "nodes form a cycle"),
    (lambda b: b["node"]["lifted"].update(base={"node": "ghost"}), "node 'lifted': base node 'ghost'"),
    (lambda b: b["sync"].update(close=["ghost"]), "sync: edge 'ghost' does not exist"),
    (lambda b: b["edge"]["gripper"][0].pop("duration"), "edge 'close': 'close' needs a positive duration"),
    (lambda b: b["edge"]["gripper"][0].update(fn="move", to="lifted"), "edge 'close': 'move' is a arm function"),
    (lambda b: b["scope"]["arm"].update(kind="leg"), "scope 'arm': kind must be arm or gripper"),
    (lambda b: b["node"]["lifted"].update(colour="red"), "unknown key"),
])
def test_bad_graphs_fail_naming_the_part(tmp_path, change, message):
    raw = copy.deepcopy(_lift_bank())
    change(raw)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _load(tmp_path, raw)


def _fresh(tmp_path, name):
    (tmp_path / name).mkdir()
    return tmp_path / name


def _run(env, bank, steps=80):
    env.reset(seed=0)
    expert = ActionBankExpert(env, bank)
    for _ in range(steps):
        env.step(expert.act())


def test_unreachable_pose_and_unknown_object_fail_at_run_time(tmp_path, make_task_env):
    env = make_task_env(LIFT)
    raw = _lift_bank()
    raw["node"]["above_red"]["ops"][1] = {"offset": [0, 0, 1.5]}  # 1.5 m above the cube
    with pytest.raises(ConfigError, match="node 'above_red': .* unreachable for robot0"):
        _run(env, _load(_fresh(tmp_path, "far"), raw))
    raw = _lift_bank()
    raw["node"]["above_red"]["base"] = {"object": "cube_purple"}
    with pytest.raises(ConfigError, match="node 'above_red': no object 'cube_purple'"):
        _run(env, _load(_fresh(tmp_path, "purple"), raw))


def test_sync_makes_an_edge_wait(make_task_env):
    """The gripper closes only once the arm has descended: its command stays open until then."""
    env = make_task_env(LIFT)
    env.reset(seed=0)
    expert = ActionBankExpert(env, load_action_bank(str(action_bank_path(LIFT))))
    grippers, finished = [], []
    for _ in range(60):
        action = expert.act()
        grippers.append(action[-1])
        env.step(action)
        finished.append("descend" in expert.finished)
    first_close = int(np.argmax(np.asarray(grippers) > 0))
    assert grippers[first_close] > 0 and finished[first_close - 1]
