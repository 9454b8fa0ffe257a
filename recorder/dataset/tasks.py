"""Building envs by id with clear errors, and the dataset metadata that lets a file rebuild its env."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np

import envs
from envs.cameras import CAMERA_NAMES, MAX_SIZE, MIN_SIZE
from envs.errors import DatasetError, UsageError
from envs.interface import MimicEnv, TaskEnv
from envs.task_config import (
    KWARG_TASK_KEYS,
    config_value,
    robot_type,
    task_definition,
    task_from_definition,
    with_robot,
    with_settings,
)
from recorder.dataset.writers.lerobot_writer import DEFAULT_VIDEO_CODEC, LeRobotSchema

ENV_TYPE = 4  # robomimic env type id of mimicrec envs (robomimic's own are 1-3)


def make_env(task: str, /, **env_kwargs: Any) -> MimicEnv:
    """The task env ``gymnasium.make(task, **env_kwargs)`` builds, unwrapped (the recorder and the generator
    drive it directly and stop episodes themselves). ``task``: a registered id, a task file or its folder,
    or an id whose definition ``env_kwargs["task"]`` holds (see ``envs.resolve_task``)."""
    env_id = envs.resolve_task(task, env_kwargs.get("task"))
    return gym.make(env_id, **env_kwargs).unwrapped


def variant_env_kwargs(env_id: str, env_kwargs: dict[str, Any], robot: str | None = None,
                       difficulty: str | None = None, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Env kwargs of a dataset's task, varied: every arm replaced by ``robot`` (robot transfer; a
    ``joint_pos`` dataset takes the new arm's joint limits), another randomization ``difficulty``, and
    task-file values ``settings`` (``with_settings``). The stored definition carries every change."""
    config = task_from_definition(env_kwargs["task"], env_id) if "task" in env_kwargs else envs.task_entry(
        env_id).config
    if settings:
        config = with_settings(config, settings)
    if robot is not None:
        config = with_robot(config, robot)
    kwargs = _kwargs_following_settings({**env_kwargs, "task": task_definition(config)}, settings or {}, config)
    if robot is not None and kwargs.get("action_mode") == "joint_pos":
        kwargs["action_scale"] = {}
    if difficulty is not None:
        if difficulty not in config.randomization:
            raise UsageError(f"--difficulty {difficulty}: {env_id} has levels {', '.join(config.randomization)}; "
                             "pick one, or add the level with --set randomization.<level>=...")
        kwargs["difficulty"] = difficulty
    return kwargs


def _kwargs_following_settings(kwargs: dict[str, Any], settings: dict[str, Any], config) -> dict[str, Any]:
    """``kwargs`` with each stored kwarg whose task-file key a setting changes taken from ``config``, the
    changed task (else ``--set rollout.success_hold_steps=1`` would lose to the stored ``success_hold_steps``)."""
    changed = dict(kwargs)
    for kwarg, key in KWARG_TASK_KEYS.items():
        if kwarg in changed and any(_same_branch(key, setting) for setting in settings):
            changed[kwarg] = config_value(config, key)
    return changed


def _same_branch(key: str, other: str) -> bool:
    """Whether one dotted key path holds the other (or they are the same)."""
    return key == other or key.startswith(other + ".") or other.startswith(key + ".")


def env_args(env_id: str, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``env_args`` attribute of a robomimic file: ``gymnasium.make(env_name, **env_kwargs)``."""
    return {"env_name": env_id, "type": ENV_TYPE, "env_kwargs": dict(env_kwargs)}


# What a stored env_kwargs lacking the key was recorded with: these kwargs came after their behaviour.
RECORDED_BEFORE_KWARG = {"ik": "nullspace", "success_hold_steps": 1, "floor_collides_with_robots": True}


def stored_env_kwargs(env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Env kwargs read from a dataset or checkpoint, completed so the env behaves as when it was recorded."""
    return {**RECORDED_BEFORE_KWARG, **env_kwargs}


def read_env_args(raw: str, source: str) -> tuple[str, dict[str, Any]]:
    """Parse ``env_args`` JSON from a dataset into (env id, kwargs), or raise ``DatasetError``; a task known
    only from its stored definition is registered (so every command can rebuild it)."""
    try:
        meta = json.loads(raw)
        env_id, kwargs = meta["env_name"], stored_env_kwargs(dict(meta.get("env_kwargs", {})))
    except (ValueError, KeyError, TypeError) as err:
        raise DatasetError(f"{source}: data/env_args is not valid mimicrec metadata ({err}); "
                           "record the file with `mimicrec record`") from err
    return envs.resolve_task(env_id, kwargs.get("task")), kwargs


def lerobot_schema(env_id: str, env: TaskEnv, video_codec: str = DEFAULT_VIDEO_CODEC) -> LeRobotSchema:
    """The LeRobot layout of a task's episodes (fps, robot type, instruction, state keys, the videos' codec)."""
    slug = env_id.replace("/", "_").lower()
    config = env.config
    robot = robot_type(config)
    return LeRobotSchema(repo_id=f"mimicrec/{slug}", fps=env.control_freq, robot_type=robot,
                         instruction=config.recording.instruction, state_keys=config.observation.state_keys,
                         env_state_keys=config.observation.env_state_keys,
                         action_names=action_names(env), video_codec=video_codec,
                         camera_names=tuple(spec.name for spec in env.camera_specs), eef_names=env.eef_names,
                         env_args=json.dumps(env_args(env_id, env.env_kwargs)),
                         recording=json.dumps({"instruction": config.recording.instruction,
                                               "robot_type": robot,
                                               "extra": config.recording.extra}))


def action_names(env: TaskEnv) -> tuple[str, ...]:
    """Names of the action dimensions: the mode's names, prefixed by the arm when there are several."""
    names = env.action_mode.names
    if len(env.eef_names) == 1:
        return names
    return tuple(f"{eef}_{name}" for eef in env.eef_names for name in names)


DEFAULT_IMAGE_SIZE = 84


def camera_kwargs(names: list[str] | None, size: int | None) -> list[dict[str, Any]] | None:
    """The ``cameras`` env kwarg for ``--cameras NAME ... --image-size N`` (None: keep the default; ``size``
    None: ``DEFAULT_IMAGE_SIZE``). A size without cameras raises ``UsageError``: it would change nothing."""
    if names is None:
        if size is not None:
            raise UsageError(f"--image-size {size} sizes the images of --cameras; name the cameras too "
                             f"(e.g. --cameras agentview --image-size {size}) or drop --image-size")
        return None
    if unknown := [name for name in names if name not in CAMERA_NAMES]:
        raise UsageError(f"--cameras: unknown camera {', '.join(unknown)}; use {' and/or '.join(CAMERA_NAMES)}")
    size = DEFAULT_IMAGE_SIZE if size is None else size
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UsageError(f"--image-size must be {MIN_SIZE} to {MAX_SIZE} px, got {size}")
    return [{"name": name, "width": size, "height": size} for name in names]


def episode_seed(base_seed: int, stream: int, index: int) -> int:
    """A reset seed for episode ``index`` of a run, independent across ``stream`` ids (record, generate)."""
    return int(np.random.SeedSequence([base_seed, stream, index]).generate_state(1)[0])
