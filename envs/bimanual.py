"""BimanualLift: two Pandas side by side lift one long bar together."""

from __future__ import annotations

import numpy as np

from envs.base import TABLE_TOP_Z, ObjectSpec
from envs.cubes import LIFT_HEIGHT, CubeTaskEnv
from envs.pose import quat_to_mat
from envs.shapes import box_builder

BAR_HALF = (0.02, 0.25, 0.02)  # m: a 4 x 50 x 4 cm bar, its long axis along its local y
BAR_GRASP_OFFSET = 0.18  # m from the bar's centre to each arm's grasp point
MAX_TILT = np.deg2rad(10.0)
ROBOT_Y = 0.3  # m: robot0 at y = -0.3, robot1 at y = +0.3


class BimanualLiftEnv(CubeTaskEnv):
    """Lift a 50 cm bar with two arms, one at each end.

    Robots: ``robot0`` (y = -0.3 m) and ``robot1`` (y = +0.3 m), both facing +x; the action is the
    two arms' actions side by side. Randomization: the bar's x/y and yaw per level (D2 also moves
    both robot bases). Stage flags: ``robot0_grasp``, ``robot1_grasp`` (each arm holds the bar with
    both fingers; each arm's subtask signal) and ``lifted`` (bar bottom 10 cm above the table,
    tilted < 10 degrees). Success: lifted, held by both arms, at rest.
    """

    config_name = "BimanualLift"
    robot_bases = (((0.0, -ROBOT_Y, TABLE_TOP_Z), 0.0), ((0.0, ROBOT_Y, TABLE_TOP_Z), 0.0))
    objects = {"bar": ObjectSpec(half_height=BAR_HALF[2], builder=box_builder(BAR_HALF, (0.55, 0.35, 0.8, 1.0), 0.2))}
    subtask_signal_names = ("robot0_grasp", "robot1_grasp")

    def evaluate(self) -> dict[str, bool]:
        """``success``, ``robot0_grasp``, ``robot1_grasp`` and ``lifted`` (see the class docstring)."""
        pos, quat = self.object_pos_quat("bar")
        held = {f"{robot.name}_grasp": self.grasped("bar", robot) for robot in self.robots}
        long_axis = quat_to_mat(quat)[:, 1]
        level = np.arcsin(min(1.0, abs(long_axis[2]))) < MAX_TILT
        lifted = pos[2] - BAR_HALF[2] - TABLE_TOP_Z >= LIFT_HEIGHT and level
        success = lifted and all(held.values()) and self.all_at_rest()
        return {**held, "lifted": bool(lifted), "success": bool(success)}
