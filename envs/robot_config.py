"""Robot files (``configs/robots/<name>.yaml`` or any YAML/JSON file): one arm with its gripper, as data.

A robot file names the model (URDF or SDF, by a path relative to the file or inside ``pybullet_data``),
its arm joints and their motor forces, the grasp frame (a link plus a fixed offset, in the common
convention: z along the approach direction, y along the fingers' closing direction, the gripper
pointing down at ``[1, 0, 0, 0]``), the gripper joints with their open and closed positions, the
links that must touch an object for it to count as grasped, the home pose and the IK settings.
Joints and links are named as in the model; ``envs.robot.Robot`` resolves them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envs.config import from_mapping, load_mapping
from envs.errors import ConfigError


@dataclass(frozen=True)
class GraspFrame:
    """The frame actions move: ``link`` (a link name) composed with a fixed offset (metres, and
    roll/pitch/yaw in radians) from that link's frame."""

    link: str
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def is_link_frame(self) -> bool:
        """Whether the grasp frame is the link's own frame (no offset to apply)."""
        return not any(self.offset) and not any(self.rpy)


@dataclass(frozen=True)
class JointCoupling:
    """``joint`` follows ``follows`` (``multiplier`` times its angle: a URDF mimic joint, which pybullet
    ignores) through a gear constraint of at most ``max_force`` and error reduction ``erp``. A coupled
    joint that is not one of the gripper's ``joints`` is passive: its motor is switched off (a linkage)."""

    joint: str
    follows: str
    multiplier: float = 1.0
    erp: float = 0.1
    max_force: float = 50.0


@dataclass(frozen=True)
class GripperConfig:
    """Gripper joints driven by motors, with their positions fully ``open`` (command -1) and fully
    ``closed`` (+1), linear in between; ``contact_links``: every one must touch an object for a grasp;
    ``friction_links`` get ``friction``; ``couplings`` tie joints together (see ``JointCoupling``);
    ``joint_damping`` damps the gripper joints (calms fingers that chatter while they squeeze an object)."""

    joints: tuple[str, ...]
    open: tuple[float, ...]
    closed: tuple[float, ...]
    contact_links: tuple[str, ...]
    force: float = 20.0
    friction_links: tuple[str, ...] = ()
    friction: float = 1.0
    couplings: tuple[JointCoupling, ...] = ()
    joint_damping: float = 0.0


@dataclass(frozen=True)
class IkConfig:
    """Damped least squares IK: ``damping`` per joint, at most ``iterations``, stopping once the grasp
    frame is within ``residual`` metres of the target."""

    damping: float = 0.01
    iterations: int = 20
    residual: float = 1e-5


@dataclass(frozen=True)
class RobotSpec:
    """Everything a robot file declares (see the module docstring). ``mount``: where the base stands
    relative to the task's robot placement (m; a long arm stands further back); ``held_joints`` are kept
    at a fixed position by their motors (e.g. a joint the model puts between arm and gripper)."""

    name: str
    model: str
    arm_joints: tuple[str, ...]
    arm_forces: tuple[float, ...]
    home: tuple[float, ...]
    grasp_frame: GraspFrame
    gripper: GripperConfig
    robot_type: str
    camera_link: str
    mount: tuple[float, float, float] = (0.0, 0.0, 0.0)
    held_joints: dict[str, float] = field(default_factory=dict)
    held_force: float = 100.0
    position_gain: float = 0.3
    ik: IkConfig = field(default_factory=IkConfig)
    simple_visuals: dict[str, str] = field(default_factory=dict)
    path: str = ""


def _builtin_robot_root() -> Path:
    from envs.task_config import CONFIG_ROOT

    return CONFIG_ROOT / "robots"


def builtin_robots() -> tuple[str, ...]:
    """Names of the robot files that ship with mimicrec (``configs/robots/*.yaml``)."""
    return tuple(sorted(path.stem for path in _builtin_robot_root().glob("*.yaml")))


def robot_file(robot: str, folder: Path, where: str = "robot") -> Path:
    """The file of ``robot``: a built-in name, or a path (relative to ``folder``) to a YAML/JSON file;
    ``where`` names the key that gave it in errors."""
    if robot in builtin_robots():
        return _builtin_robot_root() / f"{robot}.yaml"
    path = Path(robot) if Path(robot).is_absolute() else folder / robot
    if path.suffix not in (".yaml", ".yml", ".json") or not path.is_file():
        raise ConfigError(f"{where}: no robot {robot!r}; use one of {', '.join(builtin_robots())} "
                          "or the path of a robot file (.yaml or .json)")
    return path


@functools.cache
def _read_robot_file(path: Path) -> RobotSpec:
    data = load_mapping(path)
    if "path" in data:
        raise ConfigError(f"{path}: unknown key(s) path")
    spec = from_mapping(RobotSpec, {**data, "path": str(path)}, str(path))
    return check_robot(spec, path.parent)


def load_robot(robot: str, folder: Path, where: str = "robot") -> RobotSpec:
    """Load and validate the robot ``robot`` (a built-in name or a file path relative to ``folder``)."""
    return _read_robot_file(robot_file(robot, folder, where).resolve())


def robot_from_definition(definition: dict[str, Any], where: str) -> RobotSpec:
    """A robot rebuilt from a stored definition (inside a dataset's task definition), validated like a file."""
    spec = from_mapping(RobotSpec, definition, where)
    return check_robot(spec, Path(spec.path).parent)


def check_robot(spec: RobotSpec, folder: Path) -> RobotSpec:
    """Cross-key checks of a parsed robot file; its model path is resolved against ``folder``."""
    where = spec.path
    sizes = {"arm_forces": len(spec.arm_forces), "home": len(spec.home)}
    if wrong := [key for key, n in sizes.items() if n != len(spec.arm_joints)]:
        raise ConfigError(f"{where}: {' and '.join(wrong)} must give one value per arm joint "
                          f"({len(spec.arm_joints)}: {', '.join(spec.arm_joints)})")
    gripper = spec.gripper
    if not (len(gripper.open) == len(gripper.closed) == len(gripper.joints) > 0):
        raise ConfigError(f"{where}: gripper.open and gripper.closed must give one value per gripper joint")
    if not gripper.contact_links:
        raise ConfigError(f"{where}: gripper.contact_links must name at least one link (e.g. the finger pads)")
    if loops := [c.joint for c in gripper.couplings if c.follows == c.joint]:
        raise ConfigError(f"{where}: gripper.couplings: {', '.join(loops)} cannot follow itself; name another joint")
    if gripper.joint_damping < 0:
        raise ConfigError(f"{where}: gripper.joint_damping must not be negative, got {gripper.joint_damping}")
    if spec.ik.iterations <= 0 or spec.ik.damping < 0:
        raise ConfigError(f"{where}: ik.iterations must be positive and ik.damping not negative")
    return replace(spec, model=resolve_model_path(spec.model, folder, f"{where}: model"))


def resolve_model_path(model: str, folder: Path, where: str) -> str:
    """A model path as pybullet loads it: a file beside the robot file (made absolute), else a path inside
    ``pybullet_data`` (kept relative); neither is an error naming both places."""
    import pybullet_data

    local = folder / model
    if Path(model).is_absolute() or local.is_file():
        if not Path(local).is_file():
            raise ConfigError(f"{where}: {model} does not exist; fix the path")
        return str(local.resolve())
    if (Path(pybullet_data.getDataPath()) / model).is_file():
        return model
    raise ConfigError(f"{where}: {model} is neither beside {folder} nor in pybullet_data; fix the path")
