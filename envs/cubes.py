"""Cube tasks on the table: lifting a cube and stacking cubes in a given order.

One mechanism serves them all: a task names its cubes and, for stacking, the order from the
bottom up; the stage flags, subtask signals and success condition follow from that order.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from envs.base import TABLE_TOP_Z, ObjectSpec, TabletopEnv
from envs.config import from_mapping
from envs.errors import ConfigError
from envs.pose import yaw_quat
from envs.shapes import cylinder_builder, tray_builder

CUBE_HALF = 0.025
STACK_XY_TOL = 0.02  # m: horizontal misalignment still counted as "on"
STACK_Z_TOL = 0.008  # m: vertical slack around one cube height
EEF_CLEARANCE = 0.04  # m: the gripper must be this far above the top cube for success
LIFT_HEIGHT = 0.10  # m: how high above the table a lifted cube's bottom must be
COLORS = {
    "blue": (0.1, 0.3, 0.9, 1.0),
    "red": (0.9, 0.15, 0.1, 1.0),
    "green": (0.15, 0.8, 0.2, 1.0),
}


@dataclass(frozen=True)
class CubeRegion:
    """Where cubes may be placed (x/y ranges on the table, yaw range, spacing) and how far the
    robot base may be displaced (x/y offsets in metres, yaw in radians) at each reset."""

    x: tuple[float, float]
    y: tuple[float, float]
    yaw: tuple[float, float]
    min_spacing: float
    base_xy: float = 0.0
    base_yaw: float = 0.0


def sample_separated_xy(rng: np.random.Generator, region: CubeRegion, count: int) -> np.ndarray:
    """``count`` positions ``[count, 2]`` uniform in ``region``, pairwise at least ``min_spacing`` apart."""
    for _ in range(1000):
        xy = np.stack([rng.uniform(*region.x, size=count), rng.uniform(*region.y, size=count)], axis=1)
        dists = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(count)
        if dists.min() >= region.min_spacing:
            return xy
    raise RuntimeError("could not place objects without overlap; widen the region or lower min_spacing")


def cube_objects(*colors: str) -> dict[str, ObjectSpec]:
    """``cube_<color>`` -> 5 cm cube spec, in the given order."""
    return {f"cube_{c}": ObjectSpec("cube_small.urdf", COLORS[c]) for c in colors}


class CubeTaskEnv(TabletopEnv):
    """Shared randomization and geometry of the cube tasks (levels declared in gym.yaml as ``CubeRegion``)."""

    def _parse_randomization(self, raw: dict, where: str) -> CubeRegion:
        region = from_mapping(CubeRegion, raw, where)
        if region.x[0] > region.x[1] or region.y[0] > region.y[1] or region.yaw[0] > region.yaw[1]:
            raise ConfigError(f"{where}: each range must be [low, high] with low <= high")
        return region

    def placement_region(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The level's cube x and y ranges (m)."""
        return tuple(self.randomization.x), tuple(self.randomization.y)

    def _sample_robot_bases(self, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        region, bases = self.randomization, super()._sample_robot_bases(rng)
        if region.base_xy == 0.0 and region.base_yaw == 0.0:
            return bases
        moved = []
        for (base, _), (_, yaw) in zip(bases, self.robot_bases, strict=True):
            offset = rng.uniform(-region.base_xy, region.base_xy, size=2)
            turn = rng.uniform(-region.base_yaw, region.base_yaw)
            moved.append((base + np.array([*offset, 0.0]), yaw_quat(yaw + turn)))
        return moved

    def _sample_object_poses(self, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        region, names = self.randomization, self.movable_objects
        xy = sample_separated_xy(rng, region, len(names)) if len(names) > 1 else np.stack(
            [rng.uniform(*region.x, size=1), rng.uniform(*region.y, size=1)], axis=1)
        yaws = rng.uniform(*region.yaw, size=len(names))
        return {
            name: (np.array([x, y, TABLE_TOP_Z + self.objects[name].half_height]), yaw_quat(yaw))
            for name, (x, y), yaw in zip(names, xy, yaws, strict=True)
        }

    def on(self, top: str, bottom: str) -> bool:
        """``top`` rests on ``bottom``: aligned, one cube height above it, touching."""
        (top_x, top_y, top_z), (bottom_x, bottom_y, bottom_z) = self.object_position(top), self.object_position(bottom)
        aligned = math.hypot(top_x - bottom_x, top_y - bottom_y) < STACK_XY_TOL
        height = abs(top_z - bottom_z - 2 * CUBE_HALF) < STACK_Z_TOL
        return aligned and height and self.in_contact(top, bottom)

    def on_table(self, name: str) -> bool:
        """The cube sits on the table top."""
        return abs(self.object_position(name)[2] - TABLE_TOP_Z - CUBE_HALF) < STACK_Z_TOL

    def all_at_rest(self) -> bool:
        """Every object is at rest."""
        return all(self.object_at_rest(name) for name in self.bodies)

    def _gripper_clear_of(self, min_eef_z: float, names: list[str] | None = None) -> bool:
        """The gripper is commanded open, above ``min_eef_z`` and touches none of ``names`` (default: all)."""
        return (self.gripper_command < 0 and self.robot.eef_state()[0][2] > min_eef_z
                and not any(self.robot_touches(name) for name in names or self.bodies))


class StackEnvBase(CubeTaskEnv):
    """Stack ``objects`` in their declared order, the first one staying on the table.

    Stage flags: ``grasp_<cube>`` and ``<cube>_on_<below>`` (stacked and released) for every cube
    above the bottom one; all but the last are the subtask termination signals. Success: every cube
    on the one below it, the bottom one on the table, the gripper open, untouched and clear above
    the top cube, and every cube at rest.
    """

    @classmethod
    @functools.cache
    def stack_pairs(cls) -> tuple[tuple[str, str], ...]:
        """(cube, the cube it goes on), bottom-up."""
        names = list(cls.objects)
        return tuple(zip(names[1:], names[:-1], strict=True))

    def _gripper_clear(self) -> bool:
        return self._gripper_clear_of(self.object_position(list(self.objects)[-1])[2] + EEF_CLEARANCE)

    def evaluate(self) -> dict[str, bool]:
        """``success`` and the stage flags (see the class docstring)."""
        flags: dict[str, bool] = {}
        for top, below in self.stack_pairs():
            held = self.grasped(top)
            flags[f"grasp_{top[5:]}"] = held
            flags[f"{top[5:]}_on_{below[5:]}"] = self.on(top, below) and not held
        stacked = self.on_table(list(self.objects)[0]) and all(
            flags[f"{top[5:]}_on_{below[5:]}"] for top, below in self.stack_pairs())
        flags["success"] = bool(stacked and self.all_at_rest() and self._gripper_clear())
        return flags


class StackThreeEnv(StackEnvBase):
    """Stack three cubes: red on blue, then green on red, blue staying on the table.

    Randomization: the cubes' x/y (non-overlapping) and yaw (D0 narrow, D1 wide with any yaw).
    Success and stage flags: see ``StackEnvBase`` (``grasp_red``, ``red_on_blue``,
    ``grasp_green``, ``green_on_red``).
    """

    config_name = "StackThree"
    objects = cube_objects("blue", "red", "green")
    subtask_signal_names = ("grasp_red", "red_on_blue", "grasp_green")


class StackEnv(StackEnvBase):
    """Stack two cubes: red on blue, blue staying on the table.

    Randomization as StackThree. Stage flags ``grasp_red``, ``red_on_blue``; signal ``grasp_red``.
    """

    config_name = "Stack"
    objects = cube_objects("blue", "red")
    subtask_signal_names = ("grasp_red",)


class LiftEnv(CubeTaskEnv):
    """Lift one cube: grasp the red cube and hold it 10 cm above the table.

    Randomization: the cube's x/y and yaw (D0 narrow, D1 wide with any yaw).
    Stage flags: ``grasp_red`` (the subtask signal) and ``lifted`` (held with its bottom at least
    10 cm above the table). Success: lifted and at rest (held still), never while still rising.
    """

    config_name = "Lift"
    objects = cube_objects("red")
    subtask_signal_names = ("grasp_red",)

    def evaluate(self) -> dict[str, bool]:
        """``success``, ``grasp_red`` and ``lifted`` (see the class docstring)."""
        held = self.grasped("cube_red")
        bottom = self.object_position("cube_red")[2] - CUBE_HALF
        lifted = held and bottom - TABLE_TOP_Z >= LIFT_HEIGHT
        return {"grasp_red": held, "lifted": bool(lifted), "success": bool(lifted and self.all_at_rest())}


BIN_SCALE = 0.4  # pybullet_data's 0.6 m tray scaled to 0.24 m
BIN_XY = (0.55, 0.22)
BIN_INNER_HALF = 0.105  # m: half the inner width of the scaled tray
BIN_WALL_TOP = 0.05  # m above the table


class PickPlaceEnv(CubeTaskEnv):
    """Put a cube, a cylinder and a lego brick (mesh visual) into a bin.

    Randomization: the three objects' x/y (non-overlapping, beside the bin) and yaw per level; the
    bin stays at ``BIN_XY`` (D2 moves the robot base). Stage flags: ``grasp_<object>`` and
    ``<object>_in_bin`` (inside the bin's walls, below its rim, released) for each object; all but
    the last ``in_bin`` are subtask signals. Success: every object in the bin, the gripper open,
    untouched and clear above the rim, everything at rest.
    """

    config_name = "PickPlace"
    objects = {
        "cube_red": ObjectSpec("cube_small.urdf", COLORS["red"]),
        "cylinder_green": ObjectSpec(rgba=COLORS["green"], half_height=0.025, builder=cylinder_builder(0.02, 0.05)),
        "lego_yellow": ObjectSpec("lego/lego.urdf", half_height=0.0115),
        "bin": ObjectSpec(half_height=0.0, fixed_xy=BIN_XY, builder=tray_builder(BIN_SCALE, (0.55, 0.55, 0.6, 1.0))),
    }
    subtask_signal_names = ("grasp_cube_red", "cube_red_in_bin", "grasp_cylinder_green", "cylinder_green_in_bin",
                            "grasp_lego_yellow")

    def in_bin(self, name: str) -> bool:
        """The object lies inside the bin's walls and below its rim."""
        x, y, z = self.client.getBasePositionAndOrientation(self.bodies[name])[0]
        inside = abs(x - BIN_XY[0]) < BIN_INNER_HALF and abs(y - BIN_XY[1]) < BIN_INNER_HALF
        return inside and z < TABLE_TOP_Z + BIN_WALL_TOP

    def evaluate(self) -> dict[str, bool]:
        """``success`` and the stage flags (see the class docstring)."""
        flags: dict[str, bool] = {}
        for name in self.movable_objects:
            held = self.grasped(name)
            flags[f"grasp_{name}"] = held
            flags[f"{name}_in_bin"] = self.in_bin(name) and not held
        placed = all(flags[f"{name}_in_bin"] for name in self.movable_objects)
        flags["success"] = placed and self._gripper_clear_of(
            TABLE_TOP_Z + BIN_WALL_TOP + EEF_CLEARANCE, self.movable_objects) and self.all_at_rest()
        return flags
