"""What the recorder and the generator need of an env: typed ``Protocol`` s that every mimicrec task meets.

``TaskEnv`` is what recording, replay, writing and evaluation use (gymnasium's reset/step plus exact
state, observations without stepping, cameras, metadata); ``MimicEnv`` adds the Mimic interface that
annotation and generation use (end-effector and object poses, pose <-> action, subtask signals).
Code outside ``envs/`` types its envs with these and touches nothing else of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from envs.actions import ActionMode
from envs.cameras import CameraSpec
from envs.collision import CollisionWorld
from envs.task_config import TaskConfig


@runtime_checkable
class TaskEnv(Protocol):
    """A mimicrec task as the recorder drives it (the unwrapped gymnasium env)."""

    config: TaskConfig  # the task's gym.yaml, validated
    action_space: Any  # gymnasium's Box of normalized actions
    control_freq: int  # control steps per second
    camera_specs: tuple[CameraSpec, ...]
    action_mode: ActionMode
    gui: bool  # whether pybullet's viewer is open
    success_hold_steps: int  # consecutive steps at rest that success must hold

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """JSON-serializable kwargs that rebuild this env (stored in every dataset)."""

    @property
    def eef_names(self) -> tuple[str, ...]:
        """One end effector per robot: ``robot0``, ``robot1``, ..."""

    @property
    def viewer_open(self) -> bool:
        """False once a person closed the viewer (the simulation is gone)."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        """gymnasium's reset: (observation, info)."""

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        """gymnasium's step: (observation, reward, terminated, truncated, info with ``success``)."""

    def evaluate(self) -> dict[str, bool]:
        """``success`` (held at rest for the env's ``success_hold_steps``) and the task's named stage flags in
        the current state."""

    def observe(self) -> dict[str, np.ndarray]:
        """The observation of the current state, without stepping."""

    def get_state(self) -> np.ndarray:
        """The exact simulator state ``[S]`` uint8."""

    def set_state(self, state: np.ndarray) -> None:
        """Restore a ``get_state`` state bit-identically."""

    def get_flat_state(self) -> np.ndarray:
        """The kinematic state ``[D]`` stored per step."""

    def show_flat_state(self, flat: np.ndarray) -> None:
        """Pose the scene as a ``get_flat_state`` vector says (for viewing)."""

    def show_text_lines(self, lines: list[str]) -> None:
        """Draw text in the viewer, if one is open."""

    def render_camera(self, width: int, height: int, name: str = "agentview") -> np.ndarray:
        """An RGB image ``[H, W, 3]`` uint8 from camera ``name``."""

    def close(self) -> None:
        """Release the simulation."""


@runtime_checkable
class MimicEnv(TaskEnv, Protocol):
    """A task with the Mimic interface that annotation and generation use."""

    def get_robot_eef_pose(self, eef_name: str = "robot0") -> np.ndarray:
        """World pose ``[4, 4]`` of an end effector."""

    def target_eef_pose_to_action(self, target_eef_pose: np.ndarray, gripper_action: np.ndarray,
                                  eef_name: str = "robot0") -> np.ndarray:
        """That arm's action driving its end effector to ``target_eef_pose``."""

    def action_to_target_eef_pose(self, action: np.ndarray, eef_name: str = "robot0",
                                  eef_pose: np.ndarray | None = None) -> np.ndarray:
        """Pose ``[4, 4]`` that ``action`` commands to one end effector now (``eef_pose``: its pose now, if read)."""

    def actions_to_gripper_actions(self, actions: np.ndarray, eef_name: str = "robot0") -> np.ndarray:
        """Gripper part ``[..., 1]`` of one end effector in full actions ``[..., A]``."""

    def combine_arm_actions(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The full action from one arm action per end effector."""

    def reach_error(self, pose: np.ndarray, eef_name: str = "robot0") -> float:
        """How far (m) IK from the current joints stays from ``pose`` (whether a pose is reachable)."""

    def get_object_poses(self) -> dict[str, np.ndarray]:
        """Name -> world pose ``[4, 4]`` of every task object."""

    def object_symmetries(self) -> dict[str, float]:
        """Name -> turn (radians) about its own z axis after which an object looks the same (those that have one)."""

    def observes_symmetric_near_hand(self) -> bool:
        """Whether observations show a symmetric object at its turn nearest the hand (task file's
        ``observation.symmetric_near_hand``); generation then picks the same turns unless its spec says."""

    def get_subtask_term_signals(self, flags: Mapping[str, Any] | None = None) -> dict[str, int]:
        """Name -> 0/1 for each subtask termination signal."""

    def collision_world(self) -> CollisionWorld:
        """A collision-only copy of the scene for motion planning (``envs.collision``)."""

    def held_objects(self, eef_name: str = "robot0") -> tuple[str, ...]:
        """The objects that end effector's gripper holds now."""

    def placement_region(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The (x, y) ranges objects are placed in, for plots; None if the task has none."""
