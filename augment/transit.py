"""Collision-free transit between subtasks (``transit: plan``, the SkillGen idea on a CPU).

Instead of a straight interpolation to the next segment's first pose, the arm's joint-space path is
planned with RRT-Connect and shortcut smoothing from pybullet-planning's ``motion_planners``, checked
against the env's collision copy (``envs.collision``): the table, every object and the other arms,
with the objects the gripper holds carried along. The path keeps ``margin`` from everything, except
bodies already within it at the start or the goal (the cube the hand holds rests on the table, the
next grasp begins near its object), which it may touch but not press into more than ``penetration``; an
end pressed deeper than that has no plan (the generator then interpolates, as without planning). The
path is then cut into control steps no longer than ``step_m`` at the grasp frame and ``step_rad`` at any
joint, and handed to the generator as end-effector targets. Planning is deterministic: the sampler and the smoother's
random choices draw from a stream seeded per transit. ``transit: auto`` plans only where the straight bridge,
followed in the copy, would come within ``straight_margin`` of something (``straight_collides``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from envs.collision import Attachment, CollisionWorld

TRANSIT_MODES = ("interpolate", "plan", "auto")  # auto: the straight bridge unless it would collide, then a plan


@dataclass(frozen=True)
class PlannerSettings:
    """How ``transit: plan`` plans (``planner:`` in a Mimic spec)."""

    max_iterations: int = 500  # RRT-Connect iterations per try
    restarts: int = 2  # further tries with new samples when one fails
    smooth_iterations: int = 50  # shortcut attempts on the found path
    resolution: float = 0.05  # rad: largest joint move between two collision checks
    margin: float = 0.01  # m kept from every body not already that close at the start or the goal
    penetration: float = 0.005  # m that what an end touches may be pressed into (deeper at an end: no plan)
    straight_margin: float = 0.03  # m a straight bridge must keep for ``transit: auto`` to keep it
    step_m: float = 0.015  # m the grasp frame moves per control step at most along the path
    step_rad: float = 0.06  # rad any joint moves per control step at most


@dataclass(frozen=True)
class TransitPlan:
    """Grasp-frame targets ``[T, 4, 4]`` from the start to the goal and the joint angles ``[T, arm_dof]`` they
    come from (None: no plan), the seconds spent, and why there is no plan (empty when there is one)."""

    poses: np.ndarray | None
    seconds: float
    reason: str = ""
    qpos: np.ndarray | None = None


class CollisionCheck:
    """``collision_fn(q)`` of one arm in the copy: True when it, or what it carries, is too close to an obstacle.

    ``blocked_end`` names the end (``start`` or ``goal``) pressed deeper than ``penetration`` into something.
    """

    def __init__(self, world: CollisionWorld, arm: int, attached: list[Attachment], settings: PlannerSettings,
                 ends: tuple[np.ndarray, np.ndarray]) -> None:
        self.world, self.arm, self.attached, self.margin = world, arm, attached, settings.margin
        carried = [a.body for a in attached]
        moving = [world.arms[arm].body, *carried]
        self.pairs = [(body, other) for body in moving for other in world.obstacles(arm, carried)]
        self.limits = dict.fromkeys(self.pairs, settings.margin)
        self.blocked_end = ""
        for name, q in zip(("start", "goal"), ends, strict=True):  # what an end touches may stay touching
            world.set_arm(arm, q, attached)
            for pair in self.pairs:
                depth = world.distance(*pair, self.margin)
                if depth < self.margin:
                    self.limits[pair] = -settings.penetration
                if depth < -settings.penetration:
                    self.blocked_end = self.blocked_end or name

    def __call__(self, qpos, **_) -> bool:
        """Whether the arm at ``qpos`` collides (the planners' ``collision_fn``)."""
        self.world.set_arm(self.arm, qpos, self.attached)
        return any(self.world.distance(a, b, self.margin) < self.limits[(a, b)] for a, b in self.pairs)


def plan_transit(world: CollisionWorld, arm: int, goal_pose: np.ndarray, carried: tuple[str, ...],
                 settings: PlannerSettings, seed: int) -> TransitPlan:
    """A collision-free path of ``arm`` from its joints in the (synced) copy to ``goal_pose`` ``[4, 4]``."""
    started = time.perf_counter()
    start = world.arm_qpos(arm)
    attached = [world.attach(arm, name) for name in carried]
    goal = world.solve_ik_along(arm, goal_pose, start)  # out of reach: as close as the arm gets, as interpolation would
    check = CollisionCheck(world, arm, attached, settings, (start, goal))
    path = None if check.blocked_end else _search(world, arm, check, start, goal, settings, seed)
    if path is None:
        world.set_arm(arm, start, attached)
        reason = f"the {check.blocked_end} is in collision" if check.blocked_end else "no collision-free path found"
        return TransitPlan(None, time.perf_counter() - started, reason)
    qpos = control_steps(path, [world.eef_pose(arm, q)[:3, 3] for q in path], settings)
    poses = np.stack([world.eef_pose(arm, q) for q in qpos]) if len(qpos) else np.zeros((0, 4, 4))
    world.set_arm(arm, start, attached)
    return TransitPlan(poses, time.perf_counter() - started, qpos=qpos)


def straight_collides(world: CollisionWorld, arm: int, poses: np.ndarray, carried: tuple[str, ...],
                      settings: PlannerSettings) -> bool:
    """Whether ``arm``, following grasp-frame ``poses`` ``[T, 4, 4]`` (a straight bridge) from its joints in the
    (synced) copy with what it carries, comes within ``straight_margin`` of a body it is clear of at both ends (checked
    every ``resolution`` radians of joint motion). An end pressed into something counts as no collision:
    nothing could be planned from or to it (``transit: auto`` then keeps the straight bridge)."""
    start = world.arm_qpos(arm)
    attached = [world.attach(arm, name) for name in carried]
    path = [start]
    for pose in poses:
        path.append(world.solve_ik_along(arm, pose, path[-1]))
    check = CollisionCheck(world, arm, attached, replace(settings, margin=settings.straight_margin),
                           (path[0], path[-1]))
    collides = not check.blocked_end and any(
        check(q) for a, b in zip(path[:-1], path[1:], strict=True) for q in joint_steps(a, b, settings.resolution))
    world.set_arm(arm, start, attached)
    return collides


def joint_steps(a: np.ndarray, b: np.ndarray, resolution: float) -> list[np.ndarray]:
    """Joint angles from ``a`` (left out) to ``b`` ``[arm_dof]`` in steps no joint takes over ``resolution``."""
    a, b = np.asarray(a), np.asarray(b)
    n = max(1, int(np.ceil(np.abs(b - a).max() / resolution)))
    return [a + (b - a) * (i / n) for i in range(1, n + 1)]


def _search(world: CollisionWorld, arm: int, check: CollisionCheck, start: np.ndarray, goal: np.ndarray,
            settings: PlannerSettings, seed: int) -> list[np.ndarray] | None:
    """Direct path if free, else RRT-Connect with restarts, then shortcut smoothing (pybullet-planning)."""
    from pybullet_planning.motion_planners.rrt_connect import birrt  # ~1 s of imports: only where plans are made

    rng = np.random.default_rng(seed)
    lower, upper = world.arm_limits(arm)

    def sample() -> tuple[float, ...]:
        return tuple(rng.uniform(lower, upper))

    def distance(a, b) -> float:
        return float(np.linalg.norm(np.subtract(a, b)))

    def extend(a, b) -> list[tuple[float, ...]]:
        return [tuple(q) for q in joint_steps(a, b, settings.resolution)]

    with seeded_global_random(seed):  # the smoother draws from numpy's and Python's global streams
        path = birrt(tuple(start), tuple(goal), distance, sample, extend, check, max_iterations=settings.max_iterations,
                     restarts=settings.restarts, smooth=settings.smooth_iterations)
    if path is None:
        return None
    path = [np.asarray(q) for q in path]
    return path if np.array_equal(path[0], start) else [start, *path]  # a direct path leaves the start out


@contextmanager
def seeded_global_random(seed: int) -> Iterator[None]:
    """Seed numpy's and Python's global random streams for the block, then put their states back."""
    np_state, py_state = np.random.get_state(), random.getstate()
    np.random.seed(seed % 2**32)
    random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def control_steps(path: list[np.ndarray], positions: list[np.ndarray], settings: PlannerSettings) -> np.ndarray:
    """Joint angles ``[T, arm_dof]`` along a joint path whose grasp frame passes ``positions``, cut into steps
    within ``step_m`` and ``step_rad``; the first path point (where the arm is) is left out, the last is the goal."""
    configs = []
    for i in range(len(path) - 1):
        a, b = path[i], path[i + 1]
        n = max(1, int(np.ceil(max(np.abs(b - a).max() / settings.step_rad,
                                   np.linalg.norm(positions[i + 1] - positions[i]) / settings.step_m))))
        configs.extend(a + (b - a) * (k / n) for k in range(1, n + 1))
    return np.asarray(configs).reshape(len(configs), len(path[0]))
