"""Keyboard teleoperation through pynput, with pybullet's viewer open (bindings as in Isaac Lab)."""

from __future__ import annotations

import os
import threading

import numpy as np

from envs.errors import TaskError
from envs.interface import TaskEnv
from recorder.devices.base import Event, TeleopCommand, TeleopDevice, register_device

# key -> (translation axis or None, rotation axis or None, sign)
MOTION_KEYS = {
    "w": (0, None, 1.0), "s": (0, None, -1.0),  # x
    "a": (1, None, 1.0), "d": (1, None, -1.0),  # y
    "q": (2, None, 1.0), "e": (2, None, -1.0),  # z
    "z": (None, 0, 1.0), "x": (None, 0, -1.0),  # roll
    "t": (None, 1, 1.0), "g": (None, 1, -1.0),  # pitch
    "c": (None, 2, 1.0), "v": (None, 2, -1.0),  # yaw
}
EVENT_KEYS = {"r": Event.DISCARD, "enter": Event.DONE, "backspace": Event.QUIT}
TOGGLE_KEY = "k"
SWITCH_KEY = "tab"
KEYBOARD_BINDINGS = (
    ("W / S", "move +x / -x"), ("A / D", "move +y / -y"), ("Q / E", "move up / down"),
    ("Z / X", "roll"), ("T / G", "pitch"), ("C / V", "yaw"), ("K", "toggle the gripper"),
    ("Tab", "drive the next arm (two-arm tasks)"),
    ("Enter", "episode done (kept if it succeeded)"), ("R", "discard the episode and reset"),
    ("Backspace", "quit (episodes saved so far are kept; Esc would close the viewer)"),
)


def decode_keys(held: set[str], pressed: list[str]) -> TeleopCommand:
    """A command from the keys held down now and the keys pressed since the last call (pure)."""
    dpos, drot = np.zeros(3), np.zeros(3)
    for key in held:
        if key in MOTION_KEYS:
            pos_axis, rot_axis, sign = MOTION_KEYS[key]
            (dpos if pos_axis is not None else drot)[pos_axis if pos_axis is not None else rot_axis] += sign
    events = frozenset(EVENT_KEYS[key] for key in pressed if key in EVENT_KEYS)
    return TeleopCommand(np.clip(dpos, -1, 1), np.clip(drot, -1, 1), pressed.count(TOGGLE_KEY) % 2 == 1, events,
                         switch_arm=pressed.count(SWITCH_KEY) % 2 == 1)


def key_name(key) -> str | None:
    """pynput key -> lower-case name (``'w'``, ``'enter'``, ``'backspace'``), or None for keys we ignore."""
    char = getattr(key, "char", None)
    if char:
        return char.lower()
    name = getattr(key, "name", None)
    return name.lower() if name else None


class KeyListener:
    """The keys held down now and the keys pressed since the last ``read`` (a pynput thread; needs X11)."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._pressed: list[str] = []
        self._lock = threading.Lock()
        self._listener = None

    def start(self) -> None:
        """Start listening; a clear TaskError without a display or without pynput."""
        if not os.environ.get("DISPLAY"):
            raise TaskError("reading the keyboard needs a display (pynput reads X11 keys); run on a desktop, "
                            "or start one with `Xvfb :99 &` and `export DISPLAY=:99`")
        try:
            from pynput import keyboard
        except ImportError as err:
            raise TaskError(f"pynput cannot read the keyboard here ({err}); pip install pynput, on X11") from err
        self._listener = keyboard.Listener(on_press=self._on_press, on_release=self._on_release)
        self._listener.start()
        self._listener.wait()

    def _on_press(self, key) -> None:
        name = key_name(key)
        if name is not None:
            with self._lock:
                if name not in self._held:
                    self._pressed.append(name)
                self._held.add(name)

    def _on_release(self, key) -> None:
        with self._lock:
            self._held.discard(key_name(key))

    def read(self) -> tuple[set[str], list[str]]:
        """(keys held now, keys pressed since the last call in the order pressed)."""
        with self._lock:
            held, pressed = set(self._held), self._pressed
            self._pressed = []
        return held, pressed

    def stop(self) -> None:
        """Stop the listener thread (safe to call twice)."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None


@register_device("keyboard")
class KeyboardDevice(TeleopDevice):
    """Reads the keyboard with a ``KeyListener`` (started in ``connect``); needs a display."""

    bindings = KEYBOARD_BINDINGS
    needs_gui = True

    def __init__(self, sensitivity: float = 1.0, **kwargs: object) -> None:
        super().__init__(sensitivity)
        self._keys = KeyListener()

    def connect(self, env: TaskEnv) -> None:  # noqa: D102
        self._keys.start()

    def read(self) -> TeleopCommand:  # noqa: D102
        return decode_keys(*self._keys.read())

    def close(self) -> None:  # noqa: D102
        self._keys.stop()
