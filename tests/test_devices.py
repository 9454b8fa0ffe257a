"""Devices: the keyboard for real (Xvfb + pynput + xdotool), SpaceMouse decoding, the registry."""

import os
import shutil
import subprocess
import sys
import time
from collections import namedtuple

import h5py
import pytest

from envs.errors import TaskError, UsageError
from recorder.devices import DEVICES, Event, make_device
from recorder.devices.keyboard import decode_keys
from recorder.devices.spacemouse import SpaceMouseDevice, decode_spacemouse

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


@pytest.fixture()
def xserver():
    """A real X server (Xvfb) on a free display, for pybullet's viewer and pynput."""
    if os.environ.get("MIMICREC_GUI_TESTS") != "1":
        pytest.skip("opt-in (MIMICREC_GUI_TESTS=1): passed 2 of 3 alone, hung once in the full suite; see issue 4")
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("Xvfb/xdotool not installed (`make xvfb` installs them where it can)")
    display = f":{90 + os.getpid() % 100}"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24"], stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    yield display
    server.terminate()
    server.wait(timeout=10)


def _xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display}, check=True, timeout=10)


def test_keyboard_records_what_was_typed(xserver, tmp_path):
    """Hold Q (up) and W (+x), toggle the gripper with K, end with Enter, quit with Backspace: the episode
    (a failure, kept with --keep-failed) holds exactly those motions."""
    out = tmp_path / "run"
    env = {**os.environ, "DISPLAY": xserver}
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "record", "--device", "keyboard", "--quiet",
                             "--task", "mimicrec/Lift-v0", "--keep-failed", "--out", str(out)],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "Backspace" in line:  # the last binding printed: the viewer is open and the listener runs
            break
    time.sleep(1.0)
    for keys, hold in (("q", 0.6), ("w", 0.6)):
        _xdotool(xserver, "keydown", keys)
        time.sleep(hold)
        _xdotool(xserver, "keyup", keys)
    _xdotool(xserver, "key", "k")
    time.sleep(0.5)
    _xdotool(xserver, "key", "Return")
    time.sleep(1.0)
    _xdotool(xserver, "key", "BackSpace")
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + stderr
    assert "recorded 0 demos" in stdout and "failed:  1 episodes" in stdout
    with h5py.File(out / "failed" / "demos.hdf5") as f:
        actions = f["data/demo_0/actions"][()]
        eef = f["data/demo_0/obs/robot0_eef_pos"][()]
    assert (actions[:, 2] > 0.1).sum() >= 5 and (actions[:, 0] > 0.1).sum() >= 5  # up, then forward
    assert actions[0, 6] == -1.0 and actions[-1, 6] == 1.0  # gripper toggled closed by K
    assert eef[-1, 2] - eef[0, 2] > 0.05 and eef[-1, 0] - eef[0, 0] > 0.05
