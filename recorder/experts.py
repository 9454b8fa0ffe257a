"""Scripted experts: closed-loop waypoint followers that solve a task from its object poses.

An expert reads only the env's Mimic interface (eef pose, object poses, pose -> action), so the
same code drives any task whose solution is a sequence of pick-and-place moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from envs.base import TabletopEnv
from envs.errors import TaskError
from envs.pose import (
    axis_angle_to_mat,
    make_pose,
    mat_to_axis_angle,
    quat_to_mat,
    rotation_angle_between,
    wrap_angle,
    yaw_of,
)

GRIPPER_DOWN = np.diag([1.0, -1.0, -1.0])
OPEN, CLOSED = -1.0, 1.0
MAX_POS_STEP = 0.015  # m per control step
MAX_ROT_STEP = 0.12  # rad per control step
REACH_TOL = 0.004  # m
CUBE_HEIGHT = 0.05


@dataclass(frozen=True)
class Waypoint:
    """A pose to reach (computed from the env when it becomes active), a gripper command, a hold."""

    pose_fn: Callable[[TabletopEnv, str], np.ndarray]  # (env, end effector) -> target pose [4, 4]
    gripper: float
    hold_steps: int = 0
    max_step: float = MAX_POS_STEP  # m per control step while moving to this waypoint
    sync: bool = False  # after it, wait until every arm has reached its own sync waypoint


def grasp_rotation(object_quat: np.ndarray) -> np.ndarray:
    """Gripper-down rotation ``[3, 3]`` aligned with the object's yaw, folded into [-pi/4, pi/4]."""
    yaw = wrap_angle(yaw_of(quat_to_mat(object_quat)), np.pi / 2)
    return axis_angle_to_mat(np.array([0.0, 0.0, yaw])) @ GRIPPER_DOWN


def above(name: str, height: float) -> Callable[[TabletopEnv], np.ndarray]:
    """A pose function: ``height`` metres above object ``name``, gripper aligned with its yaw."""

    def pose(env: TabletopEnv, eef: str) -> np.ndarray:
        pos, quat = env.object_pos_quat(name)
        return make_pose(pos + np.array([0.0, 0.0, height]), grasp_rotation(quat))

    return pose


def lifted(height: float) -> Callable[[TabletopEnv], np.ndarray]:
    """A pose function: the current eef pose raised by ``height`` metres."""

    def pose(env: TabletopEnv, eef: str) -> np.ndarray:
        current = env.get_robot_eef_pose(eef)
        current[2, 3] += height
        return current

    return pose


def pick_and_place(obj: str, onto: str) -> list[Waypoint]:
    """Waypoints that pick ``obj`` and put it on top of ``onto``, then clear upwards."""
    return [
        Waypoint(above(obj, 0.10), OPEN),
        Waypoint(above(obj, 0.003), OPEN, hold_steps=2),
        Waypoint(lifted(0.0), CLOSED, hold_steps=8),
        Waypoint(lifted(0.12), CLOSED),
        Waypoint(above(onto, CUBE_HEIGHT + 0.08), CLOSED),
        Waypoint(above(onto, CUBE_HEIGHT + 0.006), CLOSED, hold_steps=2),
        Waypoint(lifted(0.0), OPEN, hold_steps=6),
        Waypoint(lifted(0.10), OPEN),
    ]


class WaypointExpert:
    """Follows a list of waypoints with bounded speed with one end effector; ``done`` once the last one
    is reached. Arms of a ``MultiArmExpert`` share ``group`` so that ``sync`` waypoints act as barriers."""

    def __init__(self, env: TabletopEnv, waypoints: list[Waypoint], eef: str = "robot0") -> None:
        self.env, self.waypoints, self.eef = env, waypoints, eef
        self.index, self.held = 0, 0
        self.goal: np.ndarray | None = None
        self.command: np.ndarray | None = None
        self.group: list[WaypointExpert] = [self]
        self.barriers_reached, self.waiting = 0, False

    @property
    def done(self) -> bool:
        """Whether every waypoint has been reached and held."""
        return self.index >= len(self.waypoints)

    def act(self) -> np.ndarray:
        """The next action of this arm; after the last waypoint, hold still with the last gripper."""
        if self.done:
            return self.env.target_eef_pose_to_action(self.command, np.array([self.waypoints[-1].gripper]), self.eef)
        waypoint = self.waypoints[self.index]
        if self.goal is None:
            self.goal = waypoint.pose_fn(self.env, self.eef)
            self.command = self.command if self.command is not None else self.env.get_robot_eef_pose(self.eef)
        self.command = step_towards(self.command, self.goal, waypoint.max_step)
        if self._reached():
            self.held += 1
            if self.held > waypoint.hold_steps and self._may_pass(waypoint):
                self.index, self.goal, self.held = self.index + 1, None, 0
        return self.env.target_eef_pose_to_action(self.command, np.array([waypoint.gripper]), self.eef)

    def _may_pass(self, waypoint: Waypoint) -> bool:
        if not waypoint.sync:
            return True
        if not self.waiting:
            self.barriers_reached, self.waiting = self.barriers_reached + 1, True
        if all(arm.barriers_reached >= self.barriers_reached for arm in self.group):
            self.waiting = False
            return True
        return False

    def _reached(self) -> bool:
        eef = self.env.get_robot_eef_pose(self.eef)
        at_command = np.array_equal(self.command, self.goal)
        return bool(at_command and np.linalg.norm(eef[:3, 3] - self.goal[:3, 3]) < REACH_TOL)


class MultiArmExpert:
    """One ``WaypointExpert`` per end effector, acting together; their actions are combined."""

    def __init__(self, env: TabletopEnv, plans: dict[str, list[Waypoint]]) -> None:
        self.env = env
        self.arms = [WaypointExpert(env, waypoints, eef) for eef, waypoints in plans.items()]
        for arm in self.arms:
            arm.group = self.arms

    @property
    def done(self) -> bool:
        """Whether every arm is done."""
        return all(arm.done for arm in self.arms)

    def act(self) -> np.ndarray:
        """The full action: every arm's next action, combined."""
        return self.env.combine_arm_actions({arm.eef: arm.act() for arm in self.arms})


def step_towards(current: np.ndarray, goal: np.ndarray, max_step: float = MAX_POS_STEP) -> np.ndarray:
    """Move pose ``current`` ``[4, 4]`` towards ``goal`` by at most ``max_step`` m and ``MAX_ROT_STEP`` rad."""
    dpos = goal[:3, 3] - current[:3, 3]
    dist = np.linalg.norm(dpos)
    angle = rotation_angle_between(current[:3, :3], goal[:3, :3])
    frac = min(1.0, max_step / max(dist, 1e-9), MAX_ROT_STEP / max(angle, 1e-9))
    if frac >= 1.0:
        return goal.copy()
    rotvec = mat_to_axis_angle(goal[:3, :3] @ current[:3, :3].T)
    rot = axis_angle_to_mat(frac * rotvec) @ current[:3, :3]
    return make_pose(current[:3, 3] + frac * dpos, rot)


def over(name: str, dx: float, height: float) -> Callable[[TabletopEnv], np.ndarray]:
    """A pose function: ``height`` metres above object ``name`` shifted by ``dx`` along x, same rotation."""

    def pose(env: TabletopEnv, eef: str) -> np.ndarray:
        current = env.get_robot_eef_pose(eef)
        current[:3, 3] = env.object_pos_quat(name)[0] + np.array([dx, 0.0, height])
        return current

    return pose


def pick_into(obj: str, container: str, dx: float) -> list[Waypoint]:
    """Waypoints that pick ``obj``, carry it over ``container`` (slot ``dx``), drop it, and clear."""
    return [
        Waypoint(above(obj, 0.10), OPEN),
        Waypoint(above(obj, 0.003), OPEN, hold_steps=2),
        Waypoint(lifted(0.0), CLOSED, hold_steps=8),
        Waypoint(lifted(0.15), CLOSED),
        Waypoint(over(container, dx, 0.17), CLOSED),
        Waypoint(over(container, dx, 0.09), CLOSED, hold_steps=2),
        Waypoint(lifted(0.0), OPEN, hold_steps=6),
        Waypoint(lifted(0.10), OPEN),
    ]


def held_object_at(obj: str, target: str, height: float) -> Callable[[TabletopEnv], np.ndarray]:
    """A pose function placing the HELD ``obj`` (not the gripper) ``height`` m above ``target``'s centre,
    yaw-aligned with it (90-degree symmetric, nearest to the object's yaw): in-hand offsets and slip
    are compensated by keeping the object's measured pose relative to the gripper."""

    def pose(env: TabletopEnv, eef: str) -> np.ndarray:
        obj_pose = env.get_object_poses()[obj]
        target_pos, target_quat = env.object_pos_quat(target)
        yaw_obj = yaw_of(obj_pose[:3, :3])
        yaw = yaw_obj + wrap_angle(yaw_of(quat_to_mat(target_quat)) - yaw_obj, np.pi / 2)
        wanted = make_pose(target_pos + np.array([0.0, 0.0, height]), axis_angle_to_mat(np.array([0.0, 0.0, yaw])))
        return wanted @ np.linalg.inv(obj_pose) @ env.get_robot_eef_pose(eef)

    return pose


def insert_into(obj: str, socket: str, grasp_above: float, obj_above: float) -> list[Waypoint]:
    """Waypoints that grasp ``obj`` ``grasp_above`` m above its centre, hold it aligned over ``socket``,
    lower it slowly until its centre is ``obj_above`` m above the socket's centre, release, clear."""
    return [
        Waypoint(above(obj, grasp_above + 0.10), OPEN),
        Waypoint(above(obj, grasp_above), OPEN, hold_steps=2),
        Waypoint(lifted(0.0), CLOSED, hold_steps=8),
        Waypoint(lifted(0.15), CLOSED),
        Waypoint(held_object_at(obj, socket, obj_above + 0.06), CLOSED, hold_steps=4),
        # the same hover again: its pose is computed when it starts, from the settled in-hand offset
        Waypoint(held_object_at(obj, socket, obj_above + 0.06), CLOSED, hold_steps=2),
        Waypoint(held_object_at(obj, socket, obj_above), CLOSED, hold_steps=2, max_step=0.004),
        Waypoint(lifted(0.0), OPEN, hold_steps=6),
        Waypoint(lifted(0.12), OPEN),
    ]


def bar_point(obj: str, along: float, height: float) -> Callable[[TabletopEnv, str], np.ndarray]:
    """A pose function: ``height`` m above the point ``along`` m down ``obj``'s long (local y) axis,
    fingers closing across the bar (gripper yaw = bar yaw + 90 degrees, folded to [-90, 90])."""

    def pose(env: TabletopEnv, eef: str) -> np.ndarray:
        pos, quat = env.object_pos_quat(obj)
        rot = quat_to_mat(quat)
        yaw = wrap_angle(yaw_of(rot) + np.pi / 2, np.pi)
        point = pos + rot[:, 1] * along + np.array([0.0, 0.0, height])
        return make_pose(point, axis_angle_to_mat(np.array([0.0, 0.0, yaw])) @ GRIPPER_DOWN)

    return pose


def lift_together(obj: str, along: float, height: float = 0.15) -> list[Waypoint]:
    """One arm's part of a two-arm lift: grasp ``obj`` at ``along``, wait for the other arm, lift."""
    return [
        Waypoint(bar_point(obj, along, 0.10), OPEN),
        Waypoint(bar_point(obj, along, 0.002), OPEN, hold_steps=2),
        Waypoint(lifted(0.0), CLOSED, hold_steps=8, sync=True),
        Waypoint(lifted(height), CLOSED, hold_steps=6, max_step=0.01),
    ]


def pick_and_lift(obj: str, height: float = 0.15) -> list[Waypoint]:
    """Waypoints that grasp ``obj`` and hold it ``height`` metres above where it was."""
    return [
        Waypoint(above(obj, 0.10), OPEN),
        Waypoint(above(obj, 0.003), OPEN, hold_steps=2),
        Waypoint(lifted(0.0), CLOSED, hold_steps=8),
        Waypoint(lifted(height), CLOSED, hold_steps=5),
    ]


EXPERT_PLANS: dict[str, Callable[[], list[Waypoint] | dict[str, list[Waypoint]]]] = {
    "mimicrec/Lift-v0": lambda: pick_and_lift("cube_red"),
    "mimicrec/Stack-v0": lambda: pick_and_place("cube_red", "cube_blue"),
    "mimicrec/StackThree-v0": lambda: (pick_and_place("cube_red", "cube_blue")
                                       + pick_and_place("cube_green", "cube_red")),
    "mimicrec/BimanualLift-v0": lambda: {"robot0": lift_together("bar", -0.18), "robot1": lift_together("bar", 0.18)},
    "mimicrec/PegInsert-v0": lambda: insert_into("peg", "socket", grasp_above=0.03, obj_above=0.035),
    "mimicrec/PickPlace-v0": lambda: (pick_into("cube_red", "bin", -0.06) + pick_into("cylinder_green", "bin", 0.0)
                                      + pick_into("lego_yellow", "bin", 0.06)),
}


def make_expert(env_id: str, env: TabletopEnv) -> WaypointExpert | MultiArmExpert:
    """The scripted expert of task ``env_id`` for ``env`` (call again after each reset)."""
    if env_id not in EXPERT_PLANS:
        known = ", ".join(sorted(EXPERT_PLANS))
        raise TaskError(f"no scripted expert for {env_id!r}; scripted tasks: {known}")
    plan = EXPERT_PLANS[env_id]()
    return MultiArmExpert(env, plan) if isinstance(plan, dict) else WaypointExpert(env, plan)
