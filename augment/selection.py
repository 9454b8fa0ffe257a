"""Source-demo selection strategies for a subtask: random, nearest object pose, nearest robot pose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.errors import ConfigError
from envs.pose import rotation_angle_between


@dataclass(frozen=True)
class Candidate:
    """A source demo's segment for the subtask being planned."""

    index: int
    object_pose_at_start: np.ndarray | None  # [4, 4] reference object pose at segment start
    first_target_pose: np.ndarray  # [4, 4] first (transformed) target pose of the segment
    object_pose_now: np.ndarray | None = None  # [4, 4] reference object now as this segment sees it (a symmetric
    # object at the turn that starts the segment nearest the hand); None: the context's


@dataclass(frozen=True)
class SelectionContext:
    """What the current scene offers to compare against."""

    object_pose: np.ndarray | None  # [4, 4] reference object now
    eef_pose: np.ndarray  # [4, 4] end effector now


Strategy = Callable[[list[Candidate], SelectionContext, np.random.Generator, dict], int]
STRATEGIES: dict[str, Strategy] = {}


def register(name: str) -> Callable[[Strategy], Strategy]:
    """Decorator adding a strategy under ``name``; a duplicate name raises."""

    def add(fn: Strategy) -> Strategy:
        if name in STRATEGIES:
            raise ValueError(f"selection strategy {name!r} registered twice")
        STRATEGIES[name] = fn
        return fn

    return add


def pose_distance(a: np.ndarray, b: np.ndarray, pos_weight: float, rot_weight: float) -> float:
    """``pos_weight * |dp| + rot_weight * angle(dR)`` between poses ``[4, 4]``."""
    dpos = float(np.linalg.norm(a[:3, 3] - b[:3, 3]))
    return pos_weight * dpos + rot_weight * float(rotation_angle_between(a[:3, :3], b[:3, :3]))


def _pick_among_nearest(dists: list[float], candidates: list[Candidate], rng, nn_k: int) -> int:
    order = np.argsort(np.asarray(dists), kind="stable")[: max(1, nn_k)]
    return candidates[int(order[rng.integers(len(order))])].index


@register("random")
def select_random(candidates: list[Candidate], ctx: SelectionContext, rng, kwargs: dict) -> int:
    """Uniformly random source demo."""
    return candidates[int(rng.integers(len(candidates)))].index


@register("nearest_neighbor_object")
def select_nearest_object(candidates: list[Candidate], ctx: SelectionContext, rng, kwargs: dict) -> int:
    """Uniform among the ``nn_k`` demos whose reference object started closest to where it is now."""
    pos_w, rot_w = kwargs.get("pos_weight", 1.0), kwargs.get("rot_weight", 1.0)
    dists = [pose_distance(c.object_pose_at_start, ctx.object_pose if c.object_pose_now is None else c.object_pose_now,
                           pos_w, rot_w) for c in candidates]
    return _pick_among_nearest(dists, candidates, rng, int(kwargs.get("nn_k", 3)))


@register("nearest_neighbor_robot_distance")
def select_nearest_robot(candidates: list[Candidate], ctx: SelectionContext, rng, kwargs: dict) -> int:
    """Uniform among the ``nn_k`` demos whose transformed first target is closest to the eef now."""
    pos_w, rot_w = kwargs.get("pos_weight", 1.0), kwargs.get("rot_weight", 1.0)
    dists = [pose_distance(c.first_target_pose, ctx.eef_pose, pos_w, rot_w) for c in candidates]
    return _pick_among_nearest(dists, candidates, rng, int(kwargs.get("nn_k", 3)))


def select_source(name: str, candidates: list[Candidate], ctx: SelectionContext,
                  rng: np.random.Generator, kwargs: dict) -> int:
    """Run strategy ``name``; an unknown name raises ``ConfigError`` listing the known ones."""
    if name not in STRATEGIES:
        raise ConfigError(f"unknown selection_strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    return STRATEGIES[name](candidates, ctx, rng, kwargs)
