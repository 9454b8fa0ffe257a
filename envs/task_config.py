"""Task files (``configs/<Task>/gym.yaml``, or any YAML/JSON file): the single place a task declares its
scene (objects, robots), its logic (flags, success, subtask signals), robot control, sensors,
difficulty levels, observation keys, recording metadata and rollout settings. Unknown or ill-typed
keys are errors naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envs.cameras import CameraSpec
from envs.config import from_mapping, load_mapping
from envs.errors import ConfigError
from envs.objects import ObjectConfig, check_object
from envs.placement import PlacementRegion, check_object_placements, check_region
from envs.predicates import Check, Names, compile_logic
from envs.robot_config import RobotSpec, check_robot, load_robot


def _builtin_config_root() -> Path:
    """``configs/`` of the checkout, or the installed data package it ships as (``mimicrec_configs``)."""
    checkout = Path(__file__).resolve().parent.parent / "configs"
    if checkout.is_dir():
        return checkout
    import importlib.util

    spec = importlib.util.find_spec("mimicrec_configs")  # a namespace package: data files only
    return Path(next(iter(spec.submodule_search_locations))) if spec else checkout


CONFIG_ROOT = _builtin_config_root()


@dataclass(frozen=True)
class RobotPlacement:
    """A robot and where it stands: its base's (x, y) on the table top and its yaw (rad). ``robot`` names a
    built-in robot file (``configs/robots/``) or a path to one; ``definition`` is that file as read (filled
    in when the task is loaded, so a stored task rebuilds without the file)."""

    xy: tuple[float, float] = (0.0, 0.0)
    yaw: float = 0.0
    robot: str = "panda"
    definition: RobotSpec | None = None


@dataclass(frozen=True)
class SceneConfig:
    """What is built and how it is simulated: the task's ``objects`` (see ``envs.objects``), the
    ``robots`` (one arm per entry), ``robot_visuals`` ``simple`` (collision meshes drawn; fast) or
    ``stock``; ``solver_iterations``, the contact solver's iterations per substep (always all of them);
    ``floor_collides_with_robots``, whether robot links are collision-checked against the ground plane a
    table's height below them (false: never, ~10% less physics per step; datasets recorded before the key
    lack it and replay with true)."""

    objects: dict[str, ObjectConfig]
    robots: tuple[RobotPlacement, ...] = (RobotPlacement(),)
    robot_visuals: str = "simple"
    solver_iterations: int = 20
    floor_collides_with_robots: bool = False


@dataclass(frozen=True)
class LogicConfig:
    """The task's logic as expressions (``envs.predicates``): named stage ``flags`` in order, the
    ``success`` condition, and the flags that end subtasks (``subtask_signals``, in subtask order)."""

    success: str
    flags: dict[str, str] = field(default_factory=dict)
    subtask_signals: tuple[str, ...] = ()


@dataclass(frozen=True)
class RobotConfig:
    """Control: rate, action mode and its scaling (see ``envs.actions``), and the IK solver (``dls`` or
    ``nullspace``, see ``envs.robot.Robot.solve_ik``)."""

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
    """Which observation keys form LeRobot's ``observation.state`` and ``observation.environment_state``, the
    object pairs ``[a, b]`` whose relative position (a's minus b's, world frame) the ``object`` vector appends
    after each object's pose and eef-relative position (robosuite's Stack has cubeA_to_cubeB), and whether a
    symmetric object's orientation is observed at its equivalent turn nearest the first hand's heading
    (``symmetric_near_hand``: one orientation for what looks the same, as generation's object symmetry picks), and
    whether the vector ends with each object's heading relative to that hand's as its sine and cosine
    (``heading_to_hand``: the turn a grasp still needs, without the policy working it out from two quaternions)."""

    state_keys: tuple[str, ...]
    env_state_keys: tuple[str, ...]
    object_pairs: tuple[tuple[str, str], ...] = ()
    symmetric_near_hand: bool = False
    heading_to_hand: bool = False


@dataclass(frozen=True)
class RecordingConfig:
    """Dataset metadata: the language instruction, robot type (default: the first robot file's) and
    free-form extras."""

    instruction: str
    robot_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RolloutConfig:
    """Episode settings: the step limit, and for how many consecutive control steps the success expression
    must hold with every robot at rest before the task counts as solved (1: one frame)."""

    max_episode_steps: int
    success_hold_steps: int = 5


@dataclass(frozen=True)
class TaskConfig:
    """Everything a task file declares; ``randomization`` maps a level (D0, D1, D2) to where objects and
    robots are placed at that level."""

    task: str
    scene: SceneConfig
    logic: LogicConfig
    randomization: dict[str, PlacementRegion]
    observation: ObservationConfig
    recording: RecordingConfig
    rollout: RolloutConfig
    robot: RobotConfig = field(default_factory=RobotConfig)
    sensors: SensorConfig = field(default_factory=SensorConfig)
    path: str = ""


CONFIG_KINDS = ("gym", "mimic", "action_bank", "train")  # the files a task folder may hold


def config_file(name: str, kind: str) -> Path:
    """The built-in task's ``kind`` file in ``configs/<name>/`` (see ``config_file_in``)."""
    return config_file_in(CONFIG_ROOT / name, kind)


def config_file_in(folder: Path, kind: str) -> Path:
    """A task's ``kind`` file in ``folder``: ``<kind>.yaml``, else ``<kind>.json``.

    The one lookup rule for every config file: YAML wins when both exist; when neither does, the
    ``.yaml`` path is returned (loading it then fails with an error naming it).
    """
    if kind not in CONFIG_KINDS:
        raise ValueError(f"unknown config kind {kind!r}; use one of {', '.join(CONFIG_KINDS)}")
    yaml_path, json_path = folder / f"{kind}.yaml", folder / f"{kind}.json"
    return json_path if json_path.is_file() and not yaml_path.is_file() else yaml_path


@functools.cache
def load_task_config(name: str) -> TaskConfig:
    """Load and validate ``configs/<name>/gym.yaml`` (cached; configs are immutable)."""
    return read_task_file(config_file(name, "gym"))


def read_task_file(path: str | Path) -> TaskConfig:
    """Load and validate a task file: unknown keys, wrong types, unknown predicates or objects, missing
    mesh files are ``ConfigError`` naming the file and the key."""
    path = Path(path)
    data = load_mapping(path)
    if "path" in data:
        raise ConfigError(f"{path}: unknown key(s) path")
    config = from_mapping(TaskConfig, {**data, "path": str(path)}, str(path))
    return check_task(config, path.parent)


def task_definition(config: TaskConfig) -> dict[str, Any]:
    """The task as a JSON-ready mapping (what datasets store): ``task_from_definition`` rebuilds it."""
    return dataclasses.asdict(config)


def task_from_definition(definition: dict[str, Any], env_id: str, where: str | None = None) -> TaskConfig:
    """A task rebuilt from a stored definition (a dataset's ``env_kwargs["task"]``), validated like a file;
    ``where`` names the definition in errors."""
    where = where or f"the stored definition of {env_id}"
    if not isinstance(definition, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(definition).__name__}")
    config = from_mapping(TaskConfig, {**definition, "path": str(definition.get("path") or where)}, where)
    if config.task != env_id:
        raise ConfigError(f"{where}: it defines {config.task!r}; the dataset's env_name and definition disagree")
    return check_task(config, Path(config.path).parent)


def check_task(config: TaskConfig, folder: Path) -> TaskConfig:
    """Cross-key checks of a parsed task; object file paths are resolved against ``folder``."""
    where = config.path
    if not config.randomization:
        raise ConfigError(f"{where}: randomization must declare at least one level (e.g. D0)")
    for level, region in config.randomization.items():
        check_region(region, f"{where}: randomization.{level}")
    counts = {"rollout.max_episode_steps": config.rollout.max_episode_steps,
              "robot.control_freq": config.robot.control_freq,
              "scene.solver_iterations": config.scene.solver_iterations,
              "rollout.success_hold_steps": config.rollout.success_hold_steps}
    if not_positive := [key for key, value in counts.items() if value <= 0]:
        raise ConfigError(f"{where}: {' and '.join(not_positive)} must be positive")
    if not config.scene.objects or not config.scene.robots:
        raise ConfigError(f"{where}: scene.objects and scene.robots must each name at least one")
    objects = {name: check_object(name, obj, folder, where) for name, obj in config.scene.objects.items()}
    for level, region in config.randomization.items():
        check_object_placements(region, objects, f"{where}: randomization.{level}")
    robots = tuple(_with_robot_definition(robot, folder, f"{where}: scene.robots[{i}].robot")
                   for i, robot in enumerate(config.scene.robots))
    config = replace(config, scene=replace(config.scene, objects=objects, robots=robots))
    _check_object_pairs(config)
    compile_task_logic(config)
    return config


def _check_object_pairs(config: TaskConfig) -> None:
    for i, pair in enumerate(config.observation.object_pairs):
        if unknown := [name for name in pair if name not in config.scene.objects]:
            raise ConfigError(f"{config.path}: observation.object_pairs[{i}] names {unknown[0]!r}, not an object of "
                              f"the scene; use two of {', '.join(config.scene.objects)}")
        if pair[0] == pair[1]:
            raise ConfigError(f"{config.path}: observation.object_pairs[{i}] pairs {pair[0]!r} with itself; "
                              "name two different objects")


def _with_robot_definition(placement: RobotPlacement, folder: Path, where: str) -> RobotPlacement:
    """The placement with its robot file read (a stored definition is checked as it is)."""
    if placement.definition is not None:
        return replace(placement, definition=check_robot(placement.definition, Path(placement.definition.path).parent))
    return replace(placement, definition=load_robot(placement.robot, folder, where))


def with_robot(config: TaskConfig, robot: str) -> TaskConfig:
    """The task with every arm replaced by ``robot`` (a built-in name or a robot file's path, relative to
    the working folder): robot transfer. The recording's robot type follows the new robot."""
    spec = load_robot(robot, Path.cwd(), "--robot")
    robots = tuple(replace(placement, robot=robot, definition=spec) for placement in config.scene.robots)
    return replace(config, scene=replace(config.scene, robots=robots),
                   recording=replace(config.recording, robot_type=spec.robot_type))


def with_settings(config: TaskConfig, values: dict[str, Any], flag: str = "--set") -> TaskConfig:
    """The task with ``values`` (dotted key paths of the task file, e.g. ``scene.objects.cube_red.scale``)
    set in its definition, validated like a file: a scene or randomization variant of a task."""
    definition = task_definition(config)
    for key, value in values.items():
        _set_path(definition, key, value, f"{flag} {key}")
    return task_from_definition(definition, config.task, f"{config.task} with {flag}")


def _set_path(tree: dict[str, Any], key: str, value: Any, where: str) -> None:
    *parents, leaf = key.split(".")
    node: Any = tree
    for part in parents:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node and isinstance(node[part], dict | list):
            node = node[part]
        else:
            raise ConfigError(f"{where}: the task has no {part!r} there; use a key path of its task file "
                              "(e.g. scene.objects.cube_red.scale or randomization.D1.x)")
    if isinstance(node, list) and leaf.isdigit() and int(leaf) < len(node):
        node[int(leaf)] = value
    elif isinstance(node, dict):
        node[leaf] = value
    else:
        raise ConfigError(f"{where}: cannot set {leaf!r} there; use a key path of its task file")


# Env kwargs that mirror a task-file key: None takes the file's value; a dataset stores both and the kwarg
# wins when its env is rebuilt (so ``--set`` of such a key must update the stored kwarg too).
KWARG_TASK_KEYS = {"control_freq": "robot.control_freq", "action_mode": "robot.action_mode",
                   "action_scale": "robot.action_scale", "ik": "robot.ik", "renderer": "sensors.renderer",
                   "cameras": "sensors.cameras", "robot_visuals": "scene.robot_visuals",
                   "solver_iterations": "scene.solver_iterations",
                   "floor_collides_with_robots": "scene.floor_collides_with_robots",
                   "success_hold_steps": "rollout.success_hold_steps"}


def config_value(config: TaskConfig, key: str) -> Any:
    """The value at a dotted key path of a task, as an env kwarg holds it (plain dicts and lists)."""
    value: Any = config
    for part in key.split("."):
        value = getattr(value, part)
    if isinstance(value, dict):
        return dict(value)
    return [vars(item) for item in value] if isinstance(value, tuple) else value


def env_settings(config: TaskConfig, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Every ``KWARG_TASK_KEYS`` setting of an env: the kwarg where given (not None), else the task file's."""
    return {kwarg: config_value(config, key) if kwargs.get(kwarg) is None else kwargs[kwarg]
            for kwarg, key in KWARG_TASK_KEYS.items()}


def robot_type(config: TaskConfig) -> str:
    """The robot type datasets of this task record: the file's, else the first robot's."""
    return config.recording.robot_type or config.scene.robots[0].definition.robot_type


def compile_task_logic(config: TaskConfig) -> tuple[dict[str, Check], Check]:
    """The task's flags (name -> check, in order) and its success check, compiled from ``logic``."""
    eefs = tuple(f"robot{i}" for i in range(len(config.scene.robots)))
    objects = config.scene.objects
    containers = tuple(name for name, obj in objects.items() if obj.container is not None)
    where, flags = f"{config.path}: logic", {}
    for name, text in config.logic.flags.items():
        if name == "success" or name in objects:
            raise ConfigError(f"{where}.flags.{name}: the name is taken (success, or an object); rename the flag")
        flags[name] = compile_logic(text, Names(tuple(objects), eefs, tuple(flags), containers),
                                    f"{where}.flags.{name}")
    success = compile_logic(config.logic.success, Names(tuple(objects), eefs, tuple(flags), containers),
                            f"{where}.success")
    unknown = [s for s in config.logic.subtask_signals if s not in flags]
    if unknown:
        raise ConfigError(f"{where}.subtask_signals: {', '.join(unknown)} are not flags; declare them in logic.flags")
    return flags, success
