"""StackThree: stack three 5 cm cubes, blue at the bottom, red on blue, green on red."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.base import TABLE_TOP_Z, ObjectSpec, TabletopEnv

CUBE_HALF = 0.025
STACK_XY_TOL = 0.02  # m: horizontal misalignment still counted as "on"
STACK_Z_TOL = 0.008  # m: vertical slack around one cube height
EEF_CLEARANCE = 0.04  # m: the gripper must be this far above the top cube for success


@dataclass(frozen=True)
class CubeRegion:
    """Where cubes may be placed: x/y ranges on the table (robot base frame), yaw range, spacing."""

    x: tuple[float, float]
    y: tuple[float, float]
    yaw: tuple[float, float]
    min_spacing: float


REGIONS = {
    "D0": CubeRegion(x=(0.45, 0.62), y=(-0.15, 0.15), yaw=(-np.pi / 4, np.pi / 4), min_spacing=0.11),
    "D1": CubeRegion(x=(0.38, 0.68), y=(-0.25, 0.25), yaw=(-np.pi, np.pi), min_spacing=0.11),
}


def sample_separated_xy(rng: np.random.Generator, region: CubeRegion, count: int) -> np.ndarray:
    """``count`` positions ``[count, 2]`` uniform in ``region``, pairwise at least ``min_spacing`` apart."""
    for _ in range(1000):
        xy = np.stack([rng.uniform(*region.x, size=count), rng.uniform(*region.y, size=count)], axis=1)
        dists = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(count)
        if dists.min() >= region.min_spacing:
            return xy
    raise RuntimeError("could not place objects without overlap; widen the region or lower min_spacing")


def yaw_quat(yaw: float) -> np.ndarray:
    """Quaternion ``[4]`` (x, y, z, w) of a rotation by ``yaw`` about world z."""
    return np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])


class StackThreeEnv(TabletopEnv):
    """Stack three cubes with a Panda.

    Task: put red on blue, then green on red, blue staying on the table.
    Randomization: the three cubes' x/y (non-overlapping) and yaw, per difficulty level
    (D0 narrow, D1 wide with any yaw).
    Success: blue on the table, red on blue, green on red (aligned within 2 cm, one cube height
    apart, touching), the gripper open and clear of the stack, and every cube at rest.
    Stage flags: ``grasp_red``, ``red_on_blue`` (stacked and released), ``grasp_green``,
    ``green_on_red``; the first three are the subtask termination signals.
    """

    objects = {
        "cube_blue": ObjectSpec("cube_small.urdf", (0.1, 0.3, 0.9, 1.0)),
        "cube_red": ObjectSpec("cube_small.urdf", (0.9, 0.15, 0.1, 1.0)),
        "cube_green": ObjectSpec("cube_small.urdf", (0.15, 0.8, 0.2, 1.0)),
    }
    subtask_signal_names = ("grasp_red", "red_on_blue", "grasp_green")
    instruction = "Stack the red cube on the blue cube, then the green cube on the red cube."

    @classmethod
    def randomization_levels(cls) -> tuple[str, ...]:
        """D0 (narrow) and D1 (wide, any yaw)."""
        return tuple(REGIONS)

    def _sample_object_poses(self, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        region = REGIONS[self.difficulty]
        xy = sample_separated_xy(rng, region, len(self.objects))
        yaws = rng.uniform(*region.yaw, size=len(self.objects))
        return {
            name: (np.array([x, y, TABLE_TOP_Z + CUBE_HALF]), yaw_quat(yaw))
            for name, (x, y), yaw in zip(self.objects, xy, yaws, strict=True)
        }

    def _on(self, top: str, bottom: str) -> bool:
        top_pos, _ = self.object_pos_quat(top)
        bottom_pos, _ = self.object_pos_quat(bottom)
        aligned = np.linalg.norm(top_pos[:2] - bottom_pos[:2]) < STACK_XY_TOL
        height = abs(top_pos[2] - bottom_pos[2] - 2 * CUBE_HALF) < STACK_Z_TOL
        return bool(aligned and height and self.in_contact(top, bottom))

    def _gripper_clear(self) -> bool:
        green_z = self.object_pos_quat("cube_green")[0][2]
        eef_z = self.robot.eef_pos_quat()[0][2]
        untouched = not any(self.robot_touches(name) for name in self.bodies)
        return bool(self.gripper_command < 0 and untouched and eef_z - green_z > EEF_CLEARANCE)

    def evaluate(self) -> dict[str, bool]:
        """``success`` and the stage flags (see the class docstring)."""
        blue_z = self.object_pos_quat("cube_blue")[0][2]
        blue_on_table = abs(blue_z - TABLE_TOP_Z - CUBE_HALF) < STACK_Z_TOL
        red_on_blue = self._on("cube_red", "cube_blue")
        green_on_red = self._on("cube_green", "cube_red")
        flags = {
            "grasp_red": self.grasped("cube_red"),
            "red_on_blue": red_on_blue and not self.grasped("cube_red"),
            "grasp_green": self.grasped("cube_green"),
            "green_on_red": green_on_red and not self.grasped("cube_green"),
        }
        at_rest = all(self.object_at_rest(name) for name in self.bodies)
        stacked = blue_on_table and red_on_blue and green_on_red
        flags["success"] = bool(stacked and at_rest and self._gripper_clear())
        return flags
