"""Constraints between the subtasks of different end effectors, as generation applies them step by step.

``sequential`` (A, i) -> (B, j): B's subtask j holds before its last ``min_time_diff`` waypoints
(``-1``: at its first waypoint) until A's subtask i has finished. ``coordination`` (A, i) <-> (B, j):
whichever arm plans first picks the source demo and the object transform; the other arm reuses
both; each arm waits at the start of its last ``min(len_a, len_b)`` source steps until the other
has got there too, so the two segments end together. With ``coordination_synchronize_start`` the
first arm to finish its previous subtask holds its last target until the other one has too; then
both plan in the same step, from the same measured object pose (Isaac Lab plans the first arm at
once and holds it at its first waypoint, with an object pose that may be stale by then).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from augment.spec import ConstraintSpec
from envs.pose import axis_angle_to_mat, pose_inv

SubtaskKey = tuple[str, int]


@dataclass
class Link:
    """Runtime state of one constrained subtask."""

    spec: ConstraintSpec
    role: str  # "former", "latter" or "coordinated"
    partner: SubtaskKey
    fulfilled: bool = False  # latter: the former has finished; coordinated: the partner reached its window
    source: int | None = None  # coordinated: the source demo this subtask used
    delta: np.ndarray | None = None  # coordinated: the object transform [4, 4] it applied
    sync_steps: int = 0  # coordinated: length of the lockstep window


def runtime_links(constraints: tuple[ConstraintSpec, ...]) -> dict[SubtaskKey, Link]:
    """A fresh ``Link`` per constrained ``(eef, subtask index)`` for one attempt."""
    links: dict[SubtaskKey, Link] = {}
    for constraint in constraints:
        first, second = (tuple(pair) for pair in constraint.subtasks)
        roles = ("former", "latter") if constraint.type == "sequential" else ("coordinated", "coordinated")
        links[first] = Link(constraint, roles[0], second)
        links[second] = Link(constraint, roles[1], first)
    return links


def hold_index(links: dict[SubtaskKey, Link], key: SubtaskKey, step: int, length: int) -> int | None:
    """The waypoint to hold at instead of executing ``step`` of ``length``, or ``None`` to go on."""
    link = links.get(key)
    if link is None or link.role == "former":
        return None
    if link.role == "latter":
        gap = link.spec.min_time_diff
        waiting = not link.fulfilled and (gap == -1 or step >= length - gap)
        return max(step - 1, 0) if waiting else None
    in_window = step >= length - link.sync_steps
    if in_window:
        links[link.partner].fulfilled = True
    return max(step - 1, 0) if in_window and not link.fulfilled else None


def finish_subtask(links: dict[SubtaskKey, Link], key: SubtaskKey) -> None:
    """Release the subtask waiting on ``key`` (sequential constraints)."""
    link = links.get(key)
    if link is not None and link.role == "former":
        links[link.partner].fulfilled = True


def coordination_delta(spec: ConstraintSpec, object_at_start: np.ndarray | None, object_now: np.ndarray | None,
                       rng: np.random.Generator) -> np.ndarray:
    """The transform ``[4, 4]`` applied to both coordinated segments, by scheme, plus the configured noise.

    ``replay``: identity; ``transform``: the object's full pose change; ``translate``: its position
    change only. Noise: a normal position offset (std in m) and a rotation about a random axis (std in rad).
    """
    delta = np.eye(4)
    if spec.coordination_scheme == "transform":
        delta = object_now @ pose_inv(object_at_start)
    elif spec.coordination_scheme == "translate":
        delta[:3, 3] = object_now[:3, 3] - object_at_start[:3, 3]
    if spec.coordination_scheme_pos_noise_scale > 0:
        delta[:3, 3] += rng.normal(0.0, spec.coordination_scheme_pos_noise_scale, 3)
    if spec.coordination_scheme_rot_noise_scale > 0:
        axis = rng.normal(size=3)
        angle = rng.normal(0.0, spec.coordination_scheme_rot_noise_scale)
        delta[:3, :3] = axis_angle_to_mat(axis / np.linalg.norm(axis) * angle) @ delta[:3, :3]
    return delta
