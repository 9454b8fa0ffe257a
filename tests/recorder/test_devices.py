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
from recorder.devices.spacemouse import SpaceMouseDevice, decode_spacemouse, hid_library_loads
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
    # pyspacemouse states in its HID_Z_UP convention: tilt forward + pull up, a sideways tilt and a twist under the
    # dead zone; then a tilt to the right and a twist counterclockwise
    tilt = State(0, 0.0, 0.0, 0.6, -0.8, 0.05, 0.02, [0, 0])
    cmd = decode_spacemouse(tilt, set())
    assert cmd.dpos.tolist() == [0.8, 0.0, 0.6] and cmd.drot.tolist() == [0.0, 0.0, 0.0]
    assert not cmd.toggle_gripper and not cmd.events
    cmd = decode_spacemouse(State(1, 0.0, 0.0, 0.0, 0.0, 0.5, 0.7, [1, 0]), {0})
    assert cmd.toggle_gripper and cmd.dpos.tolist() == [0.0, -0.5, 0.0] and cmd.drot.tolist() == [0.0, 0.0, 0.7]
    assert decode_spacemouse(State(2, 0, 0, 0, 0, 0, 0, [0, 1]), {1}).events == {Event.DISCARD}


def _hid_report(channel: int, *values: int) -> bytes:
    """One raw HID report of a SpaceMouse: the channel byte, then signed 16-bit little-endian values."""
    return bytes([channel, *b"".join(int(v).to_bytes(2, "little", signed=True) for v in values)])


class QueuedHidDevice:
    """The HID layer of a plugged-in SpaceNavigator (easyhid's device: open, nonblocking reads, close):
    what the test queues is what the device sent. The one stand-in: no SpaceMouse is plugged in here."""

    product_string, manufacturer_string, release_number, serial_number = "SpaceNavigator", "3Dconnexion", 1, ""

    def __init__(self) -> None:
        self.queued: list[bytes] = []
        self.closed = False

    def open(self) -> None:  # noqa: D102
        pass

    def set_nonblocking(self, enable: bool) -> None:  # noqa: D102
        assert enable  # the recorder polls once per control step

    def read(self, size: int) -> bytes:  # noqa: D102
        return self.queued.pop(0)[:size] if self.queued else b""

    def close(self) -> None:  # noqa: D102
        self.closed = True


def test_spacemouse_reads_pyspacemouse_2_devices_and_every_queued_report(monkeypatch):
    """Raw reports through pyspacemouse's own decoding: its HID axes (x right, y toward the person, z down; Rx, Ry,
    Rz about them) become the bindings, a press and release between two commands still toggles, and a backlog of
    reports is read to the newest (the device sends them far faster than 20 Hz)."""
    import pyspacemouse

    from recorder.devices import spacemouse

    hid = QueuedHidDevice()

    def open_spacemouse(axis_convention):
        assert axis_convention == pyspacemouse.AxisConvention.HID_Z_UP
        spec = pyspacemouse.get_device_specs()["SpaceNavigator"]
        mouse = pyspacemouse.SpaceMouseDevice(pyspacemouse.apply_axis_convention(spec, axis_convention), hid)
        mouse.open()
        return mouse

    monkeypatch.setattr(spacemouse, "hid_library_loads", lambda: True)
    monkeypatch.setattr(pyspacemouse, "get_connected_devices", lambda: ["SpaceNavigator"])
    monkeypatch.setattr(pyspacemouse, "open", open_spacemouse)
    device = SpaceMouseDevice()
    device.connect(None)
    # tilt forward (Rx < 0), twist counterclockwise seen from above (Rz < 0), pull up (z < 0), left button tapped
    hid.queued = [_hid_report(2, -280, 0, -245), _hid_report(1, 0, 0, -210), _hid_report(3, 1), _hid_report(3, 0)]
    cmd = device.read()
    assert np.allclose(cmd.dpos, [0.8, 0.0, 0.6]) and np.allclose(cmd.drot, [0.0, 0.0, 0.7])
    assert cmd.toggle_gripper and not cmd.events and not hid.queued
    cmd = device.read()  # nothing new: the cap is still held where it was, the button was not pressed again
    assert np.allclose(cmd.dpos, [0.8, 0.0, 0.6]) and not cmd.toggle_gripper
    hid.queued = [_hid_report(2, 0, -tilt, 0) for tilt in range(0, 351, 7)] + [_hid_report(3, 2)]  # tilt right
    cmd = device.read()
    assert np.allclose(cmd.dpos, [0.0, -1.0, 0.6]) and cmd.events == {Event.DISCARD} and not hid.queued
    device.close()
    assert hid.closed


def test_spacemouse_without_a_device_fails_clearly():
    """Without the hidapi library (this machine's case unless it was installed) the error says to install it;
    with it, and no SpaceMouse plugged in, it says to plug one in and how to get access to /dev/hidraw*."""
    expected = "no SpaceMouse found: plug one in" if hid_library_loads() else "apt install libhidapi-hidraw0"
    with pytest.raises(TaskError, match=expected):
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
    assert "holds 0 demos" in text and "failed:  1 episode in" in text
    assert "stopping threads" not in text and "Thread TERMINATED" not in text  # the viewer's teardown chatter
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
