"""Input devices of ``mimicrec record``; importing this package registers all of them.

Each module registers one device with ``@register_device``: ``scripted`` (the task's action bank),
``keyboard`` (pynput, with the pybullet viewer) and ``spacemouse`` (pyspacemouse). Display- or
hardware-bound libraries are imported only when a device connects.
"""

from recorder.devices import keyboard, scripted, spacemouse  # noqa: F401
from recorder.devices.base import DEVICES, Device, Event, Step, TeleopCommand, make_device  # noqa: F401
