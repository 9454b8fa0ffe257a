"""A collision-only copy of a task's scene in its own pybullet client, for motion planning.

The copy holds the table, every task object (built by the same code as the env's) and every arm (its
robot file's model). ``sync`` copies the env's object poses and joint angles into it; queries then set
one arm's joints (an object it holds follows its hand) and measure distances, without ever touching
the simulation that records data (no contact cache, broadphase pair or state of it changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pybullet as p
import pybullet_data

from envs.bullet import connect
from envs.objects import ObjectConfig, build_object
from envs.pose import interpolate_poses, mat_to_quat, pose_from_pos_quat, rotation_angle_between
from envs.robot import ModelIndex, Robot, compose, grasp_frame_state, load_model

IK_ROUNDS = 6  # IK restarts from its own solution (each ``ik.iterations`` long) until within ``REACH_TOLERANCE``
REACH_TOLERANCE = 1e-3  # m
TRACK_STEP_M = 0.02  # m the grasp frame moves between two IK solves when following a straight line to a goal
TRACK_STEP_RAD = 0.1  # rad it turns between two


@dataclass
class _Arm:
    """One arm of the copy: its body, indices, IK settings and the links that never move (its base)."""

    body: int
    index: ModelIndex
    ik_options: dict
    base_links: frozenset[int]


@dataclass(frozen=True)
class Attachment:
    """An object carried by an arm: its body in the copy and its pose in the grasp link's frame."""

    body: int
    in_link: tuple


class CollisionWorld:
    """The copy: ``table`` (the env's table body), ``objects`` name -> (config, env body), ``robots`` the env's arms."""

    def __init__(self, env_client, table: int, objects: dict[str, tuple[ObjectConfig, int]],
                 robots: Sequence[Robot]) -> None:
        self.env_client = env_client
        self.client = connect()
        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.table = self._copy_box(table)
        self.env_objects = {name: body for name, (_, body) in objects.items()}
        self.objects = {name: build_object(self.client, obj, [0.0, 0.0, -10.0 - i])
                        for i, (name, (obj, _)) in enumerate(objects.items())}
        self.env_robots = list(robots)
        self.arms = [self._copy_robot(robot) for robot in robots]
        self._base_links_of = {arm.body: arm.base_links for arm in self.arms}

    def _copy_box(self, body: int) -> int:
        """A static copy of a one-box body (the table) at its pose."""
        shape = self.env_client.getCollisionShapeData(body, -1)[0]
        half = [v / 2 for v in shape[3]]
        pos, quat = self.env_client.getBasePositionAndOrientation(body)
        return self.client.createMultiBody(0, self.client.createCollisionShape(p.GEOM_BOX, halfExtents=half), -1,
                                           pos, quat)

    def _copy_robot(self, robot: Robot) -> _Arm:
        body = load_model(self.client, robot.spec)
        self.client.resetBasePositionAndOrientation(body, *self.env_client.getBasePositionAndOrientation(robot.body))
        index = ModelIndex(self.client, body, robot.spec)
        return _Arm(body, index, index.ik_options("dls"), self._base_links(body))

    def _base_links(self, body: int) -> frozenset[int]:
        """The base link and every link fixed to it: where a mounted arm may sit in the table, unchecked."""
        fixed = {-1}
        for joint in range(self.client.getNumJoints(body)):
            info = self.client.getJointInfo(body, joint)
            if info[2] == p.JOINT_FIXED and info[16] in fixed:
                fixed.add(joint)
        return frozenset(fixed)

    def sync(self) -> None:
        """Copy the env's object poses, robot bases and joint angles into the copy."""
        for name, body in self.objects.items():
            self.client.resetBasePositionAndOrientation(
                body, *self.env_client.getBasePositionAndOrientation(self.env_objects[name]))
        for robot, arm in zip(self.env_robots, self.arms, strict=True):
            self.client.resetBasePositionAndOrientation(
                arm.body, *self.env_client.getBasePositionAndOrientation(robot.body))
            states = self.env_client.getJointStates(robot.body, arm.index.movable)
            for joint, state in zip(arm.index.movable, states, strict=True):
                self.client.resetJointState(arm.body, joint, state[0])

    def arm_limits(self, arm: int) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper limits ``[arm_dof]`` of an arm's joints."""
        return self.arms[arm].index.arm_limits

    def arm_qpos(self, arm: int) -> np.ndarray:
        """An arm's joint angles ``[arm_dof]`` in the copy."""
        a = self.arms[arm]
        return np.array([s[0] for s in self.client.getJointStates(a.body, a.index.arm)])

    def set_arm(self, arm: int, qpos: Sequence[float], attached: Sequence[Attachment] = ()) -> None:
        """Put an arm at ``qpos`` ``[arm_dof]``; what it carries follows its grasp link."""
        a = self.arms[arm]
        for joint, q in zip(a.index.arm, qpos, strict=True):
            self.client.resetJointState(a.body, joint, float(q))
        if attached:
            state = self.client.getLinkState(a.body, a.index.grasp_link, computeForwardKinematics=1)
            for item in attached:
                self.client.resetBasePositionAndOrientation(item.body, *compose((state[4], state[5]), item.in_link))

    def attach(self, arm: int, name: str) -> Attachment:
        """Object ``name`` carried by ``arm`` as it sits in its hand now."""
        a, body = self.arms[arm], self.objects[name]
        state = self.client.getLinkState(a.body, a.index.grasp_link, computeForwardKinematics=1)
        link_inv = p.invertTransform(state[4], state[5])
        return Attachment(body, p.multiplyTransforms(*link_inv, *self.client.getBasePositionAndOrientation(body)))

    def eef_pose(self, arm: int, qpos: Sequence[float]) -> np.ndarray:
        """World pose ``[4, 4]`` of an arm's grasp frame at ``qpos`` (the arm is left there)."""
        self.set_arm(arm, qpos)
        pos, quat = grasp_frame_state(self.client, self.arms[arm].body, self.arms[arm].index)
        return pose_from_pos_quat(np.asarray(pos), np.asarray(quat))

    def solve_ik(self, arm: int, pose: np.ndarray, start: Sequence[float]) -> np.ndarray:
        """Joint angles ``[arm_dof]`` reaching ``pose`` by damped least squares from ``start`` (restarted from its
        own solution until within 1 mm); out of reach, the closest the solver gets."""
        qpos = np.asarray(start, dtype=float)
        for _ in range(IK_ROUNDS):
            if np.linalg.norm(self.eef_pose(arm, qpos)[:3, 3] - pose[:3, 3]) < REACH_TOLERANCE:
                break
            qpos = self._ik_once(arm, pose)
        return qpos

    def solve_ik_along(self, arm: int, pose: np.ndarray, start: Sequence[float]) -> np.ndarray:
        """Joint angles ``[arm_dof]`` reaching ``pose`` on the branch of ``start``: the grasp frame follows the
        straight line from where ``start`` puts it, one IK solve per ``TRACK_STEP_M``/``TRACK_STEP_RAD``, as the
        env's controller would follow an interpolated bridge (one solve from ``start`` ends elsewhere in a
        redundant arm's null space: on large turns 0.05-0.13 rad from where the env's controller ends, this
        0.006-0.07 rad)."""
        begin = self.eef_pose(arm, start)
        steps = max(np.linalg.norm(pose[:3, 3] - begin[:3, 3]) / TRACK_STEP_M,
                    float(rotation_angle_between(begin[:3, :3], pose[:3, :3])) / TRACK_STEP_RAD)
        for waypoint in interpolate_poses(begin, pose, int(steps)):
            self._ik_once(arm, waypoint)
        return self.solve_ik(arm, pose, self.arm_qpos(arm))

    def _ik_once(self, arm: int, pose: np.ndarray) -> np.ndarray:
        """One damped-least-squares solve toward ``pose`` from the arm's angles in the copy; the arm is left at
        the solution."""
        a = self.arms[arm]
        target = compose((tuple(pose[:3, 3]), tuple(mat_to_quat(pose[:3, :3]))), a.index.offset_inverse)
        sol = self.client.calculateInverseKinematics(a.body, a.index.grasp_link, *target, **a.ik_options)
        qpos = np.asarray(sol)[a.index.arm_in_ik]
        self.set_arm(arm, qpos)
        return qpos

    def obstacles(self, arm: int, carried: Sequence[int] = ()) -> list[int]:
        """Every body an arm (and what it carries) must not hit: table, other objects, other arms."""
        others = [a.body for i, a in enumerate(self.arms) if i != arm]
        return [self.table, *(b for b in self.objects.values() if b not in carried), *others]

    def distance(self, body_a: int, body_b: int, cutoff: float) -> float:
        """Smallest signed distance (m, negative: penetration) between two bodies, or ``cutoff`` if farther; an
        arm's base links are left out (they never move, and a mounted base may sit in the table)."""
        points = self.client.getClosestPoints(body_a, body_b, cutoff)
        ignored_a, ignored_b = self._base_links_of.get(body_a, ()), self._base_links_of.get(body_b, ())
        return min((pt[8] for pt in points if pt[3] not in ignored_a and pt[4] not in ignored_b), default=cutoff)

    def close(self) -> None:
        """Disconnect the copy's client."""
        if self.client.isConnected():
            self.client.disconnect()
