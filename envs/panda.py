"""The Franka Panda from ``pybullet_data``: loading, closed-loop IK control, gripper, readings."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass

import numpy as np
import pybullet as p

from envs.errors import TaskError
from envs.pose import pose_from_pos_quat

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
MOVABLE_JOINTS = (*ARM_JOINTS, *FINGER_JOINTS)  # the joints IK solves for, in its order
GRASP_LINK = 11  # panda_grasptarget: between the fingertips, 0.105 m below the hand
HOME_QPOS = (0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785)
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
FINGER_OPEN = 0.04  # metres per finger
FINGER_FORCE = 20.0
IK_ITERATIONS = 20
IK_RESIDUAL = 1e-5  # m: IK stops iterating once the grasp frame is this close to the target
IK_DAMPING = 0.01  # damped least squares' damping per joint (``dls``): converges in 3-10 iterations
IK_SOLVERS = ("dls", "nullspace")
POSITION_GAIN = 0.3  # pybullet's default 0.1 lags ~6 mm per control step; 0.3 tracks to <1 mm


@dataclass(frozen=True)
class PandaLimits:
    """Joint limits of the movable joints (7 arm + 2 fingers), in the order IK expects."""

    lower: tuple[float, ...]
    upper: tuple[float, ...]

    @property
    def ranges(self) -> tuple[float, ...]:
        """Upper minus lower, per joint."""
        return tuple(u - lo for lo, u in zip(self.lower, self.upper, strict=True))


def panda_urdf(visuals: str) -> str:
    """Path of the Panda URDF: ``stock`` (pybullet_data's, detailed meshes) or ``simple``.

    ``simple`` draws the collision meshes as visuals (link 6: their convex hull, 516 instead of 1,308
    triangles): the same robot to the physics, ~6x cheaper to render on the CPU. The files are
    written once into a temp folder.
    """
    if visuals == "stock":
        return "franka_panda/panda.urdf"
    if visuals != "simple":
        raise TaskError(f"unknown robot_visuals {visuals!r}; use 'simple' or 'stock'")
    import pybullet_data

    meshes = os.path.join(pybullet_data.getDataPath(), "franka_panda", "meshes", "collision") + "/"
    folder = os.path.join(tempfile.gettempdir(), "mimicrec-assets")
    os.makedirs(folder, exist_ok=True)
    hull = write_asset(folder, "panda_link6_hull.obj", convex_hull_obj(meshes + "link6.obj"))
    with open(os.path.join(pybullet_data.getDataPath(), "franka_panda", "panda.urdf")) as f:
        text = f.read().replace("package://meshes/visual/link6.obj", hull)
    text = text.replace("package://meshes/visual/", meshes).replace("package://meshes/collision/", meshes)
    return write_asset(folder, "panda_simple.urdf", text)


def write_asset(folder: str, name: str, text: str) -> str:
    """Write ``text`` once to ``folder/<stem>_<hash><ext>`` (atomically: workers may race); its path."""
    stem, ext = os.path.splitext(name)
    path = os.path.join(folder, f"{stem}_{hashlib.sha1(text.encode()).hexdigest()[:12]}{ext}")
    if not os.path.exists(path):
        handle, tmp = tempfile.mkstemp(dir=folder, suffix=ext)
        with os.fdopen(handle, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path


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


class Panda:
    """One Panda arm in a pybullet client, driven by joint position targets from IK."""

    def __init__(self, client, base_pos: tuple[float, float, float], visuals: str = "simple",
                 name: str = "robot0", ik: str = "dls") -> None:
        if ik not in IK_SOLVERS:
            raise TaskError(f"unknown ik {ik!r}; use one of {', '.join(IK_SOLVERS)}")
        self.client = client
        self.name = name
        self.ik = ik
        self.gripper_command = -1.0
        self.body = client.loadURDF(
            panda_urdf(visuals), base_pos, useFixedBase=True, flags=p.URDF_ENABLE_CACHED_GRAPHICS_SHAPES
        )
        gear = client.createConstraint(
            self.body, 9, self.body, 10, p.JOINT_GEAR, [1, 0, 0], [0, 0, 0], [0, 0, 0]
        )
        client.changeConstraint(gear, gearRatio=-1, erp=0.1, maxForce=50)
        for link in (*FINGER_JOINTS, GRASP_LINK):
            client.changeDynamics(self.body, link, lateralFriction=1.0)
        infos = [client.getJointInfo(self.body, j) for j in MOVABLE_JOINTS]
        self.limits = PandaLimits(tuple(i[8] for i in infos), tuple(i[9] for i in infos))
        self._ik_options = self._make_ik_options()
        self.reset_home()

    def _make_ik_options(self) -> dict:
        """Keyword arguments of ``calculateInverseKinematics`` for this arm's IK solver."""
        options = {"maxNumIterations": IK_ITERATIONS, "residualThreshold": IK_RESIDUAL}
        if self.ik == "dls":
            return {**options, "jointDamping": [IK_DAMPING] * len(self.limits.lower)}
        return {**options, "lowerLimits": self.limits.lower, "upperLimits": self.limits.upper,
                "jointRanges": self.limits.ranges}

    def reset_home(self) -> None:
        """Put the arm at its home configuration with the gripper open and motors holding it."""
        for joint, q in zip(ARM_JOINTS, HOME_QPOS, strict=True):
            self.client.resetJointState(self.body, joint, q)
        for joint in FINGER_JOINTS:
            self.client.resetJointState(self.body, joint, FINGER_OPEN)
        self.command_joints(np.asarray(HOME_QPOS))
        self.command_gripper(-1.0)

    def joint_positions(self) -> list[float]:
        """Positions of the 7 arm joints then the 2 fingers (0 closed, 0.04 open), in one query."""
        return [s[0] for s in self.client.getJointStates(self.body, MOVABLE_JOINTS)]

    def arm_qpos(self) -> np.ndarray:
        """Arm joint positions ``[7]``."""
        return np.array(self.joint_positions()[:7])

    def eef_state(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """World position (3 floats) and quaternion (4 floats, x, y, z, w) of the grasp frame."""
        state = self.client.getLinkState(self.body, GRASP_LINK, computeForwardKinematics=1)
        return state[4], state[5]

    def eef_pos_quat(self) -> tuple[np.ndarray, np.ndarray]:
        """World position ``[3]`` and quaternion ``[4]`` (x, y, z, w) of the grasp frame."""
        pos, quat = self.eef_state()
        return np.asarray(pos), np.asarray(quat)

    def eef_pose(self) -> np.ndarray:
        """World pose ``[4, 4]`` of the grasp frame."""
        return pose_from_pos_quat(*self.eef_pos_quat())

    def solve_ik(self, pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
        """Arm joint targets ``[7]`` reaching ``pos``/``quat``, iterated from the current angles.

        ``dls`` (default): damped least squares, iterated until the grasp frame is within
        ``IK_RESIDUAL`` of the target (sub-millimetre). ``nullspace``: pybullet's null-space solver
        with the joint limits and the current angles as rest pose, which stops 0.2-2.5 mm short
        after its 20 iterations at ~3x the cost (what datasets without an ``ik`` env kwarg were recorded with).
        """
        options = self._ik_options
        if self.ik == "nullspace":
            options = {**options, "restPoses": self.joint_positions()}
        sol = self.client.calculateInverseKinematics(self.body, GRASP_LINK, pos, quat, **options)
        return np.asarray(sol[:7])

    def command_joints(self, qpos: np.ndarray) -> None:
        """Set arm position-control targets ``[7]``."""
        self.client.setJointMotorControlArray(
            self.body, ARM_JOINTS, p.POSITION_CONTROL, targetPositions=list(qpos), forces=ARM_FORCES,
            positionGains=[POSITION_GAIN] * len(ARM_JOINTS),
        )

    def command_gripper(self, command: float) -> None:
        """Gripper command in [-1, 1]: -1 fully open, +1 fully closed (linear in between)."""
        self.gripper_command = float(np.clip(command, -1.0, 1.0))
        width = FINGER_OPEN * (1.0 - self.gripper_command) / 2.0
        self.client.setJointMotorControlArray(
            self.body, FINGER_JOINTS, p.POSITION_CONTROL, targetPositions=[width, width],
            forces=[FINGER_FORCE, FINGER_FORCE],
        )


class PandaKinematics:
    """A kinematics-only Panda in its own pybullet client: forward kinematics without touching the world."""

    def __init__(self) -> None:
        import pybullet_data

        from envs.bullet import connect

        self.client = connect()

        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.body = self.client.loadURDF("franka_panda/panda.urdf", useFixedBase=True)

    def eef_pose(self, arm_qpos: np.ndarray, base_pos=(0.0, 0.0, 0.0), base_quat=(0.0, 0.0, 0.0, 1.0)) -> np.ndarray:
        """World pose ``[4, 4]`` of the grasp frame for arm joint angles ``[7]`` and a base pose."""
        self.client.resetBasePositionAndOrientation(self.body, base_pos, base_quat)
        for joint, q in zip(ARM_JOINTS, arm_qpos, strict=True):
            self.client.resetJointState(self.body, joint, float(q))
        state = self.client.getLinkState(self.body, GRASP_LINK, computeForwardKinematics=1)
        return pose_from_pos_quat(np.asarray(state[4]), np.asarray(state[5]))

    def reach_error(self, pos: np.ndarray, quat: np.ndarray, start_qpos: np.ndarray, base_pos=(0.0, 0.0, 0.0),
                    base_quat=(0.0, 0.0, 0.0, 1.0), rounds: int = 8) -> float:
        """How far (m) the grasp frame stays from ``pos`` after iterated IK from ``start_qpos`` ``[7]``."""
        qpos = np.asarray(start_qpos, dtype=float)
        error = float("inf")
        for _ in range(rounds):
            error = float(np.linalg.norm(self.eef_pose(qpos, base_pos, base_quat)[:3, 3] - pos))
            if error < 1e-3:
                break
            qpos = np.asarray(self.client.calculateInverseKinematics(
                self.body, GRASP_LINK, pos, quat, maxNumIterations=100, residualThreshold=1e-5)[:7])
        return error

    def close(self) -> None:
        """Disconnect the kinematics client."""
        self.client.disconnect()
