"""``TabletopEnv``: the one env of every task: arms from robot files on a table with task objects,
end-effector control, the Mimic interface.

A task file declares its objects, how they are randomized and what success means (``logic``); this
class builds the pybullet world once, resets it exactly from a seed, drives the arms by closed-loop
IK at the control rate, evaluates the task's logic every step, and exposes the interface that
Mimic-style data generation needs (eef poses, pose <-> action conversion, object poses, subtask signals).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data
from gymnasium import spaces

from envs.actions import make_action_mode
from envs.bullet import connect
from envs.cameras import CameraRig, CameraSpec, observation_spaces, parse_cameras
from envs.collision import CollisionWorld
from envs.errors import TaskError
from envs.objects import build_object
from envs.placement import sample_robot_bases, sample_scene
from envs.pose import headings_to, mat_to_quat, pose_from_pos_quat, turned_near_heading
from envs.robot import Robot, RobotKinematics
from envs.task_config import (
    RobotPlacement,
    TaskConfig,
    compile_task_logic,
    env_settings,
    load_task_config,
    read_task_file,
    task_definition,
    task_from_definition,
    with_robot,
)

SIM_HZ = 240
TABLE_TOP_Z = 0.625
TABLE_HALF_THICKNESS = 0.025
TABLE_RGBA = (0.76, 0.62, 0.46, 1.0)
IK_SUBSTEPS = (0,)  # substeps at which IK is solved (once per control step: a second solve gained nothing)
PURGE_PASSES = 40  # collision passes that let the broadphase drop every stale pair (about 10% each)
REST_LIN_SPEED = 0.01  # m/s: below this an object counts as at rest
REST_ANG_SPEED = 0.2  # rad/s
REST_JOINT_SPEED = 0.1  # rad/s (m/s for a prismatic joint): below this every robot joint counts as at rest
STATE_TAIL_MARK = b"mrhold01"  # ends a state that carries the success streak (older states end in grippers)


def _task_config(config_name: str | None, task_file: str | None, task: dict[str, Any] | None,
                 robot: str | None) -> TaskConfig:
    """The task to build: a stored definition (``task``) wins over a task file, which wins over a built-in;
    ``robot`` replaces its arms (robot transfer)."""
    if task is not None:
        config = task_from_definition(task, task.get("task", "?") if isinstance(task, dict) else "?")
    elif task_file is not None:
        config = read_task_file(task_file)
    elif config_name is None:
        raise TaskError("TabletopEnv needs a task: make it with gymnasium.make(<task id>) or pass task_file=PATH")
    else:
        config = load_task_config(config_name)
    return config if robot is None else with_robot(config, robot)


def _robot_base(placement: RobotPlacement) -> tuple[tuple[float, float, float], float]:
    """A robot's base position on the table and its yaw: the task's placement moved by the robot file's
    ``mount`` (in the placement's frame)."""
    (x, y), yaw, mount = placement.xy, placement.yaw, placement.definition.mount
    if not any(mount):
        return (x, y, TABLE_TOP_Z), yaw
    cos, sin = math.cos(yaw), math.sin(yaw)
    return (x + cos * mount[0] - sin * mount[1], y + sin * mount[0] + cos * mount[1], TABLE_TOP_Z + mount[2]), yaw


def _positive_int(value: Any, name: str, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TaskError(f"{name}={value!r}: expected a positive integer (e.g. {example})")
    return value


class TabletopEnv(gym.Env):
    """A mimicrec task: one or more arms on a table with the objects, placement and logic its task file
    declares (``config_name``: its folder under ``configs/``); ``robot`` swaps in another arm."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, config_name: str | None = None, task_file: str | None = None,
                 task: dict[str, Any] | None = None, difficulty: str = "D0", control_freq: int | None = None,
                 action_mode: str | None = None, action_scale: dict[str, Any] | None = None,
                 cameras: list[dict[str, Any]] | None = None, renderer: str | None = None,
                 robot_visuals: str | None = None, render_mode: str | None = None, gui: bool = False,
                 solver_iterations: int | None = None, ik: str | None = None, robot: str | None = None,
                 success_hold_steps: int | None = None, floor_collides_with_robots: bool | None = None) -> None:
        self.config = _task_config(config_name, task_file, task, robot)
        self._task_from_config(self.config)
        settings = env_settings(self.config, {
            "control_freq": control_freq, "action_mode": action_mode, "action_scale": action_scale, "ik": ik,
            "renderer": renderer, "cameras": cameras, "robot_visuals": robot_visuals,
            "solver_iterations": solver_iterations, "success_hold_steps": success_hold_steps,
            "floor_collides_with_robots": floor_collides_with_robots})
        self.control_freq = _positive_int(settings["control_freq"], "control_freq", 20)
        if SIM_HZ % self.control_freq:
            raise TaskError(f"control_freq={self.control_freq} must divide {SIM_HZ}; use 10, 20, 24, 30 or 40")
        self.difficulty = self._check_difficulty(difficulty)
        self.randomization = self.config.randomization[difficulty]
        self.substeps = SIM_HZ // self.control_freq
        self.render_mode = render_mode
        self.camera_specs = parse_cameras(settings["cameras"])
        self.renderer_name, self.robot_visuals = settings["renderer"], settings["robot_visuals"]
        self.gui = gui
        self.solver_iterations = settings["solver_iterations"]
        self.success_hold_steps = _positive_int(settings["success_hold_steps"], "success_hold_steps", 5)
        self.floor_collides_with_robots = settings["floor_collides_with_robots"]
        if not isinstance(self.floor_collides_with_robots, bool):
            raise TaskError(f"floor_collides_with_robots={self.floor_collides_with_robots!r}: expected true or false")
        self._success_streak = 0
        self.client = self._connect(gui, self.solver_iterations)
        # before any body exists: pybullet's EGL renderer only sees shapes created after it loads
        self.cameras = CameraRig(self.client, self.camera_specs, self.renderer_name)
        self.plane, self.table = self._build_static_scene()
        self.ik = settings["ik"]
        self.robots = [Robot(self.client, placement.definition, pos, self.robot_visuals, f"robot{i}", self.ik)
                       for i, ((pos, _), placement) in enumerate(zip(self.robot_bases, self.config.scene.robots,
                                                                     strict=True))]
        self.robot = self.robots[0]
        self.bodies = self._load_objects()
        order = list(self.bodies)
        self._object_pairs = [(order.index(a), order.index(b)) for a, b in self.config.observation.object_pairs]
        turns = self.object_symmetries() if self.config.observation.symmetric_near_hand else {}
        self._observed_turns = [(order.index(name), period) for name, period in turns.items()]
        self._exclude_fixed_pairs()
        if not self.floor_collides_with_robots:
            self._keep_robots_off_the_floor()
        self._join_islands()
        self._clean_state = self._save_clean_state()
        self._state_file = self._make_state_file()
        self.action_mode = make_action_mode(settings["action_mode"], settings["action_scale"], self.robot.arm_limits)
        dim = self.action_mode.dim  # each arm's robot and action columns, looked up several times a step
        self._arms = {robot.name: (robot, slice(i * dim, (i + 1) * dim)) for i, robot in enumerate(self.robots)}
        self._eef_names = tuple(self._arms)
        self._kinematics: RobotKinematics | None = None
        self._collision_world: CollisionWorld | None = None
        self.action_space = spaces.Box(-1.0, 1.0, shape=(self.action_mode.dim * len(self.robots),), dtype=np.float32)
        self.observation_space = self._make_observation_space()

    # ----------------------------------------------------------------- construction
    def _task_from_config(self, config: TaskConfig) -> None:
        """The task's objects, robot bases, signals and compiled logic, from its file."""
        self.objects = config.scene.objects
        self.robot_bases = [_robot_base(placement) for placement in config.scene.robots]
        self.subtask_signal_names = config.logic.subtask_signals
        self._flag_checks, self._success_check = compile_task_logic(config)
        self.table_top_z = TABLE_TOP_Z

    def _check_difficulty(self, difficulty: str) -> str:
        if difficulty not in self.randomization_levels():
            known = ", ".join(self.randomization_levels())
            raise TaskError(f"unknown difficulty {difficulty!r} for {self.config.task}; use one of {known}")
        return difficulty

    @staticmethod
    def _connect(gui: bool, solver_iterations: int):
        _positive_int(solver_iterations, "solver_iterations", 20)
        if gui and not os.environ.get("DISPLAY"):
            raise TaskError("the viewer (--gui, --preview, --manual, --device keyboard) needs a display: "
                            "set DISPLAY, or run under `xvfb-run -a`")
        client = connect(gui)
        if gui:  # the viewer's own shortcuts (w: wireframe, g: panels, ...) would fire on teleop keys
            client.configureDebugVisualizer(p.COV_ENABLE_KEYBOARD_SHORTCUTS, 0)
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        # Islands are grouped from the broadphase's pairs, which depend on the world's history; with
        # no early exit every solve runs all its iterations, so grouping cannot change a result.
        client.setPhysicsEngineParameter(deterministicOverlappingPairs=1, solverResidualThreshold=0,
                                         numSolverIterations=solver_iterations)
        client.setGravity(0, 0, -9.81)
        client.setTimeStep(1.0 / SIM_HZ)
        return client

    def _build_static_scene(self) -> tuple[int, int]:
        """An invisible ground plane and a flat-coloured table top (cheap to render).

        The top is pybullet_data's table top (1.5 x 1 x 0.05 m box, friction 1.0, surface at
        ``TABLE_TOP_Z``) without its textured mesh; nothing the robot reaches is below it.
        """
        # Without a visual shape pybullet draws the collision shape: the infinite plane would cost the
        # CPU renderer ~1.2 ms an image (and crashes the EGL plugin). A tiny transparent visual is skipped.
        plane_shape = self.client.createCollisionShape(p.GEOM_PLANE)
        invisible = self.client.createVisualShape(p.GEOM_BOX, halfExtents=[0.01] * 3, rgbaColor=[0, 0, 0, 0])
        plane = self.client.createMultiBody(0, plane_shape, invisible)
        half = [0.75, 0.5, TABLE_HALF_THICKNESS]
        top_shape = self.client.createCollisionShape(p.GEOM_BOX, halfExtents=half)
        top_visual = self.client.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=TABLE_RGBA)
        table = self.client.createMultiBody(0, top_shape, top_visual,
                                            basePosition=[0.5, 0.0, TABLE_TOP_Z - TABLE_HALF_THICKNESS])
        self.client.changeDynamics(table, -1, lateralFriction=1.0)
        return plane, table

    def _exclude_fixed_pairs(self) -> None:
        """Let no two immovable bodies collide (a bin or socket resting on the table, the table on the plane).

        Fixed multibodies still get contact constraints against each other in pybullet: the solver
        would spend time on them every substep and they only add to the contacts' ordering.
        """
        fixed = [self.plane, self.table, *(self.bodies[name] for name, obj in self.objects.items() if obj.immovable)]
        for i, body_a in enumerate(fixed):
            for body_b in fixed[i + 1:]:
                self._never_collide(body_a, body_b)

    def _keep_robots_off_the_floor(self) -> None:
        """Let no robot link collide with the ground plane, which lies a table's height below anything a robot
        reaches. The plane's bounds are infinite, so every link would otherwise stay a broadphase pair with it
        and be tested against it at every substep (~10% of a Stack step's physics, for contacts that never
        occur); objects keep colliding with it (one knocked off the table lands there)."""
        for robot in self.robots:
            self._never_collide(self.plane, robot.body)

    def _never_collide(self, body_a: int, body_b: int) -> None:
        """Leave every link pair of two bodies out of collision detection."""
        for link_a in range(-1, self.client.getNumJoints(body_a)):
            for link_b in range(-1, self.client.getNumJoints(body_b)):
                self.client.setCollisionFilterPair(body_a, body_b, link_a, link_b, 0)

    def _join_islands(self) -> None:
        """Tie every robot into the first one's simulation island with constraints of zero force.

        Bullet solves joint motors in the order of an unstable sort on island ids, and the ids come
        from a union-find over the broadphase's pairs, whose order (and lazily dropped stale pairs)
        depend on the world's history and survive a restore. With motors in two islands (two robots)
        a restored world could solve them in another order than the original run did, and the
        last-bit difference grows (BimanualLift: 2 of 100 continuations drifted). In one island
        every motor's sort key is equal, so their order no longer depends on what ran before.
        Objects carry no motors; what their grouping could change, the solver's fixed iteration
        count (``_connect``) rules out. A point-to-point constraint unites islands; with
        ``maxForce=0`` its impulse is clamped to zero, so it moves nothing.
        """
        anchor = self.robots[0].body
        for robot in self.robots[1:]:  # link 0 moves: a fixed base is in no island
            tie = self.client.createConstraint(anchor, 0, robot.body, 0, p.JOINT_POINT2POINT,
                                               [0, 0, 0], [0, 0, 0], [0, 0, 0])
            self.client.changeConstraint(tie, maxForce=0)

    def _save_clean_state(self) -> int:
        """Snapshot the world as built, objects resting on the table, contacts detected.

        pybullet's restore matches saved contact manifolds to live ones by broadphase id and
        clears the unmatched ones, but only when the snapshot holds at least one manifold; a
        snapshot with resting objects always does, so every reset starts from the same contacts
        whatever the world went through (a snapshot without contacts leaves stale ones behind).
        """
        for i, name in enumerate(self.movable_objects):
            obj, body = self.objects[name], self.bodies[name]
            parked = [0.45 + 0.1 * (i // 3), -0.3 + 0.1 * (i % 3), TABLE_TOP_Z + obj.rest_height]
            self.client.resetBasePositionAndOrientation(body, parked, [0, 0, 0, 1])
        self.client.performCollisionDetection()
        return self.client.saveState()

    def _restore_clean(self) -> None:
        """Return to the world as built, with no trace of what ran before.

        restoreState resets poses, velocities and contact manifolds, but not the broadphase pairs
        and the per-pair collision caches (e.g. GJK's last separating axis), which shift later
        contacts by ~1e-5 m. Moving every body apart makes the broadphase drop those pairs over a
        few collision passes; the restore then recreates them from scratch, in sorted order.
        """
        for i, body in enumerate([*(robot.body for robot in self.robots), *self.bodies.values()]):
            self.client.resetBasePositionAndOrientation(body, [0.0, 0.0, 1000.0 + 10.0 * i], [0, 0, 0, 1])
        for _ in range(PURGE_PASSES):
            self.client.performCollisionDetection()
        self.client.restoreState(self._clean_state)

    def _load_objects(self) -> dict[str, int]:
        bodies = {}
        for i, (name, obj) in enumerate(self.objects.items()):
            start = [0.5, 0.3 + 0.1 * i, TABLE_TOP_Z + 0.2]
            if obj.fixed is not None:
                start = [*obj.fixed, TABLE_TOP_Z + obj.rest_height]
            bodies[name] = build_object(self.client, obj, start)
        return bodies

    @property
    def movable_objects(self) -> list[str]:
        """Names of the objects that are randomized and can be manipulated (not fixed ones)."""
        return [name for name, obj in self.objects.items() if obj.fixed is None]

    @staticmethod
    def _make_state_file() -> str:
        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        handle, path = tempfile.mkstemp(prefix="mimicrec-state-", suffix=".bullet", dir=folder)
        os.close(handle)
        return path

    def _make_observation_space(self) -> spaces.Dict:
        obs = self.observe()
        low_dim = {k: spaces.Box(-np.inf, np.inf, v.shape, np.float32) for k, v in obs.items() if v.dtype == np.float32}
        return spaces.Dict({**low_dim, **observation_spaces(self.camera_specs)})

    # ----------------------------------------------------------------- the task
    def randomization_levels(self) -> tuple[str, ...]:
        """Names of the difficulty levels this task declares in its file."""
        return tuple(self.config.randomization)

    @property
    def instruction(self) -> str:
        """The task's language instruction (``recording.instruction``)."""
        return self.config.recording.instruction

    def _sample_object_poses(self, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Name -> (position ``[3]``, quaternion ``[4]``) of every movable object for a new episode."""
        fixed = {name: self.object_position(name) for name, obj in self.objects.items() if obj.fixed is not None}
        return sample_scene(rng, self.randomization, self.objects, self.movable_objects, fixed, TABLE_TOP_Z)

    def placement_region(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The x and y ranges (m) objects are placed in at this randomization level."""
        return tuple(self.randomization.x), tuple(self.randomization.y)

    def evaluate(self) -> dict[str, bool]:
        """The task's stage flags (in declared order) and ``success`` in the current world, without stepping:
        success is the logic's held for ``success_hold_steps`` consecutive steps with every robot at rest
        (1: the logic's on this one frame, as datasets recorded before the hold existed)."""
        return self._held(self._logic())

    def _held(self, flags: dict[str, bool]) -> dict[str, bool]:
        """``flags`` with ``success`` replaced by the held success (with a hold of more than one step)."""
        if self.success_hold_steps > 1:
            flags["success"] = self._success_streak >= self.success_hold_steps
        return flags

    def _logic(self) -> dict[str, bool]:
        """The flags and the success expression of the task's logic, on this frame."""
        flags: dict[str, bool] = {}
        for name, check in self._flag_checks.items():
            flags[name] = check(self, flags)
        flags["success"] = self._success_check(self, flags)
        return flags

    def _judge_step(self) -> dict[str, bool]:
        """``evaluate`` after a step, counting the steps the logic's success has held at rest."""
        flags = self._logic()
        if self.success_hold_steps > 1:
            held = flags["success"] and self.robots_at_rest()
            self._success_streak = self._success_streak + 1 if held else 0
        return self._held(flags)

    def robots_at_rest(self) -> bool:
        """Whether every joint of every robot moves slower than ``REST_JOINT_SPEED``."""
        return all(abs(state[1]) < REST_JOINT_SPEED for robot in self.robots
                   for state in self.client.getJointStates(robot.body, robot.readout))

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Restore the clean world, home the robot, place objects from ``self.np_random``."""
        super().reset(seed=seed)
        self._restore_clean()
        bases = sample_robot_bases(self.np_random, self.randomization, self.robot_bases)
        for robot, (base_pos, base_quat) in zip(self.robots, bases, strict=True):
            self.client.resetBasePositionAndOrientation(robot.body, base_pos, base_quat)
            robot.reset_home()
        for name, (pos, quat) in self._sample_object_poses(self.np_random).items():
            self.client.resetBasePositionAndOrientation(self.bodies[name], pos, quat)
            self.client.resetBaseVelocity(self.bodies[name], [0, 0, 0], [0, 0, 0])
        self._success_streak = 0
        return self.observe(), self.evaluate()

    def step(self, action: np.ndarray):
        """Apply a normalized action (see ``envs.actions``) for one control period (``substeps`` sim steps)."""
        action = np.asarray(action, dtype=np.float64).clip(-1.0, 1.0)
        targets = []
        for robot, columns in self._arms.values():
            part = action[columns]
            targets.append(self.action_mode.command(self, robot, part))
            robot.command_gripper(part[-1])
        if self.gui:  # the viewer draws once per control step; stepping never waits for its render thread
            self.client.configureDebugVisualizer(p.COV_ENABLE_RENDERING, 0)
        for sub in range(self.substeps):
            if sub in IK_SUBSTEPS:
                for robot, (pose_target, joint_target) in zip(self.robots, targets, strict=True):
                    robot.command_joints(joint_target if pose_target is None else robot.solve_ik(*pose_target))
            self.client.stepSimulation()
        if self.gui:
            self.client.configureDebugVisualizer(p.COV_ENABLE_RENDERING, 1)
        info = self._judge_step()
        reward = float(info["success"])
        return self.observe(), reward, bool(info["success"]), False, info

    @property
    def env_kwargs(self) -> dict[str, Any]:
        """JSON-serializable kwargs that rebuild this env with ``gymnasium.make(id, **env_kwargs)``."""
        return {"difficulty": self.difficulty, "control_freq": self.control_freq,
                "action_mode": self.action_mode.name, "action_scale": dict(self.action_mode.scale),
                "cameras": [vars(spec) for spec in self.camera_specs], "renderer": self.renderer_name,
                "robot_visuals": self.robot_visuals, "solver_iterations": self.solver_iterations, "ik": self.ik,
                "success_hold_steps": self.success_hold_steps,
                "floor_collides_with_robots": self.floor_collides_with_robots,
                "task": task_definition(self.config)}

    @property
    def kinematics(self) -> RobotKinematics:
        """A kinematics-only copy of the first robot (built on first use) for forward kinematics."""
        if self._kinematics is None:
            self._kinematics = RobotKinematics(self.robot.spec)
        return self._kinematics

    def collision_world(self) -> CollisionWorld:
        """A collision-only copy of this scene (built on first use) for planning; ``sync()`` it before a query."""
        if self._collision_world is None:
            objects = {name: (self.objects[name], body) for name, body in self.bodies.items()}
            self._collision_world = CollisionWorld(self.client, self.table, objects, self.robots)
        return self._collision_world

    def held_objects(self, eef_name: str = "robot0") -> tuple[str, ...]:
        """The movable objects that end effector's gripper holds now (closed, every finger touching)."""
        robot = self.robot_of(eef_name)
        return tuple(name for name in self.movable_objects if self.grasped(name, robot))

    def render(self) -> np.ndarray | None:
        """An RGB image ``[H, W, 3]`` uint8 of the scene from the front (tiny renderer)."""
        if self.render_mode != "rgb_array":
            return None
        return self.render_camera(256, 256)

    def render_camera(self, width: int, height: int, name: str = "agentview") -> np.ndarray:
        """Render camera ``name`` at ``width`` x ``height`` as uint8 RGB (whether or not it is observed)."""
        spec = CameraSpec(name, width, height)
        return self.cameras.render(spec, self.robot.body, self.robot.camera_link, TABLE_TOP_Z)[f"{name}_image"]

    def close(self) -> None:
        """Disconnect from pybullet and remove the state scratch file."""
        if getattr(self, "_kinematics", None) is not None:
            self._kinematics.close()
            self._kinematics = None
        if getattr(self, "_collision_world", None) is not None:
            self._collision_world.close()
            self._collision_world = None
        if getattr(self, "client", None) is not None:
            if self.client.isConnected():  # not after the person closed the viewer
                self.client.disconnect()
            self.client = None
        if getattr(self, "_state_file", None) and os.path.exists(self._state_file):
            os.unlink(self._state_file)

    @property
    def viewer_open(self) -> bool:
        """Whether the simulation is still connected (False once a person closed the viewer)."""
        return self.client is not None and self.client.isConnected()

    def show_text_lines(self, lines: list[str]) -> None:
        """Draw ``lines`` in the viewer (top left of the table); nothing without one."""
        if not self.gui:
            return
        for i, line in enumerate(lines):
            self.client.addUserDebugText(line, [0.1, 0.55, 1.25 - 0.045 * i], textColorRGB=[0, 0, 0], textSize=1.1)

    # ----------------------------------------------------------------- observations
    def observe(self) -> dict[str, np.ndarray]:
        """The observation of the current state (what ``reset`` and ``step`` return), without stepping."""
        robots = {}
        for robot in self.robots:  # one query per reading (they are a good part of a step's own cost)
            (pos, quat), qpos = robot.eef_state(), robot.joint_positions()
            dof = robot.arm_dof
            robots.update({f"{robot.name}_joint_pos": qpos[:dof], f"{robot.name}_eef_pos": pos,
                           f"{robot.name}_eef_quat": quat, f"{robot.name}_gripper_qpos": qpos[dof:]})
        eef_x, eef_y, eef_z = robots[f"{self.robot.name}_eef_pos"]
        poses = [self.client.getBasePositionAndOrientation(b) for b in self.bodies.values()]
        if self._observed_turns:
            poses = turned_near_heading(poses, self._observed_turns, robots[f"{self.robot.name}_eef_quat"])
        objects = [v for pos, quat in poses for v in (*pos, *quat)]
        objects += [v for (x, y, z), _ in poses for v in (x - eef_x, y - eef_y, z - eef_z)]
        objects += [poses[a][0][k] - poses[b][0][k] for a, b in self._object_pairs for k in range(3)]
        if self.config.observation.heading_to_hand:
            objects += headings_to(poses, robots[f"{self.robot.name}_eef_quat"])
        obs = {k: np.array(v, dtype=np.float32) for k, v in {"object": objects, **robots}.items()}
        return {**obs, **self.cameras.observe(self.robot.body, self.robot.camera_link, TABLE_TOP_Z)}

    # ----------------------------------------------------------------- exact state
    def get_state(self) -> np.ndarray:
        """The exact simulator state as bytes ``[S]`` uint8 (pybullet's serialized world)."""
        self.client.saveBullet(self._state_file)
        with open(self._state_file, "rb") as f:
            blob = f.read()
        grippers = np.asarray([robot.gripper_command for robot in self.robots], dtype=np.float64)
        tail = grippers.tobytes() + np.int64(self._success_streak).tobytes() + STATE_TAIL_MARK
        return np.frombuffer(blob + tail, dtype=np.uint8).copy()

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state from ``get_state`` bit-identically (same scene, any history)."""
        blob, streak = np.asarray(state, dtype=np.uint8).tobytes(), 0
        if blob.endswith(STATE_TAIL_MARK):  # states recorded before the success streak end in the grippers
            streak = int(np.frombuffer(blob[-16:-8], dtype=np.int64)[0])
            blob = blob[:-16]
        tail = 8 * len(self.robots)
        with open(self._state_file, "wb") as f:
            f.write(blob[:-tail])
        # pybullet caches files by name: without this the second restore would reread the first file.
        self.client.setPhysicsEngineParameter(enableFileCaching=0)
        # Restoring resyncs contact manifolds only if the file holds some (see _save_clean_state);
        # going through the clean state first makes the result independent of the world's history.
        self._restore_clean()
        self.client.restoreState(fileName=self._state_file)
        self.client.setPhysicsEngineParameter(enableFileCaching=1)
        for robot, command in zip(self.robots, np.frombuffer(blob[-tail:], dtype=np.float64), strict=True):
            robot.command_gripper(float(command))
        self._success_streak = streak

    def get_flat_state(self) -> np.ndarray:
        """Kinematic state ``[D]``: per object pose+velocity, robot joint positions+velocities."""
        values: list[float] = []  # one array built at the end (stored every step)
        for body in self.bodies.values():
            pos, quat = self.client.getBasePositionAndOrientation(body)
            lin, ang = self.client.getBaseVelocity(body)
            values += (*pos, *quat, *lin, *ang)
        for robot in self.robots:
            joints = self.client.getJointStates(robot.body, robot.all_joints)
            values += [s[0] for s in joints]
            values += [s[1] for s in joints]
        return np.array(values, dtype=np.float64)

    def show_flat_state(self, flat: np.ndarray) -> None:
        """Put objects and joints at the poses of a ``get_flat_state`` vector (for viewing: not an exact restore)."""
        offset = 0
        for body in self.bodies.values():
            self.client.resetBasePositionAndOrientation(body, flat[offset:offset + 3], flat[offset + 3:offset + 7])
            offset += 13
        for robot in self.robots:
            num_joints = self.client.getNumJoints(robot.body)
            for joint in range(num_joints):
                self.client.resetJointState(robot.body, joint, float(flat[offset + joint]))
            offset += 2 * num_joints

    # ----------------------------------------------------------------- object queries
    def object_pos_quat(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """World position ``[3]`` and quaternion ``[4]`` of object ``name``."""
        pos, quat = self.client.getBasePositionAndOrientation(self.bodies[name])
        return np.asarray(pos), np.asarray(quat)

    def object_position(self, name: str) -> tuple[float, float, float]:
        """World position of object ``name`` as plain floats (cheaper than arrays for task checks)."""
        return self.client.getBasePositionAndOrientation(self.bodies[name])[0]

    def object_at_rest(self, name: str) -> bool:
        """Whether the object's linear and angular speeds are below the rest thresholds."""
        lin, ang = self.client.getBaseVelocity(self.bodies[name])
        return math.hypot(*lin) < REST_LIN_SPEED and math.hypot(*ang) < REST_ANG_SPEED

    def in_contact(self, name_a: str, name_b: str) -> bool:
        """Whether two objects touch."""
        return len(self.client.getContactPoints(self.bodies[name_a], self.bodies[name_b])) > 0

    @property
    def gripper_command(self) -> float:
        """The first robot's last gripper command (-1 open, +1 closed)."""
        return self.robot.gripper_command

    def grasped(self, name: str, robot: Robot | None = None) -> bool:
        """Every contact link (finger) of ``robot`` (default: any robot) touches the object, its gripper
        commanded closed."""
        body = self.bodies[name]
        return any(arm.gripper_command > 0.0 and all(self.client.getContactPoints(arm.body, body, linkIndexA=finger)
                                                     for finger in arm.contact_links)
                   for arm in ([robot] if robot is not None else self.robots))

    def robot_touches(self, name: str, robot: Robot | None = None) -> bool:
        """Whether any link of ``robot`` (default: any robot) touches the object."""
        return any(len(self.client.getContactPoints(r.body, self.bodies[name])) > 0
                   for r in ([robot] if robot is not None else self.robots))

    def object_half_height(self, name: str) -> float:
        """Height of the object's centre above its bottom when upright (its rest height on the table)."""
        return self.objects[name].rest_height

    def container_interior(self, name: str) -> tuple[tuple[float, float], float]:
        """A container's inner half widths (x, y) and its rim's height above its origin."""
        container = self.objects[name].container
        if container is None:
            raise TaskError(f"{self.config.path}: object {name!r} declares no container interior; add one")
        return container.inner_half, container.rim_height

    # ----------------------------------------------------------------- Mimic interface
    @property
    def eef_names(self) -> tuple[str, ...]:
        """One end effector per robot: ``robot0``, ``robot1``, ..."""
        return self._eef_names

    def robot_of(self, eef_name: str) -> Robot:
        """The robot whose end effector is ``eef_name`` (``robot0``, ``robot1``, ...)."""
        return self._arm(eef_name)[0]

    def action_slice(self, eef_name: str) -> slice:
        """Where the actions of one end effector's arm sit in the full action."""
        return self._arm(eef_name)[1]

    def _arm(self, eef_name: str) -> tuple[Robot, slice]:
        arm = self._arms.get(eef_name)
        if arm is None:
            raise TaskError(f"unknown end effector {eef_name!r}; this task has {', '.join(self.eef_names)}")
        return arm

    def combine_arm_actions(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """The full action from one arm action per end effector (every arm must be given)."""
        return np.concatenate([np.asarray(parts[name], dtype=np.float32) for name in self.eef_names])

    def get_robot_eef_pose(self, eef_name: str = "robot0") -> np.ndarray:
        """World pose ``[4, 4]`` of an end effector (the frame actions are expressed in)."""
        return self.robot_of(eef_name).eef_pose()

    def reach_error(self, pose: np.ndarray, eef_name: str = "robot0") -> float:
        """How far (m) iterated IK from the arm's current joints leaves its grasp frame from ``pose`` ``[4, 4]``
        (on a kinematics-only copy: the world is not touched)."""
        robot = self.robot_of(eef_name)
        base_pos, base_quat = self.client.getBasePositionAndOrientation(robot.body)
        return self.kinematics.reach_error(pose[:3, 3], mat_to_quat(pose[:3, :3]), robot.arm_qpos(),
                                           base_pos, base_quat)

    def target_eef_pose_to_action(self, target_eef_pose: np.ndarray, gripper_action: np.ndarray,
                                  eef_name: str = "robot0") -> np.ndarray:
        """That arm's action (float32, in [-1, 1]) driving its end effector to ``target_eef_pose``;
        the full action of a single-arm task (see ``combine_arm_actions`` for several arms)."""
        robot = self.robot_of(eef_name)
        return self.action_mode.action_for(self, robot, target_eef_pose, gripper_action).astype(np.float32)

    def action_to_target_eef_pose(self, action: np.ndarray, eef_name: str = "robot0",
                                  eef_pose: np.ndarray | None = None) -> np.ndarray:
        """Pose ``[4, 4]`` that the full ``action`` commands to one end effector in the current state;
        ``eef_pose``: that end effector's pose now, where the caller has just read it."""
        robot, columns = self._arm(eef_name)
        return self.action_mode.target_pose(self, robot, np.asarray(action, dtype=np.float64)[columns], eef_pose)

    def actions_to_gripper_actions(self, actions: np.ndarray, eef_name: str = "robot0") -> np.ndarray:
        """Gripper part ``[..., 1]`` of one end effector in full actions ``[..., A]``."""
        return np.asarray(actions)[..., self.action_slice(eef_name)][..., -1:]

    def get_object_poses(self) -> dict[str, np.ndarray]:
        """Name -> world pose ``[4, 4]`` of every task object."""
        return {name: pose_from_pos_quat(*self.client.getBasePositionAndOrientation(body))
                for name, body in self.bodies.items()}

    def observes_symmetric_near_hand(self) -> bool:
        """Whether the ``object`` observation shows a symmetric object at its turn nearest the first hand."""
        return self.config.observation.symmetric_near_hand

    def object_symmetries(self) -> dict[str, float]:
        """Name -> turn (radians) about its own z axis after which an object looks the same, for every object
        whose task file declares a ``symmetry``."""
        return {name: math.radians(obj.symmetry) for name, obj in self.objects.items() if obj.symmetry}

    def get_subtask_term_signals(self, flags: Mapping[str, Any] | None = None) -> dict[str, int]:
        """Name -> 0/1 for each subtask termination signal (the task's stage flags).

        ``flags``: the ``info`` of the step that led to the current state, which holds the same flags
        (saves evaluating the task again); None evaluates now.
        """
        flags = self.evaluate() if flags is None else flags
        return {name: int(flags[name]) for name in self.subtask_signal_names}
