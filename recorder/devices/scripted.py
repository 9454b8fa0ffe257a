"""The scripted device: runs a task's action bank (``recorder.devices.action_bank``) as a closed-loop expert."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from envs.errors import ConfigError
from envs.interface import MimicEnv
from envs.pose import (
    axis_angle_to_mat,
    make_pose,
    mat_to_axis_angle,
    pose_inv,
    rotation_angle_between,
    wrap_angle,
    yaw_of,
)
from recorder.devices.action_bank import (
    GRIPPER_DOWN,
    IK_TOL,
    MAX_ROT_STEP,
    REACH_TOL,
    ActionBank,
    EdgeSpec,
    NodeSpec,
    OpSpec,
    RotateSpec,
    action_bank_path,
    load_action_bank,
)
from recorder.devices.base import Device, Event, Step, register_device


class UnreachablePose(ConfigError):
    """A node's pose, evaluated in this episode's scene, is out of the arm's reach."""


class _ScopeRun:
    """Where one scope is in its edge chain, and its current command (pose ``[4, 4]`` or gripper value)."""

    def __init__(self, name: str, kind: str, eef: str, chain: tuple[EdgeSpec, ...], command) -> None:
        self.name, self.kind, self.eef, self.chain = name, kind, eef, chain
        self.index, self.started, self.count = 0, False, 0
        self.goal: np.ndarray | None = None
        self.command = command

    @property
    def edge(self) -> EdgeSpec | None:
        return self.chain[self.index] if self.index < len(self.chain) else None


class ActionBankExpert:
    """Executes an ``ActionBank`` in an env, one action per ``act()``; ``done`` when every scope is.

    ``stop_before`` names edges at which their scopes stop (holding still): near misses for tests.
    """

    def __init__(self, env: MimicEnv, bank: ActionBank, stop_before: Collection[str] = ()) -> None:
        self.env, self.bank, self.stop_before = env, bank, frozenset(stop_before)
        for name in self.stop_before - set(bank.edges):
            raise ConfigError(f"{bank.where}: no edge {name!r} to stop before")
        self.blocked = blocked_edges(bank, self.stop_before)
        self.nodes: dict[str, np.ndarray] = {}
        self.finished: set[str] = set()
        self.scopes = [self._scope_run(name) for name in bank.scope]

    def _scope_run(self, name: str) -> _ScopeRun:
        spec = self.bank.scope[name]
        if spec.eef not in self.env.eef_names:
            raise ConfigError(f"{self.bank.where}: scope {name!r}: no end effector {spec.eef!r} in this task "
                              f"(it has {', '.join(self.env.eef_names)})")
        command = self.env.get_robot_eef_pose(spec.eef) if spec.kind == "arm" else float(spec.init)
        return _ScopeRun(name, spec.kind, spec.eef, self.bank.edge.get(name, ()), command)

    @property
    def done(self) -> bool:
        """Whether every scope has run its chain (or reached ``stop_before``)."""
        return all(run.edge is None or run.edge.name in self.blocked for run in self.scopes)

    def act(self) -> np.ndarray:
        """The next action: every scope advanced by one control step, combined per end effector."""
        just_finished = []
        for run in self.scopes:
            if self._advance(run):
                just_finished.append(run.edge.name)
                run.index, run.started, run.count, run.goal = run.index + 1, False, 0, None
        self.finished.update(just_finished)
        return self._action()

    def hold(self) -> np.ndarray:
        """The action that keeps every scope at its current command (no edge advances)."""
        return self._action()

    def _advance(self, run: _ScopeRun) -> bool:
        """Step ``run``'s current edge; True when it has just finished."""
        edge = run.edge
        if edge is None or edge.name in self.blocked:
            return False
        if not run.started:
            if not self.finished.issuperset(self.bank.sync.get(edge.name, ())):
                return False
            run.started = True
            if edge.fn == "move":
                run.goal = self.node_pose(edge.to, run.eef)
        if edge.fn == "move":
            return self._move(run, edge)
        if edge.fn in ("open", "close"):
            run.command = -1.0 if edge.fn == "open" else 1.0
        run.count += 1
        return run.count >= edge.duration

    def _move(self, run: _ScopeRun, edge: EdgeSpec) -> bool:
        run.command = step_towards(run.command, run.goal, edge.speed)
        eef = self.env.get_robot_eef_pose(run.eef)
        if np.array_equal(run.command, run.goal) and np.linalg.norm(eef[:3, 3] - run.goal[:3, 3]) < REACH_TOL:
            run.count += 1
        return run.count > edge.hold

    def _action(self) -> np.ndarray:
        parts = {}
        for eef in self.env.eef_names:
            pose = next((r.command for r in self.scopes if r.eef == eef and r.kind == "arm"), None)
            grip = next((r.command for r in self.scopes if r.eef == eef and r.kind == "gripper"), -1.0)
            pose = self.env.get_robot_eef_pose(eef) if pose is None else pose
            parts[eef] = self.env.target_eef_pose_to_action(pose, np.array([grip]), eef)
        return self.env.combine_arm_actions(parts)

    # ----------------------------------------------------------------- nodes
    def node_pose(self, name: str, eef: str) -> np.ndarray:
        """Pose ``[4, 4]`` of node ``name``, evaluated now (once per episode) and checked by IK for ``eef``."""
        if name not in self.nodes:
            spec = self.bank.node[name]
            pose = self._base_pose(name, spec, eef)
            for op in spec.ops:
                pose = self._apply(name, op, pose, eef)
            self._check_reachable(name, pose, eef)
            self.nodes[name] = pose
        return self.nodes[name].copy()

    def _base_pose(self, name: str, spec: NodeSpec, eef: str) -> np.ndarray:
        base = spec.base
        if base.object is not None:
            return self._object_pose(name, base.object)
        if base.node is not None:
            return self.node_pose(base.node, eef)
        return self.env.get_robot_eef_pose(eef) if base.eef else np.eye(4)

    def _object_pose(self, node: str, obj: str) -> np.ndarray:
        poses = self.env.get_object_poses()
        if obj not in poses:
            raise ConfigError(f"{self.bank.where}: node {node!r}: no object {obj!r} in this task "
                              f"(it has {', '.join(poses)})")
        return poses[obj]

    def _apply(self, name: str, op: OpSpec, pose: np.ndarray, eef: str) -> np.ndarray:
        pose = pose.copy()
        if op.offset is not None:
            pose[:3, 3] += np.asarray(op.offset)
        elif op.local_offset is not None:
            pose[:3, 3] += pose[:3, :3] @ np.asarray(op.local_offset)
        elif op.rotate is not None:
            pose[:3, :3] = self._rotation(name, op.rotate, eef)
        else:
            held = self._object_pose(name, op.held)
            pose = pose @ pose_inv(held) @ self.env.get_robot_eef_pose(eef)
        return pose

    def _rotation(self, name: str, rot: RotateSpec, eef: str) -> np.ndarray:
        if rot.tilt == "eef":
            return self.env.get_robot_eef_pose(eef)[:3, :3]
        yaw = np.deg2rad(rot.yaw_add)
        if rot.yaw_of is not None:
            yaw += yaw_of(self._object_pose(name, rot.yaw_of)[:3, :3])
        near = 0.0 if rot.near is None else yaw_of(self._object_pose(name, rot.near)[:3, :3])
        yaw = near + wrap_angle(yaw - near, np.deg2rad(rot.symmetry))
        tilt = GRIPPER_DOWN if rot.tilt == "down" else np.eye(3)
        return axis_angle_to_mat(np.array([0.0, 0.0, yaw])) @ tilt

    def _check_reachable(self, name: str, pose: np.ndarray, eef: str) -> None:
        miss = self.env.reach_error(pose, eef)
        if miss > IK_TOL:
            raise UnreachablePose(f"{self.bank.where}: node {name!r}: pose {np.round(pose[:3, 3], 3).tolist()} is "
                                  f"unreachable for {eef} (IK misses by {miss * 100:.1f} cm); move the node")


def blocked_edges(bank: ActionBank, stop_before: frozenset[str]) -> set[str]:
    """Edges that never run when scopes stop at ``stop_before``: those after a stop in their chain, and
    (transitively) those that wait for a blocked edge."""
    blocked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for chain in bank.edge.values():
            for i, edge in enumerate(chain):
                waits = set(bank.sync.get(edge.name, ()))
                if edge.name not in blocked and (edge.name in stop_before or waits & blocked):
                    blocked.update(e.name for e in chain[i:])
                    changed = True
    return blocked


def step_towards(current: np.ndarray, goal: np.ndarray, max_step: float) -> np.ndarray:
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


def make_expert(env_id: str, env: MimicEnv, stop_before: Collection[str] = ()) -> ActionBankExpert:
    """The scripted expert of task ``env_id`` from its action bank (make a new one after each reset)."""
    return ActionBankExpert(env, load_action_bank(str(action_bank_path(env_id))), stop_before)


@register_device("scripted")
class ScriptedDevice(Device):
    """Drives the env with the task's action bank; ends the episode when the bank is done and the task succeeds.

    A node out of reach in this episode's scene (a long arm at a far placement, an object that turned in the
    hand) ends the episode as failed, its reason in ``gave_up``; the record loop's attempt budget decides
    when a node that is never reachable stops the run.
    """

    paced = False

    def __init__(self, env_id: str, **_: object) -> None:
        self.env_id = env_id
        self.expert: ActionBankExpert | None = None

    def start_episode(self, env: MimicEnv) -> None:  # noqa: D102
        self.expert, self.gave_up = make_expert(self.env_id, env), None

    def step(self, env: MimicEnv) -> Step:  # noqa: D102
        try:
            return Step(action=self.expert.act())
        except UnreachablePose as err:
            self.gave_up = str(err)
            return Step(action=self.expert.hold(), events=frozenset({Event.DONE}))
