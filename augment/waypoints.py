"""Turning a source segment into executable waypoints: transform to the new scene, bridge, noise flags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.pose import interpolate_poses, pose_inv, transform_poses_to_new_frame


@dataclass(frozen=True)
class WaypointSequence:
    """Target poses ``[T, 4, 4]``, gripper actions ``[T, G]`` and whether to add noise ``[T]``."""

    poses: np.ndarray
    grippers: np.ndarray
    noisy: np.ndarray

    def __len__(self) -> int:
        return len(self.poses)

    @staticmethod
    def concat(parts: list[WaypointSequence]) -> WaypointSequence:
        """One sequence made of ``parts`` in order."""
        fields = ("poses", "grippers", "noisy")
        return WaypointSequence(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def transformed_segment(target_poses: np.ndarray, grippers: np.ndarray,
                        object_at_start: np.ndarray | None, object_now: np.ndarray | None) -> WaypointSequence:
    """Source target poses ``[T, 4, 4]`` carried along with their reference object (unchanged without one)."""
    poses = target_poses if object_at_start is None else transform_poses_to_new_frame(
        target_poses, object_at_start, object_now)
    return WaypointSequence(poses, grippers, np.ones(len(poses), dtype=bool))


def held_object_correction(eef_src: np.ndarray, held_src: np.ndarray, eef_now: np.ndarray,
                           held_now: np.ndarray) -> np.ndarray:
    """Right factor ``[4, 4]`` for target poses so that a held object, not the hand, follows the source path.

    With ``G = eef^-1 @ held`` (how the object sits in the hand), a target ``P`` becomes
    ``P @ G_src @ G_now^-1``: the object then reaches ``P @ G_src``, where it was in the source.
    """
    return pose_inv(eef_src) @ held_src @ pose_inv(pose_inv(eef_now) @ held_now)


def bridge(start_pose: np.ndarray, segment: WaypointSequence, num_interpolation_steps: int,
           num_fixed_steps: int, noisy: bool) -> WaypointSequence:
    """Poses from ``start_pose`` to the segment's first pose, then ``num_fixed_steps`` holds there.

    The gripper keeps the segment's first action throughout the bridge.
    """
    moving = interpolate_poses(start_pose, segment.poses[0], num_interpolation_steps)
    holding = np.repeat(segment.poses[:1], num_fixed_steps, axis=0)
    poses = np.concatenate([moving, holding]) if len(moving) + len(holding) else np.zeros((0, 4, 4))
    grippers = np.repeat(segment.grippers[:1], len(poses), axis=0)
    return WaypointSequence(poses, grippers, np.full(len(poses), noisy, dtype=bool))


def with_settle_steps(segment: WaypointSequence, num_steps: int) -> WaypointSequence:
    """``segment`` holding, ``num_steps`` times without noise, the pose just before each gripper change.

    A change is a step where the sign of the gripper command flips (open <-> close). Holding first
    lets the arm reach the pose before the fingers move (Isaac Lab's ``num_settle_steps_before_gripper``).
    """
    signs = np.sign(segment.grippers.reshape(len(segment), -1))
    changes = np.flatnonzero(np.any(signs[1:] != signs[:-1], axis=1)) + 1
    if num_steps == 0 or len(changes) == 0:
        return segment
    at = np.repeat(changes, num_steps)
    index = np.insert(np.arange(len(segment)), at, at - 1)
    settling = np.insert(np.zeros(len(segment), dtype=bool), at, True)
    return WaypointSequence(segment.poses[index], segment.grippers[index], segment.noisy[index] & ~settling)
