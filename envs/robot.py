"""One arm with its gripper in a pybullet client, built from a robot file (``envs.robot_config``):
loading, closed-loop IK control of the grasp frame, the gripper, readings; and a kinematics-only copy."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pybullet as p

from envs.errors import TaskError
from envs.pose import pose_from_pos_quat
from envs.robot_config import GraspFrame, RobotSpec

IK_SOLVERS = ("dls", "nullspace")
HULL_VERSION = 1  # in the names of convex hull assets: raise it when convex_hull_obj's output changes
REACH_ITERATIONS = 100  # the kinematics copy's IK iterations per round when measuring reachability


@dataclass(frozen=True)
class JointLimits:
    """Joint limits of the movable joints, in the order IK expects (pybullet's order of the model's joints)."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]

    @property
    def ranges(self) -> tuple[float, ...]:
        """Upper minus lower, per joint."""
        return tuple(u - lo for lo, u in zip(self.lower, self.upper, strict=True))


def load_model(client, spec: RobotSpec, visuals: str = "stock", base_pos=(0.0, 0.0, 0.0)) -> int:
    """Load the robot's model (URDF or SDF) into ``client`` at ``base_pos`` with a fixed base; its body id."""
    if visuals not in ("simple", "stock"):
        raise TaskError(f"unknown robot_visuals {visuals!r}; use 'simple' or 'stock'")
    if spec.model.endswith(".sdf"):
        body = client.loadSDF(spec.model)[0]
        if client.getDynamicsInfo(body, -1)[0] != 0.0:
            raise TaskError(f"{spec.path}: the SDF model's base has mass; give it <static> or mass 0 to fix it")
        client.resetBasePositionAndOrientation(body, base_pos, (0.0, 0.0, 0.0, 1.0))
        return body
    path = simple_visuals_model(spec) if visuals == "simple" and spec.simple_visuals else spec.model
    return client.loadURDF(path, base_pos, useFixedBase=True, flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES)


def simple_visuals_model(spec: RobotSpec) -> str:
    """Path of the model with the robot file's ``simple_visuals`` text substitutions applied (written once).

    Each key is replaced by its value, a path relative to the model's folder; ``hull(<mesh>)`` stands
    for the convex hull of that mesh. The Panda draws its collision meshes this way: the same robot to
    the physics, ~6x cheaper to render on the CPU.
    """
    import pybullet_data

    model = spec.model if os.path.isabs(spec.model) else os.path.join(pybullet_data.getDataPath(), spec.model)
    model_folder = os.path.dirname(model)
    folder = os.path.join(tempfile.gettempdir(), "mimicrec-assets")
    os.makedirs(folder, exist_ok=True)
    with open(model) as f:
        text = f.read()
    for old, new in spec.simple_visuals.items():
        if new.startswith("hull(") and new.endswith(")"):
            new = hull_asset(folder, os.path.join(model_folder, new[5:-1]))
        else:
            new = os.path.join(model_folder, new)
        text = text.replace(old, new)
    return write_asset(folder, f"{spec.name}_simple.urdf", text)


def hull_asset(folder: str, mesh: str) -> str:
    """Path of the convex hull OBJ of ``mesh`` in ``folder``, named by the mesh's bytes: computed (and scipy
    imported, ~0.3 s) only by the first process that needs it, not at every env's start."""
    with open(mesh, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()[:12]
    stem = os.path.splitext(os.path.basename(mesh))[0]
    path = os.path.join(folder, f"{stem}_{digest}_hull{HULL_VERSION}.obj")
    if not os.path.exists(path):
        _write_atomically(path, convex_hull_obj(mesh))
    return path


def write_asset(folder: str, name: str, text: str) -> str:
    """Write ``text`` once to ``folder/<stem>_<hash><ext>`` (atomically: workers may race); its path."""
    stem, ext = os.path.splitext(name)
    path = os.path.join(folder, f"{stem}_{hashlib.sha1(text.encode()).hexdigest()[:12]}{ext}")
    if not os.path.exists(path):
        _write_atomically(path, text)
    return path


def _write_atomically(path: str, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=os.path.splitext(path)[1])
    with os.fdopen(handle, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def convex_hull_obj(mesh_path: str) -> str:
    """OBJ text of the convex hull of a mesh's vertices, faces wound outwards (fewer triangles to draw)."""
    from scipy.spatial import ConvexHull

    with open(mesh_path) as f:
        vertices = np.array([[float(x) for x in line.split()[1:4]] for line in f if line.startswith("v ")])
    hull = ConvexHull(vertices)
    centre = vertices[hull.vertices].mean(axis=0)
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in vertices]
    for a, b, c in hull.simplices:
        normal = np.cross(vertices[b] - vertices[a], vertices[c] - vertices[a])
        if normal @ (vertices[a] - centre) < 0:
            b, c = c, b
        lines.append(f"f {a + 1} {b + 1} {c + 1}")
    return "\n".join(lines) + "\n"


class ModelIndex:
    """Joint and link indices of a loaded model by name, and the grasp frame's fixed offset."""

    def __init__(self, client, body: int, spec: RobotSpec) -> None:
        infos = [client.getJointInfo(body, j) for j in range(client.getNumJoints(body))]
        self.joints = {info[1].decode(): info[0] for info in infos}
        self.links = {info[12].decode(): info[0] for info in infos}
        self.movable = tuple(info[0] for info in infos if info[2] != p.JOINT_FIXED)
        self.limits = JointLimits(tuple(infos[j][8] for j in self.movable), tuple(infos[j][9] for j in self.movable))
        self.spec = spec
        self.arm = self.joint_ids(spec.arm_joints, "arm_joints")
        self.arm_in_ik = np.asarray([self.movable.index(j) for j in self.arm])
        self.grasp_link = self.link_id(spec.grasp_frame.link, "grasp_frame.link")
        self.offset, self.offset_inverse = grasp_offset(spec.grasp_frame)

    @property
    def arm_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper limits ``[arm_dof]`` of the arm joints."""
        lower, upper = np.asarray(self.limits.lower), np.asarray(self.limits.upper)
        return lower[self.arm_in_ik], upper[self.arm_in_ik]

    def ik_options(self, solver: str) -> dict:
        """Keyword arguments of ``calculateInverseKinematics`` for the robot file's IK settings and ``solver``
        (``dls`` or ``nullspace``)."""
        ik = self.spec.ik
        options = {"maxNumIterations": ik.iterations, "residualThreshold": ik.residual}
        if solver == "dls":
            return {**options, "jointDamping": [ik.damping] * len(self.limits.lower)}
        return {**options, "lowerLimits": self.limits.lower, "upperLimits": self.limits.upper,
                "jointRanges": self.limits.ranges}

    def joint_ids(self, names: tuple[str, ...], key: str) -> tuple[int, ...]:
        """Indices of named joints; an unknown name is an error listing the model's joints."""
        unknown = [name for name in names if name not in self.joints]
        if unknown:
            raise TaskError(f"{self.spec.path}: {key} names {', '.join(unknown)}, not joints of {self.spec.model}; "
                            f"its joints: {', '.join(self.joints)}")
        return tuple(self.joints[name] for name in names)

    def link_id(self, name: str, key: str) -> int:
        """Index of a named link; an unknown name is an error listing the model's links."""
        if name not in self.links:
            raise TaskError(f"{self.spec.path}: {key} {name!r} is not a link of {self.spec.model}; "
                            f"its links: {', '.join(self.links)}")
        return self.links[name]


def grasp_offset(frame: GraspFrame) -> tuple[tuple | None, tuple | None]:
    """The grasp frame's (position, quaternion) in its link's frame and the inverse; None when it is the link's."""
    if frame.is_link_frame:
        return None, None
    offset = (tuple(frame.offset), p.getQuaternionFromEuler(frame.rpy))
    return offset, p.invertTransform(*offset)


def compose(pose: tuple, offset: tuple | None) -> tuple:
    """``pose`` (position, quaternion) followed by ``offset``; ``pose`` itself when there is none."""
    return pose if offset is None else p.multiplyTransforms(pose[0], pose[1], offset[0], offset[1])


def grasp_frame_state(client, body: int, index: ModelIndex) -> tuple:
    """World (position, quaternion) of a loaded model's grasp frame: its link's frame and the fixed offset."""
    state = client.getLinkState(body, index.grasp_link, computeForwardKinematics=1)
    return compose((state[4], state[5]), index.offset)


class Robot:
    """One arm in a pybullet client, its grasp frame driven by joint position targets from IK."""

    def __init__(self, client, spec: RobotSpec, base_pos: tuple[float, float, float], visuals: str = "simple",
                 name: str = "robot0", ik: str = "dls") -> None:
        if ik not in IK_SOLVERS:
            raise TaskError(f"unknown ik {ik!r}; use one of {', '.join(IK_SOLVERS)}")
        self.client, self.spec, self.name, self.ik = client, spec, name, ik
        self.gripper_command = -1.0
        self.body = load_model(client, spec, visuals, base_pos)
        self.index = index = ModelIndex(client, self.body, spec)
        gripper = spec.gripper
        self.gripper_joints = index.joint_ids(gripper.joints, "gripper.joints")
        self.contact_links = tuple(index.link_id(n, "gripper.contact_links") for n in gripper.contact_links)
        self.held_joints = index.joint_ids(tuple(spec.held_joints), "held_joints")
        self.camera_link = index.link_id(spec.camera_link, "camera_link")
        self.passive = self._couple_joints()
        for link in (index.link_id(n, "gripper.friction_links") for n in gripper.friction_links):
            client.changeDynamics(self.body, link, lateralFriction=gripper.friction)
        if gripper.joint_damping:
            for joint in self.gripper_joints:
                client.changeDynamics(self.body, joint, jointDamping=gripper.joint_damping)
        self.readout = (*index.arm, *self.gripper_joints)
        self.all_joints = tuple(range(client.getNumJoints(self.body)))  # every joint, as the flat state stores them
        self.limits = index.limits
        self.arm_limits = index.arm_limits
        self._ik_options = index.ik_options(ik)
        self.reset_home()

    @property
    def arm_dof(self) -> int:
        """Number of arm joints (what ``joint_pos`` actions and ``<name>_joint_pos`` hold)."""
        return len(self.index.arm)

    def _couple_joints(self) -> dict[int, tuple[int, float]]:
        """Gear constraints of the gripper's couplings; the passive joints -> (joint followed, multiplier)."""
        passive = {}
        for coupling in self.spec.gripper.couplings:
            joint, leader = self.index.joint_ids((coupling.joint, coupling.follows), "gripper.couplings")
            gear = self.client.createConstraint(self.body, leader, self.body, joint, p.JOINT_GEAR, [1, 0, 0],
                                                [0, 0, 0], [0, 0, 0])
            self.client.changeConstraint(gear, gearRatio=-coupling.multiplier, erp=coupling.erp,
                                         maxForce=coupling.max_force)
            if joint not in self.gripper_joints:
                passive[joint] = (leader, coupling.multiplier)
        if passive:  # pybullet's default velocity motors would hold the linkage still
            self.client.setJointMotorControlArray(self.body, list(passive), p.VELOCITY_CONTROL,
                                                  targetVelocities=[0.0] * len(passive), forces=[0.0] * len(passive))
        return passive

    def reset_home(self) -> None:
        """Put the arm at its home configuration with the gripper open and motors holding it."""
        for joint, q in zip(self.index.arm, self.spec.home, strict=True):
            self.client.resetJointState(self.body, joint, q)
        for joint, q in zip(self.gripper_joints, self.spec.gripper.open, strict=True):
            self.client.resetJointState(self.body, joint, q)
        opened = dict(zip(self.gripper_joints, self.spec.gripper.open, strict=True))
        for joint, (leader, multiplier) in self.passive.items():
            self.client.resetJointState(self.body, joint, multiplier * opened.get(leader, 0.0))
        for joint, q in zip(self.held_joints, self.spec.held_joints.values(), strict=True):
            self.client.resetJointState(self.body, joint, q)
        if self.held_joints:
            self.client.setJointMotorControlArray(
                self.body, self.held_joints, p.POSITION_CONTROL, targetPositions=list(self.spec.held_joints.values()),
                forces=[self.spec.held_force] * len(self.held_joints))
        self.command_joints(np.asarray(self.spec.home))
        self.command_gripper(-1.0)

    def joint_positions(self) -> list[float]:
        """Positions of the arm joints then the gripper joints, in one query."""
        return [s[0] for s in self.client.getJointStates(self.body, self.readout)]

    def arm_qpos(self) -> np.ndarray:
        """Arm joint positions ``[arm_dof]``."""
        return np.array(self.joint_positions()[:self.arm_dof])

    def eef_state(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """World position (3 floats) and quaternion (4 floats, x, y, z, w) of the grasp frame."""
        return grasp_frame_state(self.client, self.body, self.index)

    def eef_pos_quat(self) -> tuple[np.ndarray, np.ndarray]:
        """World position ``[3]`` and quaternion ``[4]`` (x, y, z, w) of the grasp frame."""
        pos, quat = self.eef_state()
        return np.asarray(pos), np.asarray(quat)

    def eef_pose(self) -> np.ndarray:
        """World pose ``[4, 4]`` of the grasp frame."""
        return pose_from_pos_quat(*self.eef_state())

    def solve_ik(self, pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """Arm joint targets ``[arm_dof]`` reaching ``pos``/``quat``, iterated from the current angles.

        ``dls`` (default): damped least squares, iterated until the grasp frame is within the robot
        file's ``ik.residual`` of the target (sub-millimetre). ``nullspace``: pybullet's null-space
        solver with the joint limits and the current angles as rest pose, which stops 0.2-2.5 mm short
        after its 20 iterations at ~3x the cost (what datasets without an ``ik`` env kwarg were recorded with).
        """
        options = self._ik_options
        if self.ik == "nullspace":
            rest = [s[0] for s in self.client.getJointStates(self.body, self.index.movable)]
            options = {**options, "restPoses": rest}
        pos, quat = compose((pos, quat), self.index.offset_inverse)
        sol = self.client.calculateInverseKinematics(self.body, self.index.grasp_link, pos, quat, **options)
        return np.asarray(sol)[self.index.arm_in_ik]

    def command_joints(self, qpos: np.ndarray) -> None:
        """Set arm position-control targets ``[arm_dof]``."""
        self.client.setJointMotorControlArray(
            self.body, self.index.arm, p.POSITION_CONTROL, targetPositions=list(qpos),
            forces=self.spec.arm_forces, positionGains=[self.spec.position_gain] * self.arm_dof,
        )

    def command_gripper(self, command: float) -> None:
        """Gripper command in [-1, 1]: -1 fully open, +1 fully closed (linear in between)."""
        self.gripper_command = min(max(float(command), -1.0), 1.0)
        gripper = self.spec.gripper
        targets = [closed + (opened - closed) * (1.0 - self.gripper_command) / 2.0
                   for opened, closed in zip(gripper.open, gripper.closed, strict=True)]
        self.client.setJointMotorControlArray(
            self.body, self.gripper_joints, p.POSITION_CONTROL, targetPositions=targets,
            forces=[gripper.force] * len(targets),
        )


class RobotKinematics:
    """A kinematics-only copy of a robot in its own pybullet client: forward kinematics without touching the world."""

    def __init__(self, spec: RobotSpec) -> None:
        import pybullet_data

        from envs.bullet import connect

        self.client = connect()
        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.body = load_model(self.client, spec)
        self.index = ModelIndex(self.client, self.body, spec)

    def eef_pose(self, arm_qpos: np.ndarray, base_pos=(0.0, 0.0, 0.0), base_quat=(0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
        """World pose ``[4, 4]`` of the grasp frame for arm joint angles ``[arm_dof]`` and a base pose."""
        self.client.resetBasePositionAndOrientation(self.body, base_pos, base_quat)
        for joint, q in zip(self.index.arm, arm_qpos, strict=True):
            self.client.resetJointState(self.body, joint, float(q))
        pos, quat = grasp_frame_state(self.client, self.body, self.index)
        return pose_from_pos_quat(np.asarray(pos), np.asarray(quat))

    def reach_error(self, pos: np.ndarray, quat: np.ndarray, start_qpos: np.ndarray, base_pos=(0.0, 0.0, 0.0),
                    base_quat=(0.0, 0.0, 0.0, 1.0), rounds: int = 8) -> float:
        """How far (m) the grasp frame stays from ``pos`` after iterated IK from ``start_qpos`` ``[arm_dof]``."""
        qpos = np.asarray(start_qpos, dtype=float)
        link_pos, link_quat = compose((pos, quat), self.index.offset_inverse)
        error = float("inf")
        for _ in range(rounds):
            error = float(np.linalg.norm(self.eef_pose(qpos, base_pos, base_quat)[:3, 3] - pos))
            if error < 1e-3:
                break
            sol = self.client.calculateInverseKinematics(self.body, self.index.grasp_link, link_pos, link_quat,
                                                         maxNumIterations=REACH_ITERATIONS, residualThreshold=1e-5)
            qpos = np.asarray(sol)[self.index.arm_in_ik]
        return error

    def close(self) -> None:
        """Disconnect the kinematics client."""
        self.client.disconnect()
