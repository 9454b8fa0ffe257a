"""Fuzzing the CLI's inputs (issue 25, item 8): random flags and values for every command, random bytes as
dataset files, random YAML as task, Mimic-spec and training files. Whatever comes in, a command exits 0, 1
or 2 with at most a one-line error, never a traceback, and leaves no half-written file behind.

Every case names an input that cannot start real work (a garbage dataset or task file), so each ends in
well under a second; the cases are drawn from a fixed seed, so a failure reproduces.
"""

from __future__ import annotations

import argparse
import string

import numpy as np
import pytest
import yaml

from recorder.cli import build_parser, main

SEED = 20261205
VALUES = ["0", "-1", "1", "3", "1e9", "nan", "-0.5", "D9", "", " ", "x" * 300, "../..", "%s", "{a: 1}", "[1, 2]",
          "null", "true", "plan", "--", "ÿ", "mimicrec/Nope-v0", "panda", "D1"]


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def random_bytes_file(path, rng: np.random.Generator) -> str:
    head = rng.choice([b"", b"\x89HDF\r\n\x1a\n", b"PAR1", b"{", b"data:"])
    path.write_bytes(head + rng.integers(0, 256, int(rng.integers(0, 4096)), dtype=np.uint8).tobytes())
    return str(path)


def random_yaml(rng: np.random.Generator, depth: int = 0):
    kind = rng.integers(0, 6 if depth < 3 else 3)
    if kind == 0:
        return float(rng.normal())
    if kind == 1:
        return "".join(rng.choice(list(string.ascii_letters + " ._-"), int(rng.integers(0, 12))))
    if kind == 2:
        return rng.choice([None, True, -1, 0, 10**12])
    keys = ["task", "scene", "objects", "logic", "eefs", "subtasks", "robot", "randomization", "train", "algo",
            "generation", "planner", "transit", "constraints", "shape", "size", "flags", "success"]
    if kind in (3, 4):
        return {str(rng.choice(keys)): random_yaml(rng, depth + 1) for _ in range(int(rng.integers(0, 5)))}
    return [random_yaml(rng, depth + 1) for _ in range(int(rng.integers(0, 4)))]


def random_argv(name: str, sub: argparse.ArgumentParser, garbage: str, rng: np.random.Generator) -> list[str]:
    argv = [name]
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction) or rng.random() < 0.5:
            continue
        value = str(rng.choice(action.choices)) if action.choices and rng.random() < 0.7 else str(rng.choice(VALUES))
        if not action.option_strings:
            argv.append(garbage)  # positional inputs: always the garbage file, so nothing real starts
        elif action.nargs == 0:
            argv.append(action.option_strings[0])
        else:
            argv += [action.option_strings[0], value]
    if name == "record":  # recording needs a task: make it the garbage file
        argv += ["--task", garbage]
    return argv


def assert_clean_exit(code: int, capsys, out_dir) -> None:
    captured = capsys.readouterr()
    assert code in (0, 1, 2), (code, captured.err)
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert len(captured.err.strip().splitlines()) <= 2, captured.err  # argparse: usage line + error line
    leftovers = [p for p in out_dir.rglob("*") if ".partial" in p.name or p.name.endswith(".parts")]
    assert not leftovers, leftovers


@pytest.mark.parametrize("case", range(120))
def test_random_flags_never_crash(case, tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng([SEED, case])
    monkeypatch.setenv("MIMICREC_DATASET_ROOT", str(tmp_path / "datasets"))
    monkeypatch.chdir(tmp_path)
    cmds = commands()
    name = str(rng.choice(sorted(set(cmds) - {"record"}) if case % 4 else ["record"]))
    garbage = random_bytes_file(tmp_path / f"input{rng.choice(['.hdf5', '.yaml', '.pth', ''])}", rng)
    try:
        code = main(random_argv(name, cmds[name], garbage, rng))
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    assert_clean_exit(code, capsys, tmp_path)


@pytest.mark.parametrize("case", range(40))
def test_random_yaml_configs_are_one_line_errors(case, tmp_path, capsys, recorded):
    rng = np.random.default_rng([SEED, 1, case])
    body = random_yaml(rng, 1)
    data = {f"unknown_{rng.integers(1000)}": 1, **body} if case % 2 and isinstance(body, dict) else body
    text = yaml.safe_dump(data) if case % 5 else (tmp_path / random_bytes_file(tmp_path / "raw", rng)).read_bytes() \
        .decode("latin-1")
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="latin-1")
    task_dir = tmp_path / "tasks" / "Fuzz"
    task_dir.mkdir(parents=True)
    (task_dir / "gym.yaml").write_text(text, encoding="latin-1")
    out = tmp_path / "out"
    runs = [["tasks", str(tmp_path / "tasks")],
            ["record", "--task", str(task_dir / "gym.yaml"), "--num-demos", "1", "--out", str(out / "rec")],
            ["annotate", str(recorded.hdf5_path), "--config", str(config), "--out", str(out / "ann.hdf5")],
            ["train", str(recorded.hdf5_path), "--config", str(config), "--epochs", "1", "--out", str(out / "pol")]]
    for argv in runs:
        code = main(argv)
        assert_clean_exit(code, capsys, tmp_path)
        assert code != 0 or argv[0] == "tasks", argv  # random YAML is never a valid task, spec or config


def tree_slots(node, slots=None) -> list[tuple[object, object]]:
    """Every (container, key) of a parsed YAML tree: the places one mutation can change."""
    slots = [] if slots is None else slots
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        slots.append((node, key))
        tree_slots(value, slots)
    return slots


def mutate(data, rng: np.random.Generator):
    """``data`` with one random change at a random place: a key dropped, a value replaced or wrapped in a list."""
    container, key = tree_slots(data)[int(rng.integers(len(tree_slots(data))))]
    operation = int(rng.integers(3))
    if operation == 0 and isinstance(container, dict):
        del container[key]
    elif operation == 1:
        container[key] = random_yaml(rng, 2)
    else:
        container[key] = [container[key], container[key]] if rng.random() < 0.5 else str(container[key]) + "x"
    return data


@pytest.fixture
def time_limit():
    """Fail a case that runs longer than 90 s (a hang) instead of stalling the suite."""
    import signal

    def expire(*_):
        raise TimeoutError("the case ran longer than 90 s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(90)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("case", range(48))
def test_mutated_action_banks_and_robot_files_are_one_line_errors_or_work(case, tmp_path, capsys, time_limit):
    """Even cases: Lift with a mutated robot file (``--robot``); odd: a copy of Lift (its own task id) whose
    action bank is mutated. One case in eight replaces the file with random bytes."""
    import shutil

    import envs

    rng = np.random.default_rng([SEED, 2, case])
    lift = envs.task_config_file("mimicrec/Lift-v0", "gym").parent
    if case % 2:
        task = tmp_path / "Lift"
        shutil.copytree(lift, task)
        gym = task / "gym.yaml"
        gym.write_text(gym.read_text().replace("task: mimicrec/Lift-v0", f"task: fuzz/Lift{case}-v0"))
        target, argv = task / "action_bank.yaml", ["--task", str(task)]
    else:
        target = tmp_path / "robot.yaml"
        shutil.copy(lift.parent / "robots" / "panda.yaml", target)
        argv = ["--task", "mimicrec/Lift-v0", "--robot", str(target)]
    if case % 8:
        text = yaml.safe_dump(mutate(yaml.safe_load(target.read_text()), rng))
    else:
        text = (tmp_path / random_bytes_file(tmp_path / "raw", rng)).read_bytes().decode("latin-1")
    target.write_text(text, encoding="latin-1")
    code = main(["record", *argv, "--num-demos", "1", "--out", str(tmp_path / "out"), "--quiet"])
    assert_clean_exit(code, capsys, tmp_path)
