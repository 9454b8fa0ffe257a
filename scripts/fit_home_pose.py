"""Find a robot file's ``home``: the arm joint angles that put its grasp frame at a pose above the table.

    python scripts/fit_home_pose.py configs/robots/xarm6.yaml
    python scripts/fit_home_pose.py my_arm.yaml --pos 0.46 0 0.35 --start 0 -0.5 -0.5 0 1 0

The default target is the Panda's home: 0.46 m in front of the task's robot placement (the robot
file's ``mount`` is taken into account), 0.35 m above the table, gripper pointing down (quaternion
1 0 0 0). IK is iterated on a kinematics-only copy from ``--start`` (default: the file's home), so
different starts give different arm postures; check the printed reach error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from envs.pose import quat_to_mat, rotation_angle_between
from envs.robot import RobotKinematics, compose
from envs.robot_config import load_robot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("robot", help="a built-in robot name or a robot file")
    parser.add_argument("--pos", type=float, nargs=3, default=[0.4635, 0.0, 0.351])
    parser.add_argument("--quat", type=float, nargs=4, default=[1.0, 0.0, 0.0, 0.0])
    parser.add_argument("--start", type=float, nargs="+", default=None)
    args = parser.parse_args()
    spec = load_robot(args.robot, Path.cwd())
    kinematics = RobotKinematics(spec)
    qpos = np.asarray(args.start if args.start is not None else spec.home, dtype=float)
    pos, quat = np.asarray(args.pos) - np.asarray(spec.mount), np.asarray(args.quat)  # relative to the base
    link_pos, link_quat = compose((pos, quat), kinematics.index.offset_inverse)
    for _ in range(20):
        kinematics.eef_pose(qpos)  # IK iterates from the copy's current joints
        sol = kinematics.client.calculateInverseKinematics(kinematics.body, kinematics.index.grasp_link, link_pos,
                                                           link_quat, maxNumIterations=200, residualThreshold=1e-7)
        qpos = np.asarray(sol)[kinematics.index.arm_in_ik]
    pose = kinematics.eef_pose(qpos)
    angle = np.degrees(rotation_angle_between(pose[:3, :3], quat_to_mat(quat)))
    print(f"home: [{', '.join(f'{q:.4f}' for q in qpos)}]")
    print(f"reach error: {np.linalg.norm(pose[:3, 3] - pos) * 1000:.2f} mm, {angle:.2f} deg")
    kinematics.close()


if __name__ == "__main__":
    main()
