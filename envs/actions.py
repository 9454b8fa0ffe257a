"""Action modes: how a normalized action in [-1, 1] becomes robot commands, and the Mimic conversions.

``delta_eef`` (7-D): position delta (world frame) and axis-angle rotation delta (pre-multiplied)
relative to the measured end-effector pose, then the gripper. ``abs_eef`` (8-D): target position
mapped from a workspace box, target quaternion (x, y, z, w; the sign in the hemisphere of the home
orientation), gripper. ``joint_pos`` (arm joints + 1): joint targets mapped from the joint limits, gripper.
Every mode's scaling is plain JSON (``scale``), stored in the env kwargs so a dataset rebuilds it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from envs.errors import TaskError
from envs.pose import axis_angle_to_mat, make_pose, mat_to_axis_angle, mat_to_quat, quat_to_mat

HOME_EEF_QUAT = np.array([1.0, 0.0, 0.0, 0.0])  # gripper pointing down


def delta_action_to_target_pose(eef_pose: np.ndarray, action: np.ndarray, scale: dict[str, float]) -> np.ndarray:
    """Target eef poses ``[..., 4, 4]`` commanded by normalized delta actions ``[..., 7]`` from ``eef_pose``."""
    pos = eef_pose[..., :3, 3] + scale["pos"] * action[..., :3]
    rot = axis_angle_to_mat(scale["rot"] * action[..., 3:6]) @ eef_pose[..., :3, :3]
    return make_pose(pos, rot)


def target_pose_to_delta_action(eef_pose: np.ndarray, target_pose: np.ndarray, gripper: np.ndarray,
                                scale: dict[str, float]) -> np.ndarray:
    """Normalized, clipped delta actions ``[..., 7]`` that drive ``eef_pose`` towards ``target_pose``."""
    dpos = (target_pose[..., :3, 3] - eef_pose[..., :3, 3]) / scale["pos"]
    drot = mat_to_axis_angle(target_pose[..., :3, :3] @ np.swapaxes(eef_pose[..., :3, :3], -1, -2))
    action = np.concatenate([dpos, drot / scale["rot"], np.reshape(gripper, (*dpos.shape[:-1], 1))], -1)
    return action.clip(-1.0, 1.0)


def _to_unit(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return 2.0 * (value - low) / (high - low) - 1.0


def _from_unit(unit: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return low + (np.asarray(unit) + 1.0) * (high - low) / 2.0


class ActionMode:
    """Base of the action modes; each call acts on one ``robot`` (an ``envs.robot.Robot``) of ``env``."""

    name = ""
    names: tuple[str, ...] = ()
    default_scale: dict[str, Any] = {}

    def __init__(self, scale: dict[str, Any] | None, joint_limits: tuple[np.ndarray, np.ndarray]) -> None:
        unknown = set(scale or {}) - set(self.default_scale)
        if unknown:
            raise TaskError(f"action_scale for {self.name} has unknown key(s) {sorted(unknown)}; "
                            f"allowed: {sorted(self.default_scale)}")
        self.scale = {**self.default_scale, **(scale or {})}

    @property
    def dim(self) -> int:
        """Action dimension (arm + 1 gripper)."""
        return len(self.names)

    def command(self, env, robot, action: np.ndarray) -> tuple[tuple | None, np.ndarray | None]:
        """((target position, quaternion), None) for IK, or (None, joint targets) for direct joint control."""
        raise NotImplementedError

    def target_pose(self, env, robot, action: np.ndarray, eef_pose: np.ndarray | None = None) -> np.ndarray:
        """The eef pose ``[4, 4]`` that ``action`` commands in the env's current state (``eef_pose``: the
        measured one, where the caller has it)."""
        raise NotImplementedError

    def action_for(self, env, robot, target_pose: np.ndarray, gripper: np.ndarray) -> np.ndarray:
        """The normalized action ``[dim]`` that drives the eef to ``target_pose``."""
        raise NotImplementedError


class DeltaEef(ActionMode):
    """7-D delta end-effector pose + gripper (the default)."""

    name = "delta_eef"
    names = ("dx", "dy", "dz", "drx", "dry", "drz", "gripper")
    default_scale = {"pos": 0.05, "rot": 0.5}

    def command(self, env, robot, action):
        """Target = measured eef pose moved by the scaled deltas (plain floats, pybullet's C quaternion helpers)."""
        (x, y, z), quat = robot.eef_state()
        dx, dy, dz, rx, ry, rz = (float(v) for v in action[:6])
        scale_pos, scale_rot = self.scale["pos"], self.scale["rot"]
        rx, ry, rz = scale_rot * rx, scale_rot * ry, scale_rot * rz
        angle = math.sqrt(rx * rx + ry * ry + rz * rz)
        delta = env.client.getQuaternionFromAxisAngle((rx / angle, ry / angle, rz / angle), angle) if angle > 0 \
            else (0, 0, 0, 1)
        _, target_quat = env.client.multiplyTransforms((0, 0, 0), delta, (0, 0, 0), quat)
        return ((x + scale_pos * dx, y + scale_pos * dy, z + scale_pos * dz), target_quat), None

    def target_pose(self, env, robot, action, eef_pose=None):
        """The measured eef pose moved by the scaled deltas."""
        eef_pose = robot.eef_pose() if eef_pose is None else eef_pose
        return delta_action_to_target_pose(eef_pose, np.asarray(action, np.float64), self.scale)

    def action_for(self, env, robot, target_pose, gripper):
        """Scaled difference between ``target_pose`` and the measured eef pose."""
        return target_pose_to_delta_action(robot.eef_pose(), target_pose, gripper, self.scale)


class AbsEef(ActionMode):
    """8-D absolute end-effector pose (workspace-normalized position, quaternion) + gripper."""

    name = "abs_eef"
    names = ("x", "y", "z", "qx", "qy", "qz", "qw", "gripper")
    default_scale = {"pos_low": [-0.2, -0.7, 0.6], "pos_high": [1.2, 0.7, 1.4]}

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = self.scale["pos_low"], self.scale["pos_high"]
        return np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)

    def command(self, env, robot, action):
        """The absolute pose the action encodes, for IK."""
        pose = self.target_pose(env, robot, action)
        return (pose[:3, 3], mat_to_quat(pose[:3, :3])), None

    def target_pose(self, env, robot, action, eef_pose=None):  # noqa: ARG002  (absolute: no measured pose)
        """Position from the workspace box, rotation from the (normalized) quaternion."""
        action = np.asarray(action, dtype=np.float64)
        quat = action[3:7] if np.linalg.norm(action[3:7]) > 1e-6 else HOME_EEF_QUAT
        return make_pose(_from_unit(action[:3], *self._bounds()), quat_to_mat(quat))

    def action_for(self, env, robot, target_pose, gripper):
        """Workspace-normalized position, quaternion in the home orientation's hemisphere, gripper."""
        quat = mat_to_quat(target_pose[:3, :3])
        quat = quat if float(quat @ HOME_EEF_QUAT) >= 0 else -quat
        unit = _to_unit(target_pose[:3, 3], *self._bounds())
        return np.clip(np.concatenate([unit, quat, np.reshape(gripper, (1,))]), -1.0, 1.0)


class JointPos(ActionMode):
    """Arm joint position targets (one per arm joint, normalized by the joint limits of the model) +
    gripper: 8-D on the Panda and the iiwa, 7-D on the xArm6."""

    name = "joint_pos"
    default_scale = {"low": None, "high": None}

    def __init__(self, scale, joint_limits) -> None:
        super().__init__(scale, joint_limits)
        self.scale["low"] = [float(v) for v in (self.scale["low"] or joint_limits[0])]
        self.scale["high"] = [float(v) for v in (self.scale["high"] or joint_limits[1])]
        self.low, self.high = np.asarray(self.scale["low"]), np.asarray(self.scale["high"])
        if not len(self.low) == len(self.high) == len(joint_limits[0]):
            raise TaskError(f"action_scale low/high for joint_pos need one value per arm joint "
                            f"({len(joint_limits[0])}); drop them to use the joint limits")
        self.names = (*(f"j{i}" for i in range(len(self.low))), "gripper")

    def command(self, env, robot, action):
        """Joint targets from the limits; no IK."""
        return None, _from_unit(np.asarray(action[:-1], dtype=np.float64), self.low, self.high)

    def target_pose(self, env, robot, action, eef_pose=None):  # noqa: ARG002  (joint targets: no measured pose)
        """Forward kinematics of the joint targets (on the kinematics-only robot)."""
        qpos = _from_unit(np.asarray(action[:-1], dtype=np.float64), self.low, self.high)
        return env.kinematics.eef_pose(qpos, *env.client.getBasePositionAndOrientation(robot.body))

    def action_for(self, env, robot, target_pose, gripper):
        """IK of ``target_pose`` from the current joint angles, normalized by the limits."""
        qpos = robot.solve_ik(target_pose[:3, 3], mat_to_quat(target_pose[:3, :3]))
        unit = _to_unit(qpos, self.low, self.high)
        return np.clip(np.concatenate([unit, np.reshape(gripper, (1,))]), -1.0, 1.0)


ACTION_MODES = {mode.name: mode for mode in (DeltaEef, AbsEef, JointPos)}


def make_action_mode(name: str, scale: dict[str, Any] | None, joint_limits) -> ActionMode:
    """The action mode ``name`` with ``scale`` overrides; an unknown name raises ``TaskError``."""
    if name not in ACTION_MODES:
        raise TaskError(f"unknown action_mode {name!r}; use one of {', '.join(ACTION_MODES)}")
    return ACTION_MODES[name](scale, joint_limits)
