"""Where a task's objects and robots are placed at each reset: one difficulty level's region
(``randomization.<level>`` in the task file) and the seeded sampling from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.errors import ConfigError
from envs.pose import yaw_quat


@dataclass(frozen=True)
class PlacementRegion:
    """Where the movable objects may be placed (x/y ranges on the table, yaw range, spacing) and how far
    the robot bases may be displaced (x/y offsets in metres, yaw in radians) at each reset."""

    x: tuple[float, float]
    y: tuple[float, float]
    yaw: tuple[float, float]
    min_spacing: float
    base_xy: float = 0.0
    base_yaw: float = 0.0


def check_region(region: PlacementRegion, where: str) -> PlacementRegion:
    """Ranges must be [low, high]; spacing and base motion must not be negative."""
    if region.x[0] > region.x[1] or region.y[0] > region.y[1] or region.yaw[0] > region.yaw[1]:
        raise ConfigError(f"{where}: each range must be [low, high] with low <= high")
    if min(region.min_spacing, region.base_xy, region.base_yaw) < 0:
        raise ConfigError(f"{where}: min_spacing, base_xy and base_yaw must be >= 0")
    return region


def sample_separated_xy(rng: np.random.Generator, region: PlacementRegion, count: int) -> np.ndarray:
    """``count`` positions ``[count, 2]`` uniform in ``region``, pairwise at least ``min_spacing`` apart."""
    for _ in range(1000):
        xy = np.stack([rng.uniform(*region.x, size=count), rng.uniform(*region.y, size=count)], axis=1)
        dists = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(count)
        if dists.min() >= region.min_spacing:
            return xy
    raise RuntimeError("could not place objects without overlap; widen the region or lower min_spacing")


def sample_object_poses(rng: np.random.Generator, region: PlacementRegion, rest_heights: dict[str, float],
                        table_z: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Name -> (position ``[3]``, quaternion ``[4]``) for objects resting ``rest_heights`` above the table."""
    names = list(rest_heights)
    xy = sample_separated_xy(rng, region, len(names)) if len(names) > 1 else np.stack(
        [rng.uniform(*region.x, size=1), rng.uniform(*region.y, size=1)], axis=1)
    yaws = rng.uniform(*region.yaw, size=len(names))
    return {name: (np.array([x, y, table_z + rest_heights[name]]), yaw_quat(yaw))
            for name, (x, y), yaw in zip(names, xy, yaws, strict=True)}


def sample_robot_bases(rng: np.random.Generator, region: PlacementRegion,
                       bases: list[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each robot's base (position ``[3]``, quaternion ``[4]``), displaced as the region allows."""
    if region.base_xy == 0.0 and region.base_yaw == 0.0:
        return [(np.asarray(pos), yaw_quat(yaw)) for pos, yaw in bases]
    moved = []
    for base, yaw in bases:
        offset = rng.uniform(-region.base_xy, region.base_xy, size=2)
        turn = rng.uniform(-region.base_yaw, region.base_yaw)
        moved.append((np.asarray(base) + np.array([*offset, 0.0]), yaw_quat(yaw + turn)))
    return moved
