"""Per-task configuration (``configs/<Task>/gym.yaml``, JSON accepted): the single place a task declares
its scene, robot and control, sensors, difficulty levels, observation keys, recording metadata
and rollout settings. Unknown or ill-typed keys are errors naming the file and the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.cameras import CameraSpec
from envs.config import from_mapping, load_mapping
from envs.errors import ConfigError

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"


@dataclass(frozen=True)
class SceneConfig:
    """What is built and how it is simulated: ``robot_visuals`` ``simple`` (collision meshes drawn; fast)
    or ``stock``; ``solver_iterations``, the contact solver's iterations per substep (always all of them)."""

    robot_visuals: str = "simple"
    solver_iterations: int = 20


@dataclass(frozen=True)
class RobotConfig:
    """Control: rate, action mode and its scaling (see ``envs.actions``), and the IK solver (``dls`` or
    ``nullspace``, see ``envs.panda.Panda.solve_ik``)."""

    control_freq: int = 20
    action_mode: str = "delta_eef"
    action_scale: dict[str, Any] = field(default_factory=dict)
    ik: str = "dls"


@dataclass(frozen=True)
class SensorConfig:
    """Renderer (``tiny`` or ``egl``) and the cameras observed by default."""

    renderer: str = "tiny"
    cameras: tuple[CameraSpec, ...] = ()


@dataclass(frozen=True)
class ObservationConfig:
    """Which observation keys form LeRobot's ``observation.state`` and ``observation.environment_state``."""

    state_keys: tuple[str, ...]
    env_state_keys: tuple[str, ...]


@dataclass(frozen=True)
class RecordingConfig:
    """Dataset metadata: the language instruction, robot type and free-form extras."""

    instruction: str
    robot_type: str = "franka_panda"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RolloutConfig:
    """Episode settings."""

    max_episode_steps: int


@dataclass(frozen=True)
class TaskConfig:
    """Everything ``gym.yaml`` declares; ``randomization`` maps a level (D0, D1, D2) to its task-specific
    settings, which the task validates (see e.g. ``envs.cubes.CubeRegion``)."""

    task: str
    randomization: dict[str, dict[str, Any]]
    observation: ObservationConfig
    recording: RecordingConfig
    rollout: RolloutConfig
    scene: SceneConfig = field(default_factory=SceneConfig)
    robot: RobotConfig = field(default_factory=RobotConfig)
    sensors: SensorConfig = field(default_factory=SensorConfig)
    path: str = ""


CONFIG_KINDS = ("gym", "mimic", "action_bank", "train")  # the files a task folder may hold


def config_file(name: str, kind: str) -> Path:
    """The task's ``kind`` file in ``configs/<name>/``: ``<kind>.yaml``, else ``<kind>.json``.

    The one lookup rule for every config file: YAML wins when both exist; when neither does, the
    ``.yaml`` path is returned (loading it then fails with an error naming it).
    """
    if kind not in CONFIG_KINDS:
        raise ValueError(f"unknown config kind {kind!r}; use one of {', '.join(CONFIG_KINDS)}")
    folder = CONFIG_ROOT / name
    yaml_path, json_path = folder / f"{kind}.yaml", folder / f"{kind}.json"
    return json_path if json_path.is_file() and not yaml_path.is_file() else yaml_path


@functools.cache
def load_task_config(name: str) -> TaskConfig:
    """Load and validate ``configs/<name>/gym.yaml`` (cached; configs are immutable)."""
    path = config_file(name, "gym")
    data = load_mapping(path)
    if "path" in data:
        raise ConfigError(f"{path}: unknown key(s) path")
    config = from_mapping(TaskConfig, {**data, "path": str(path)}, str(path))
    if not config.randomization:
        raise ConfigError(f"{path}: randomization must declare at least one level (e.g. D0)")
    counts = {"rollout.max_episode_steps": config.rollout.max_episode_steps,
              "robot.control_freq": config.robot.control_freq,
              "scene.solver_iterations": config.scene.solver_iterations}
    if not_positive := [key for key, value in counts.items() if value <= 0]:
        raise ConfigError(f"{path}: {' and '.join(not_positive)} must be positive")
    return config
