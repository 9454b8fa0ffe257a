"""SpaceMouse teleoperation through pyspacemouse: tilt moves x/y, push/pull z, twist yaws.

Left button toggles the gripper, right button discards the episode and resets. Decoding a device
state into a command is the pure ``decode_spacemouse``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.errors import TaskError
from envs.interface import TaskEnv
from recorder.devices.base import Event, TeleopCommand, TeleopDevice, register_device

DEAD_ZONE = 0.1  # axis readings below this (of full scale) are treated as zero
SPACEMOUSE_BINDINGS = (
    ("tilt forward / back", "move +x / -x"), ("tilt left / right", "move +y / -y"),
    ("pull up / push down", "move up / down"), ("twist", "yaw"),
    ("left button", "toggle the gripper"), ("right button", "discard the episode and reset"),
    ("Ctrl-C", "quit (episodes saved so far are kept)"),
)
PERMISSION_HINT = ("on Linux give your user read/write access to /dev/hidraw* (a udev rule such as "
                   'KERNEL=="hidraw*", ATTRS{idVendor}=="256f", MODE="0666", or 046d for older models)')


def _dead(value: float) -> float:
    return 0.0 if abs(value) < DEAD_ZONE else float(np.clip(value, -1.0, 1.0))


def decode_spacemouse(state: Any, previous_buttons: tuple[int, ...]) -> TeleopCommand:
    """A command from a pyspacemouse state (fields x, y, z, roll, pitch, yaw, buttons) (pure).

    Buttons act on press (0 -> 1 against ``previous_buttons``): button 0 toggles the gripper,
    button 1 discards.
    """
    dpos = np.array([_dead(state.pitch), -_dead(state.roll), _dead(state.z)])
    drot = np.array([0.0, 0.0, -_dead(state.yaw)])
    buttons = tuple(state.buttons)
    pressed = [i for i, b in enumerate(buttons) if b and not (i < len(previous_buttons) and previous_buttons[i])]
    events = frozenset({Event.DISCARD}) if 1 in pressed else frozenset()
    return TeleopCommand(dpos, drot, 0 in pressed, events)


@register_device("spacemouse")
class SpaceMouseDevice(TeleopDevice):
    """A 3Dconnexion SpaceMouse read with pyspacemouse (opened in ``connect``)."""

    bindings = SPACEMOUSE_BINDINGS

    def __init__(self, sensitivity: float = 1.0, **kwargs: object) -> None:
        super().__init__(sensitivity)
        self._buttons: tuple[int, ...] = ()
        self._module = None

    def connect(self, env: TaskEnv) -> None:  # noqa: D102
        try:
            import pyspacemouse
        except (ImportError, OSError) as err:
            raise TaskError(f"pyspacemouse cannot load ({err}); install the HID library "
                            "(Debian: apt install libhidapi-hidraw0) and pip install pyspacemouse") from err
        models = ", ".join(sorted(getattr(pyspacemouse, "device_specs", {}))) or "see pyspacemouse's list"
        try:
            opened = pyspacemouse.open()
        except Exception as err:  # noqa: BLE001  (hid errors come in several types)
            raise TaskError(f"cannot open a SpaceMouse ({err}); {PERMISSION_HINT}") from err
        if not opened:
            raise TaskError(f"no SpaceMouse found: plug one in (supported: {models}); {PERMISSION_HINT}")
        self._module = pyspacemouse

    def read(self) -> TeleopCommand:  # noqa: D102
        state = self._module.read()
        command = decode_spacemouse(state, self._buttons)
        self._buttons = tuple(state.buttons)
        return command

    def close(self) -> None:  # noqa: D102
        if self._module is not None:
            self._module.close()
            self._module = None
