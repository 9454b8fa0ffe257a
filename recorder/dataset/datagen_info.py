"""Per-step Mimic data (``datagen_info``): eef and target poses, gripper actions, object poses, signals.

Layout inside a demo group of the HDF5 file (one series per end effector)::

    datagen_info/eef_pose/<eef>             [T, 4, 4]  measured end-effector pose before the action
    datagen_info/target_eef_pose/<eef>      [T, 4, 4]  pose the action commands
    datagen_info/gripper_action/<eef>       [T, 1]     gripper part of the action
    datagen_info/object_poses/<name>        [T, 4, 4]  pose of each task object
    datagen_info/subtask_term_signals/<s>   [T]        0/1 stage flags used for annotation
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from envs.interface import MimicEnv

FIELDS = ("eef_pose", "target_eef_pose", "gripper_action", "object_poses", "subtask_term_signals")


@dataclass(frozen=True)
class DatagenInfo:
    """Mimic data of one demo; each field maps a name (eef, object or signal) to a ``[T, ...]`` array."""

    eef_pose: dict[str, np.ndarray]
    target_eef_pose: dict[str, np.ndarray]
    gripper_action: dict[str, np.ndarray]
    object_poses: dict[str, np.ndarray]
    subtask_term_signals: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.eef_pose.values())))

    def write(self, group: h5py.Group) -> None:
        """Write every series under ``group`` (the ``datagen_info`` group)."""
        for name in FIELDS:
            sub = group.create_group(name)
            for key, value in getattr(self, name).items():
                sub.create_dataset(key, data=value)

    @classmethod
    def read(cls, group: h5py.Group) -> DatagenInfo:
        """Read a ``datagen_info`` group written by ``write``."""
        return cls(**{name: {k: v[()] for k, v in group[name].items()} for name in FIELDS})


@dataclass
class DatagenInfoRecorder:
    """Accumulates ``DatagenInfo`` step by step while an env is driven (call ``add`` before each step)."""

    steps: dict[str, dict[str, list]] = field(default_factory=lambda: {n: {} for n in FIELDS})

    def add(self, env: MimicEnv, action: np.ndarray, flags: Mapping[str, Any] | None = None) -> None:
        """Record the env's Mimic readings and the pose ``action`` commands, before stepping it.

        ``flags``: the last step's ``info`` (the task's flags in the current state), if there was one.
        """
        for eef in env.eef_names:
            eef_pose = env.get_robot_eef_pose(eef)
            self._push("eef_pose", eef, eef_pose)
            self._push("target_eef_pose", eef, env.action_to_target_eef_pose(action, eef, eef_pose))
            self._push("gripper_action", eef, env.actions_to_gripper_actions(action, eef))
        for name, pose in env.get_object_poses().items():
            self._push("object_poses", name, pose)
        for name, flag in env.get_subtask_term_signals(flags).items():
            self._push("subtask_term_signals", name, flag)

    def _push(self, field_name: str, key: str, value) -> None:
        self.steps[field_name].setdefault(key, []).append(value)

    def build(self) -> DatagenInfo:
        """The accumulated series as arrays."""
        arrays = {n: {k: np.asarray(v) for k, v in d.items()} for n, d in self.steps.items()}
        arrays["subtask_term_signals"] = {k: v.astype(np.int8) for k, v in arrays["subtask_term_signals"].items()}
        return DatagenInfo(**arrays)
