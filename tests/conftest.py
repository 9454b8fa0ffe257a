"""Shared fixtures: one small recorded and annotated StackThree dataset per test session."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TASK = "mimicrec/StackThree-v0"


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """A record run of 3 scripted StackThree demos (RecordResult)."""
    from recorder.record import RecordOptions, record

    return record(RecordOptions(TASK, num_demos=3, seed=0, out=str(tmp_path_factory.mktemp("rec") / "run")))


@pytest.fixture(scope="session")
def annotated(recorded, tmp_path_factory):
    """The recorded demos annotated with --auto (path to the HDF5)."""
    from augment.annotate import annotate

    out = tmp_path_factory.mktemp("ann") / "annotated.hdf5"
    result = annotate(str(recorded.hdf5_path), str(out))
    assert result.kept == ["demo_0", "demo_1", "demo_2"], result.rejected
    return out


@pytest.fixture
def env():
    """A fresh StackThree env (closed after the test)."""
    from recorder.dataset.tasks import make_env

    e = make_env(TASK)
    yield e
    e.close()


@pytest.fixture
def make_task_env():
    """Factory ``make_task_env(task_id)`` of unwrapped envs, all closed after the test."""
    from recorder.dataset.tasks import make_env

    made = []

    def make(task: str):
        made.append(make_env(task))
        return made[-1]

    yield make
    for e in made:
        e.close()


@pytest.fixture()
def xserver():
    """A real X server (Xvfb) on a free display, for pybullet's viewer and pynput (its display name)."""
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("Xvfb/xdotool not installed and not installable here (`make xvfb` installs them as root)")
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    display = f":{server.stdout.readline().strip()}"  # Xvfb picks a free display and prints it when ready
    yield display
    server.terminate()
    server.wait(timeout=10)


def xdotool(display: str, *args: str) -> None:
    """Type on ``display`` as a person would (key presses reach pynput through the X server)."""
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


def wait_for_line(log, text: str, proc: subprocess.Popen, timeout_s: float = 120, count: int = 1) -> None:
    """Wait until the program writing ``log`` has printed ``text`` ``count`` times (it must keep running)."""
    deadline = time.monotonic() + timeout_s
    while log.read_text().count(text) < count:
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


@pytest.fixture
def config_root(tmp_path, monkeypatch):
    """A copy of configs/ that tests may break; the loader cache is cleared around the test."""
    import shutil

    from envs import task_config

    root = tmp_path / "configs"
    shutil.copytree(task_config.CONFIG_ROOT, root)
    monkeypatch.setattr(task_config, "CONFIG_ROOT", root)
    task_config.load_task_config.cache_clear()
    yield root
    task_config.load_task_config.cache_clear()


def edit_config(root, name: str, kind: str, mutate) -> object:
    """Apply ``mutate`` to the YAML mapping of ``root/<name>/<kind>.yaml``; returns the file's path."""
    import yaml

    path = root / name / f"{kind}.yaml"
    data = yaml.safe_load(path.read_text())
    mutate(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))  # flags are declared in order
    return path
