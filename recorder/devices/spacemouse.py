"""SpaceMouse teleoperation through pyspacemouse: tilt moves x/y, push/pull z, twist yaws.

Left button toggles the gripper, right button discards the episode and resets. Decoding a device
state into a command is the pure ``decode_spacemouse``.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from envs.errors import TaskError
from envs.interface import TaskEnv
from recorder.devices.base import Event, TeleopCommand, TeleopDevice, register_device

DEAD_ZONE = 0.1  # axis readings below this (of full scale) are treated as zero
MAX_REPORTS_PER_READ = 1000  # a bound on the HID reports read for one command (the kernel queues ~64)
SPACEMOUSE_BINDINGS = (
    ("tilt forward / back", "move +x / -x"), ("tilt left / right", "move +y / -y"),
    ("pull up / push down", "move up / down"), ("twist", "yaw"),
    ("left button", "toggle the gripper"), ("right button", "discard the episode and reset"),
    ("Ctrl-C", "quit (episodes saved so far are kept)"),
)
PERMISSION_HINT = ("on Linux give your user read/write access to /dev/hidraw* (a udev rule such as "
                   'KERNEL=="hidraw*", ATTRS{idVendor}=="256f", MODE="0666", or 046d for older models)')
HID_LIBRARY_HINT = "install hidapi (Debian/Ubuntu: apt install libhidapi-hidraw0; macOS: brew install hidapi)"


def hid_library_loads() -> bool:
    """Whether pyspacemouse's HID backend (easyhid) found the hidapi shared library.

    Without it easyhid binds the process itself, and every device query fails later with a bare
    ``AttributeError``; pyspacemouse then only says the library is "probably not installed".
    """
    try:
        from easyhid import easyhid

        return callable(easyhid.hidapi.hid_enumerate)
    except (ImportError, OSError, AttributeError):
        return False


def _dead(value: float) -> float:
    return 0.0 if abs(value) < DEAD_ZONE else float(np.clip(value, -1.0, 1.0))


def decode_spacemouse(state: Any, pressed: set[int]) -> TeleopCommand:
    """A command from a pyspacemouse state in its ``HID_Z_UP`` convention (x right, y away from the person, z up;
    roll, pitch, yaw about them) and the buttons ``pressed`` since the last command (pure).

    Tilting the cap forward (negative roll) moves +x, tilting it right (positive pitch) moves -y, pulling it up
    moves +z, twisting it counterclockwise (positive yaw) turns +yaw. Button 0 toggles the gripper, button 1
    discards.
    """
    dpos = np.array([-_dead(state.roll), -_dead(state.pitch), _dead(state.z)])
    drot = np.array([0.0, 0.0, _dead(state.yaw)])
    events = frozenset({Event.DISCARD}) if 1 in pressed else frozenset()
    return TeleopCommand(dpos, drot, 0 in pressed, events)


def _newly_pressed(buttons: tuple[int, ...], before: tuple[int, ...]) -> set[int]:
    return {i for i, b in enumerate(buttons) if b and not (i < len(before) and before[i])}


@register_device("spacemouse")
class SpaceMouseDevice(TeleopDevice):
    """A 3Dconnexion SpaceMouse read with pyspacemouse 2.x (opened in ``connect``)."""

    bindings = SPACEMOUSE_BINDINGS

    def __init__(self, sensitivity: float = 1.0, **kwargs: object) -> None:
        super().__init__(sensitivity)
        self._buttons: tuple[int, ...] = ()
        self._mouse: Any = None  # the open pyspacemouse.SpaceMouseDevice
        self._state: Any = None  # its state (pyspacemouse updates one object in place)

    def connect(self, env: TaskEnv) -> None:  # noqa: D102
        try:
            import pyspacemouse
        except (ImportError, OSError) as err:
            raise TaskError(f"pyspacemouse cannot load ({err}); {HID_LIBRARY_HINT} and pip install pyspacemouse") \
                from err
        if not hid_library_loads():
            raise TaskError(f"cannot read a SpaceMouse: its HID library did not load; {HID_LIBRARY_HINT}")
        if not pyspacemouse.get_connected_devices():
            models = ", ".join(sorted(pyspacemouse.get_device_specs()))
            raise TaskError(f"no SpaceMouse found: plug one in (supported: {models})")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pyspacemouse prints "<model> found"
                self._mouse = pyspacemouse.open(axis_convention=pyspacemouse.AxisConvention.HID_Z_UP)
        except Exception as err:  # noqa: BLE001  (hid errors come in several types)
            raise TaskError(f"cannot open a SpaceMouse ({err}); {PERMISSION_HINT}") from err

    def read(self) -> TeleopCommand:
        """The latest axes and every button press since the last call: the device sends reports far faster
        than the control rate, so every queued report is read (else the command lags behind the hand)."""
        pressed: set[int] = set()
        for _ in range(MAX_REPORTS_PER_READ):
            if not self._read_report(pressed):
                break
        return decode_spacemouse(self._state, pressed)

    def _read_report(self, pressed: set[int]) -> bool:
        """Read one queued report into the state, adding its button presses to ``pressed``; False if none was."""
        stamp = None if self._state is None else self._state.t
        self._state = self._mouse.read()  # the device's one state object, updated by each report
        if self._state.t == stamp:
            return False
        buttons = tuple(self._state.buttons)
        pressed |= _newly_pressed(buttons, self._buttons)
        self._buttons = buttons
        return True

    def close(self) -> None:  # noqa: D102
        if self._mouse is not None:
            self._mouse.close()
            self._mouse = self._state = None
