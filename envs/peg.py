"""PegInsert: a precision task, a square peg into a square socket with millimetre clearance."""

from __future__ import annotations

import math

from envs.base import TABLE_TOP_Z, ObjectSpec
from envs.cubes import EEF_CLEARANCE, CubeTaskEnv
from envs.shapes import box_builder, socket_builder

PEG_HALF = (0.01, 0.01, 0.05)  # m: a 2 x 2 x 10 cm peg
CLEARANCE = 0.0015  # m per side between peg and socket walls
SOCKET_WALL = 0.012  # m: wall thickness
SOCKET_HEIGHT = 0.04  # m
INSERT_DEPTH = 0.02  # m the peg's bottom must be below the socket's top
ALIGN_TOL = 0.004  # m: peg axis within this of the socket axis


class PegInsertEnv(CubeTaskEnv):
    """Insert a 2 x 2 x 10 cm square peg into a square socket with 1.5 mm clearance per side.

    Randomization: peg and socket x/y (apart) and yaw per level; the socket is immovable but placed
    anew at every reset. Stage flags: ``grasp_peg`` (the subtask signal) and ``peg_inserted`` (axis
    within 4 mm of the socket's, bottom at least 2 cm below its top, released). Success: inserted,
    the gripper open, untouched and above the peg, everything at rest.
    """

    config_name = "PegInsert"
    objects = {
        "peg": ObjectSpec(half_height=PEG_HALF[2], builder=box_builder(PEG_HALF, (0.95, 0.6, 0.1, 1.0), 0.05)),
        "socket": ObjectSpec(half_height=SOCKET_HEIGHT / 2, static=True,
                             builder=socket_builder(PEG_HALF[0] + CLEARANCE, SOCKET_WALL, SOCKET_HEIGHT,
                                                    (0.2, 0.4, 0.8, 1.0))),
    }
    subtask_signal_names = ("grasp_peg",)

    def inserted(self) -> bool:
        """The peg stands in the socket: aligned axes, bottom deep enough."""
        (peg_x, peg_y, peg_z), (socket_x, socket_y, _) = self.object_position("peg"), self.object_position("socket")
        aligned = math.hypot(peg_x - socket_x, peg_y - socket_y) < ALIGN_TOL
        return aligned and peg_z - PEG_HALF[2] < TABLE_TOP_Z + SOCKET_HEIGHT - INSERT_DEPTH

    def evaluate(self) -> dict[str, bool]:
        """``success``, ``grasp_peg`` and ``peg_inserted`` (see the class docstring)."""
        held = self.grasped("peg")
        inserted = self.inserted() and not held
        peg_top = self.object_position("peg")[2] + PEG_HALF[2]
        success = inserted and self._gripper_clear_of(peg_top + EEF_CLEARANCE / 2, ["peg"]) and self.all_at_rest()
        return {"grasp_peg": held, "peg_inserted": inserted, "success": success}
