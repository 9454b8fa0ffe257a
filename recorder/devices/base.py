"""Input devices for ``mimicrec record``: one small base class, one module per device, one registry.

A device gives the record loop one ``Step`` per control step: the action and the events of that
step (episode done, discard and re-record, quit). Teleoperation devices read a device-independent
``TeleopCommand`` (position and rotation deltas in [-1, 1], gripper toggle, events);
``command_to_target`` moves the target pose and the env's Mimic interface turns it into an action,
so every action mode works with every device.
"""

from __future__ import annotations

import difflib
import enum
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from envs.errors import UsageError
from envs.interface import MimicEnv, TaskEnv
from envs.pose import axis_angle_to_mat, make_pose

log = logging.getLogger(__name__)
MAX_TELEOP_POS_STEP = 0.01  # m per control step at full deflection and sensitivity 1
MAX_TELEOP_ROT_STEP = 0.05  # rad per control step at full deflection and sensitivity 1


class Event(enum.Enum):
    """What a person (or the script) asks of the record loop besides moving."""

    DONE = "done"  # end the episode now and keep it if it succeeded
    DISCARD = "discard"  # throw the episode away and re-record from a new reset
    QUIT = "quit"  # stop recording; episodes saved so far are kept


@dataclass(frozen=True)
class Step:
    """One control step from a device: the action to apply and the events of that step."""

    action: np.ndarray
    events: frozenset[Event] = frozenset()


@dataclass(frozen=True)
class TeleopCommand:
    """A device-independent teleoperation command: deltas in [-1, 1] (scaled later), a gripper toggle, events."""

    dpos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    drot: np.ndarray = field(default_factory=lambda: np.zeros(3))
    toggle_gripper: bool = False
    events: frozenset[Event] = frozenset()
    switch_arm: bool = False  # two-arm tasks: drive the next arm (the others hold their targets)


class Device(ABC):
    """A source of actions for the record loop. ``paced`` devices run at the control rate (people)."""

    paced = True
    bindings: tuple[tuple[str, str], ...] = ()
    gave_up: str | None = None  # why the device ended its last episode early, if it gave up on it

    def connect(self, env: TaskEnv) -> None:  # noqa: B027
        """Open the device (threads and handles start here, never in ``__init__``)."""

    def start_episode(self, env: TaskEnv) -> None:  # noqa: B027
        """Called after each reset, before the first ``step``."""

    @abstractmethod
    def step(self, env: MimicEnv) -> Step:
        """The action and events of the next control step."""

    def close(self) -> None:  # noqa: B027
        """Release the device."""


class TeleopDevice(Device):
    """A device driven by a person: ``read()`` gives a ``TeleopCommand``, mapped to actions here.

    The arm's target pose integrates the scaled deltas (world-frame translation, rotation about the
    world axes at the gripper), starting at the eef pose at reset; the gripper toggles open/closed.
    """

    def __init__(self, sensitivity: float = 1.0, **_: object) -> None:
        if sensitivity <= 0:
            raise UsageError(f"--sensitivity must be positive, got {sensitivity}")
        self.sensitivity = sensitivity
        self.targets: dict[str, np.ndarray] = {}  # per end effector
        self.grippers: dict[str, float] = {}
        self.active = 0  # index of the arm being driven
        self._pending: frozenset[Event] = frozenset()

    @abstractmethod
    def read(self) -> TeleopCommand:
        """The command accumulated since the last call."""

    def start_episode(self, env: TaskEnv) -> None:  # noqa: D102
        self.targets = {eef: env.get_robot_eef_pose(eef) for eef in env.eef_names}
        self.grippers = dict.fromkeys(env.eef_names, -1.0)
        self.active = 0
        # drop motion pressed before the episode began (e.g. while the last one was saved), keep a quit
        self._pending = self.read().events & {Event.QUIT}

    def step(self, env: MimicEnv) -> Step:  # noqa: D102
        command = self.read()
        eef = env.eef_names[self.active]
        self.targets[eef] = command_to_target(self.targets[eef], command, self.sensitivity)
        if command.toggle_gripper:
            self.grippers[eef] = -self.grippers[eef]
        if command.switch_arm:
            self.active = (self.active + 1) % len(env.eef_names)
            log.warning("now driving %s", env.eef_names[self.active])
        action = env.combine_arm_actions({name: env.target_eef_pose_to_action(self.targets[name],
                                                                              np.array([self.grippers[name]]), name)
                                          for name in env.eef_names})
        events, self._pending = command.events | self._pending, frozenset()
        return Step(action=action, events=events)


def command_to_target(target: np.ndarray, command: TeleopCommand, sensitivity: float) -> np.ndarray:
    """The new target pose ``[4, 4]``: ``target`` moved by the command's deltas at ``sensitivity``."""
    dpos = np.clip(command.dpos, -1.0, 1.0) * MAX_TELEOP_POS_STEP * sensitivity
    drot = np.clip(command.drot, -1.0, 1.0) * MAX_TELEOP_ROT_STEP * sensitivity
    return make_pose(target[:3, 3] + dpos, axis_angle_to_mat(drot) @ target[:3, :3])


DEVICES: dict[str, type[Device]] = {}


def register_device(name: str):
    """Class decorator adding a device to ``DEVICES`` under ``name`` (twice is an error)."""

    def add(cls: type[Device]) -> type[Device]:
        if name in DEVICES:
            raise ValueError(f"device {name!r} is already registered")
        DEVICES[name] = cls
        return cls

    return add


def make_device(name: str, env_id: str, sensitivity: float = 1.0) -> Device:
    """Build device ``name``; an unknown name lists the devices and suggests the nearest."""
    import recorder.devices  # noqa: F401  (fills DEVICES)

    if name not in DEVICES:
        near = difflib.get_close_matches(name, DEVICES, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise UsageError(f"unknown --device {name!r}{hint} (available: {', '.join(sorted(DEVICES))})")
    return DEVICES[name](env_id=env_id, sensitivity=sensitivity)
