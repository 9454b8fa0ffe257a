"""Devices: the keyboard for real (Xvfb + pynput + xdotool), SpaceMouse decoding, the registry."""

import os
import re
import subprocess
import sys
import time
from collections import namedtuple

import h5py
import numpy as np
import pytest

from envs.errors import TaskError, UsageError
from recorder.devices import DEVICES, Event, make_device
from recorder.devices.keyboard import decode_keys
from recorder.devices.spacemouse import SpaceMouseDevice, decode_spacemouse
from tests.conftest import wait_for_line, xdotool

State = namedtuple("State", "t x y z roll pitch yaw buttons")  # pyspacemouse's state fields


def test_registry_lists_every_device_and_suggests_the_nearest():
    assert {"scripted", "keyboard", "spacemouse"} <= set(DEVICES)
    with pytest.raises(UsageError, match="did you mean 'keyboard'"):
        make_device("keybord", "mimicrec/Lift-v0")


def test_keys_decode_to_motion_gripper_and_events():
    cmd = decode_keys({"w", "q", "c"}, ["k", "enter"])
    assert cmd.dpos.tolist() == [1.0, 0.0, 1.0] and cmd.drot.tolist() == [0.0, 0.0, 1.0]
    assert cmd.toggle_gripper and cmd.events == {Event.DONE}
    cmd = decode_keys({"s", "d", "e", "x", "g", "v"}, ["r", "k", "k"])
    assert cmd.dpos.tolist() == [-1.0, -1.0, -1.0] and cmd.drot.tolist() == [-1.0, -1.0, -1.0]
    assert not cmd.toggle_gripper and cmd.events == {Event.DISCARD}
    assert decode_keys({"w", "s"}, ["backspace"]).events == {Event.QUIT}


def test_spacemouse_states_decode_to_commands():
    # recorded states: tilt forward + push down, a twist under the dead zone, then a left-button press
    tilt = State(0, 0.0, 0.0, -0.6, 0.05, 0.8, 0.02, [0, 0])
    cmd = decode_spacemouse(tilt, (0, 0))
    assert cmd.dpos.tolist() == [0.8, 0.0, -0.6] and cmd.drot.tolist() == [0.0, 0.0, 0.0]
    assert not cmd.toggle_gripper and not cmd.events
    press = State(1, 0.0, 0.0, 0.0, -0.5, 0.0, 0.7, [1, 0])
    cmd = decode_spacemouse(press, (0, 0))
    assert cmd.toggle_gripper and cmd.dpos.tolist() == [0.0, 0.5, 0.0] and cmd.drot.tolist() == [0.0, 0.0, -0.7]
    assert not decode_spacemouse(press, (1, 0)).toggle_gripper  # held, not pressed again
    assert decode_spacemouse(State(2, 0, 0, 0, 0, 0, 0, [0, 1]), (1, 0)).events == {Event.DISCARD}


def test_spacemouse_without_a_device_fails_clearly():
    with pytest.raises(TaskError, match="hidraw|SpaceMouse|HID"):
        SpaceMouseDevice().connect(None)


def test_cli_spacemouse_without_a_device_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", "record", "--device", "spacemouse",
                           "--task", "mimicrec/Lift-v0", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "error:" in proc.stderr
    assert not (tmp_path / "run").exists()


def _steps_so_far(log) -> int:
    """The step count of episode 1 in the recorder's live status line (updated every 5 steps)."""
    counts = re.findall(r"episode 1, (\d+) steps", log.read_text())
    return int(counts[-1]) if counts else 0


def _wait_steps(log, steps: int, timeout_s: float = 60) -> None:
    """Wait until the recorder has taken ``steps`` more steps (however slow the machine is)."""
    start, deadline = _steps_so_far(log), time.monotonic() + timeout_s
    while _steps_so_far(log) < start + steps and time.monotonic() < deadline:
        time.sleep(0.05)


def _type(display: str, log, proc) -> None:
    _wait_steps(log, 10)  # the viewer is drawing and the loop is stepping
    for key in ("q", "w"):  # each held for 10 steps
        xdotool(display, "keydown", key)
        _wait_steps(log, 10)
        xdotool(display, "keyup", key)
    xdotool(display, "key", "k")
    _wait_steps(log, 5)
    xdotool(display, "key", "Return")
    wait_for_line(log, "episode 2: recording", proc)  # the first is filed (a busy machine may take seconds)
    xdotool(display, "key", "BackSpace")


@pytest.mark.timeout(150, method="signal")  # a stuck viewer fails the test instead of hanging the suite
def test_keyboard_records_what_was_typed(xserver, tmp_path):
    """Hold Q (up) and W (+x), toggle the gripper with K, end with Enter, quit with Backspace: the episode
    (a failure, kept with --keep-failed) holds exactly those motions."""
    out, log = tmp_path / "run", tmp_path / "record.log"
    with open(log, "w") as sink:  # a file, not a pipe: the viewer's chatter can never block the recorder
        proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "record", "--device", "keyboard",
                                 "--task", "mimicrec/Lift-v0", "--keep-failed", "--out", str(out)],
                                env={**os.environ, "DISPLAY": xserver}, stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_line(log, "episode 1: recording", proc)  # viewer open, listener running, episode started
        _type(xserver, log, proc)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "holds 0 demos" in text and "failed:  1 episodes" in text
    with h5py.File(out / "failed" / "demos.hdf5") as f:
        actions = f["data/demo_0/actions"][()]
        eef = f["data/demo_0/obs/robot0_eef_pos"][()]
    up, forward = np.flatnonzero(actions[:, 2] > 0.1), np.flatnonzero(actions[:, 0] > 0.1)
    trace = f"{len(actions)} steps; up at steps {up}, forward at steps {forward}"
    assert len(up) >= 5 and len(forward) >= 5, trace  # each key held for 10 steps
    assert actions[0, 6] == -1.0 and actions[-1, 6] == 1.0  # gripper toggled closed by K
    assert eef[-1, 2] - eef[0, 2] > 0.05 and eef[-1, 0] - eef[0, 0] > 0.05


def test_tab_switches_arm_and_two_arm_tasks_are_driven_one_arm_at_a_time(make_task_env):
    from recorder.devices.base import TeleopCommand, TeleopDevice

    assert decode_keys(set(), ["tab"]).switch_arm and not decode_keys(set(), ["tab", "tab"]).switch_arm
    up = TeleopCommand(dpos=np.array([0.0, 0.0, 1.0]))
    script = [up] * 6 + [TeleopCommand(switch_arm=True)] + [up] * 6

    class Scripted(TeleopDevice):  # a person pressing Q, then Tab, then Q again
        def read(self) -> TeleopCommand:
            return script.pop(0) if script else TeleopCommand()

    env = make_task_env("mimicrec/BimanualLift-v0")
    env.reset(seed=0)
    device = Scripted()
    device.start_episode(env)
    start = {eef: env.get_robot_eef_pose(eef)[2, 3] for eef in env.eef_names}
    heights = []
    for _ in range(14):
        step = device.step(env)
        assert step.action.shape == env.action_space.shape
        env.step(step.action)
        heights.append({eef: env.get_robot_eef_pose(eef)[2, 3] - start[eef] for eef in env.eef_names})
    assert heights[6]["robot0"] > 0.03 and abs(heights[6]["robot1"]) < 0.01  # only the first arm moved
    assert heights[-1]["robot1"] > 0.03 and abs(heights[-1]["robot0"] - heights[6]["robot0"]) < 0.01
