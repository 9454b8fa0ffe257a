"""Where a task's objects and robots are placed at each reset: one difficulty level's region
(``randomization.<level>`` in the task file) and the seeded sampling from it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from envs.errors import ConfigError
from envs.pose import yaw_quat


@dataclass(frozen=True)
class ObjectPlacement:
    """Where one object goes at a level instead of the shared region: its own ``x``/``y``/``yaw`` ranges,
    or ``on_top_of`` another object or ``inside`` a container, ``x``/``y`` then being offsets from that object's
    centre (default: centred on it; inside: anywhere within the inner half of its interior)."""

    x: tuple[float, float] | None = None
    y: tuple[float, float] | None = None
    yaw: tuple[float, float] | None = None
    on_top_of: str | None = None
    inside: str | None = None

    @property
    def support(self) -> str | None:
        """The object it is placed on or in, if any."""
        return self.on_top_of or self.inside


@dataclass(frozen=True)
class PlacementRegion:
    """Where the movable objects may be placed (x/y ranges on the table, yaw range, spacing) and how far
    the robot bases may be displaced (x/y offsets in metres, yaw in radians) at each reset; ``objects``
    places single objects their own way (``ObjectPlacement``), after the others."""

    x: tuple[float, float]
    y: tuple[float, float]
    yaw: tuple[float, float]
    min_spacing: float
    base_xy: float = 0.0
    base_yaw: float = 0.0
    objects: dict[str, ObjectPlacement] = field(default_factory=dict)


def check_region(region: PlacementRegion, where: str) -> PlacementRegion:
    """Ranges must be [low, high]; spacing and base motion must not be negative."""
    ranges = [region.x, region.y, region.yaw] + [r for p in region.objects.values() for r in (p.x, p.y, p.yaw) if r]
    if any(low > high for low, high in ranges):
        raise ConfigError(f"{where}: each range must be [low, high] with low <= high")
    if min(region.min_spacing, region.base_xy, region.base_yaw) < 0:
        raise ConfigError(f"{where}: min_spacing, base_xy and base_yaw must be >= 0")
    return region


def check_object_placements(region: PlacementRegion, objects: dict, where: str) -> None:
    """Per-object placements name movable objects; a support exists, is not the object itself, is placed
    before it, and ``inside`` names a container."""
    placed = [name for name, obj in objects.items() if name not in region.objects]
    for name, placement in region.objects.items():
        at = f"{where}.objects.{name}"
        if name not in objects or objects[name].fixed is not None:
            raise ConfigError(f"{at}: {name!r} is not a movable object of the task; use one of "
                              f"{', '.join(n for n, o in objects.items() if o.fixed is None)}")
        if placement.on_top_of and placement.inside:
            raise ConfigError(f"{at}: give on_top_of or inside, not both")
        support = placement.support
        if support is not None and support not in placed:
            raise ConfigError(f"{at}: {support!r} must be an object placed before {name!r} (list it earlier)")
        if placement.inside and objects[placement.inside].container is None:
            raise ConfigError(f"{at}: {placement.inside!r} declares no container interior; add one")
        placed.append(name)


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


def sample_scene(rng: np.random.Generator, region: PlacementRegion, objects: dict, movable: list[str],
                 fixed_positions: dict[str, np.ndarray], table_z: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Poses of every movable object: those without a placement of their own in the shared region (as
    ``sample_object_poses``), then each placed one in declared order (on, inside, or its own ranges)."""
    shared = {name: objects[name].rest_height for name in movable if name not in region.objects}
    poses = sample_object_poses(rng, region, shared, table_z) if shared else {}
    for name, placement in region.objects.items():
        yaw = rng.uniform(*(placement.yaw or region.yaw))
        if placement.support is not None:
            positions = {**fixed_positions, **{other: pos for other, (pos, _) in poses.items()}}
            xyz = _on_support(rng, placement, objects, name, positions)
        else:
            xyz = _apart(rng, placement, region, [p for p, _ in poses.values()], table_z + objects[name].rest_height)
        poses[name] = (xyz, yaw_quat(yaw))
    return poses


def _on_support(rng: np.random.Generator, placement: ObjectPlacement, objects: dict, name: str,
                positions: dict[str, np.ndarray]) -> np.ndarray:
    support = objects[placement.support]
    centre = np.asarray(positions[placement.support], dtype=float)
    if placement.inside:
        inner = support.container.inner_half
        dx, dy = placement.x or (-inner[0] / 2, inner[0] / 2), placement.y or (-inner[1] / 2, inner[1] / 2)
        z = centre[2] + 0.01 + objects[name].rest_height  # dropped 1 cm above the container's origin
    else:
        dx, dy = placement.x or (0.0, 0.0), placement.y or (0.0, 0.0)
        z = centre[2] + support.rest_height + objects[name].rest_height
    return np.array([centre[0] + rng.uniform(*dx), centre[1] + rng.uniform(*dy), z])


def _apart(rng: np.random.Generator, placement: ObjectPlacement, region: PlacementRegion, others: list,
           z: float) -> np.ndarray:
    for _ in range(1000):
        xy = np.array([rng.uniform(*(placement.x or region.x)), rng.uniform(*(placement.y or region.y))])
        if all(np.linalg.norm(xy - np.asarray(o)[:2]) >= region.min_spacing for o in others):
            return np.array([*xy, z])
    raise RuntimeError("could not place an object apart from the others; widen its range or lower min_spacing")


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
