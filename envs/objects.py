"""Task objects declared in a task file (``scene.objects``): their shape, look, mass and placement, and
building them in a pybullet world.

Shapes: ``box`` (``size`` [x, y, z] m), ``cylinder`` ([radius, height]), ``sphere`` ([radius]),
``urdf`` and ``mesh`` (``path`` relative to the task file, else in pybullet_data; ``half_height``
required), and two fixtures built one link per box (exact restores, see ``envs.shapes``): ``tray``
(pybullet_data's tray at ``scale``) and ``socket`` ([inner half width, wall, height]).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pybullet as p
import pybullet_data

from envs.errors import ConfigError
from envs.shapes import box_builder, cylinder_builder, socket_builder, sphere_builder, tray_builder

SIZES = {"box": 3, "cylinder": 2, "sphere": 1, "socket": 3, "tray": 0, "urdf": 0, "mesh": 0}


@dataclass(frozen=True)
class ContainerConfig:
    """A container's interior: half widths (x, y) inside its walls, and its rim's height above its origin."""

    inner_half: tuple[float, float]
    rim_height: float


@dataclass(frozen=True)
class ObjectConfig:
    """One task object. ``fixed: [x, y]`` welds it to the table there (never randomized); ``static``
    makes it immovable but placed anew at every reset; ``half_height`` is the height of its centre
    above the table when it rests (derived for the primitives); ``symmetry`` (degrees, 0: none) is the
    turn about its own z axis after which it looks and grasps the same (a cube 90, a bar 180);
    ``rolling_friction`` and ``spinning_friction`` (m, pybullet's, 0: none) resist rolling and turning in
    place (without them a cylinder or sphere on its side rolls on for seconds and never comes to rest)."""

    shape: str
    size: tuple[float, ...] = ()
    path: str = ""
    rgba: tuple[float, float, float, float] | None = None
    mass: float = 0.1
    friction: float = 1.0
    rolling_friction: float = 0.0
    spinning_friction: float = 0.0
    scale: float = 1.0
    half_height: float | None = None
    fixed: tuple[float, float] | None = None
    static: bool = False
    container: ContainerConfig | None = None
    symmetry: float = 0.0

    @property
    def rest_height(self) -> float:
        """Height of the centre above the table when the object rests upright."""
        if self.half_height is not None:
            return self.half_height
        return {"box": lambda s: s[2] / 2, "cylinder": lambda s: s[1] / 2, "sphere": lambda s: s[0],
                "socket": lambda s: s[2] / 2, "tray": lambda s: 0.0}[self.shape](self.size)

    @property
    def immovable(self) -> bool:
        """Whether nothing can move it (fixed or static)."""
        return self.static or self.fixed is not None


def check_object(name: str, obj: ObjectConfig, folder: Path, where: str) -> ObjectConfig:
    """Validate one object; returns it with ``path`` resolved (relative to ``folder``, else pybullet_data)."""
    where = f"{where}: scene.objects.{name}"
    if obj.shape not in SIZES:
        raise ConfigError(f"{where}.shape: unknown shape {obj.shape!r}; use one of {', '.join(SIZES)}")
    if len(obj.size) != SIZES[obj.shape] or any(v <= 0 for v in obj.size):
        raise ConfigError(f"{where}.size: {obj.shape} takes {SIZES[obj.shape]} positive numbers, got {list(obj.size)}")
    if min(obj.mass, obj.friction, obj.rolling_friction, obj.spinning_friction) < 0 or obj.scale <= 0:
        raise ConfigError(f"{where}: mass and the frictions must be >= 0 and scale > 0")
    if obj.symmetry and not (0 < obj.symmetry <= 360 and abs(360 / obj.symmetry - round(360 / obj.symmetry)) < 1e-9):
        raise ConfigError(f"{where}.symmetry: {obj.symmetry:g} does not divide 360; give the turn in degrees after "
                          "which the object looks the same (a cube 90, a bar 180), or 0 for none")
    if obj.shape in ("urdf", "mesh"):
        if obj.half_height is None:
            raise ConfigError(f"{where}: a {obj.shape} needs half_height (its centre's height above the table)")
        return _with_resolved_path(obj, folder, where)
    return obj


def _with_resolved_path(obj: ObjectConfig, folder: Path, where: str) -> ObjectConfig:
    if not obj.path:
        raise ConfigError(f"{where}.path: a {obj.shape} needs the path of its file")
    for base in (folder, Path(pybullet_data.getDataPath())):
        if (base / obj.path).is_file():
            resolved = obj.path if base != folder else str((base / obj.path).resolve())
            return ObjectConfig(**{**vars(obj), "path": resolved})
    raise ConfigError(f"{where}.path: {obj.path} exists neither beside the task file nor in pybullet_data; "
                      "give a path relative to the task file")


def build_object(client, obj: ObjectConfig, start: list[float]) -> int:
    """Create the object's body at ``start`` (a fixed object at its ``fixed`` place); returns the body id."""
    if obj.shape == "urdf":
        body = client.loadURDF(obj.path, start, useFixedBase=obj.immovable, globalScaling=obj.scale)
    else:
        body = _builder(obj)(client, start)
    if obj.rgba is not None and obj.shape in ("urdf", "mesh"):
        client.changeVisualShape(body, -1, rgbaColor=obj.rgba)
    client.changeDynamics(body, -1, lateralFriction=obj.friction, **_resistances(obj))
    return body


def _resistances(obj: ObjectConfig) -> dict[str, float]:
    """pybullet's rolling and spinning friction where the object sets them (left alone otherwise: a world
    built before these keys existed stays bit-identical)."""
    values = {"rollingFriction": obj.rolling_friction, "spinningFriction": obj.spinning_friction}
    return {key: value for key, value in values.items() if value}


def _builder(obj: ObjectConfig):
    rgba = obj.rgba or (0.7, 0.7, 0.7, 1.0)
    mass = 0.0 if obj.immovable else obj.mass  # pybullet: a body of mass 0 never moves
    if obj.shape == "box":
        return box_builder(tuple(v / 2 for v in obj.size), rgba, mass)
    if obj.shape == "cylinder":
        return cylinder_builder(obj.size[0], obj.size[1], mass, rgba)
    if obj.shape == "sphere":
        return sphere_builder(obj.size[0], mass, rgba)
    if obj.shape == "socket":
        return socket_builder(obj.size[0], obj.size[1], obj.size[2], rgba)
    if obj.shape == "tray":
        return tray_builder(obj.scale, rgba)
    return _mesh_builder(obj.path, obj.scale, mass, rgba)


def _mesh_builder(path: str, scale: float, mass: float, rgba: tuple[float, ...]):
    def build(client, start: list[float]) -> int:
        shape = client.createCollisionShape(p.GEOM_MESH, fileName=path, meshScale=[scale] * 3)
        visual = client.createVisualShape(p.GEOM_MESH, fileName=path, meshScale=[scale] * 3, rgbaColor=rgba)
        return client.createMultiBody(mass, shape, visual, basePosition=start)

    return build
