"""mimicrec's simulated manipulation tasks (pybullet), registered as gymnasium envs on import.

Every task is one env class (``envs.base.TabletopEnv``) built from a task file; the built-in ones are
``configs/<Task>/gym.yaml``. ``gymnasium.make("mimicrec/StackThree-v0", difficulty="D0")`` builds a
task; ``TASKS`` maps each registered id to its config folder.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from envs import quiet  # noqa: F401  (imports pybullet without its banner)
from envs.errors import ConfigError, TaskError
from envs.task_config import CONFIG_ROOT, config_file, load_task_config

ENTRY_POINT = "envs.base:TabletopEnv"  # every task is this env, built from its task file


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: its gymnasium id and its folder under ``configs/``."""

    env_id: str
    config_name: str

    @property
    def max_episode_steps(self) -> int:
        """Episode limit declared in the task's gym.yaml (``rollout.max_episode_steps``)."""
        return load_task_config(self.config_name).rollout.max_episode_steps


TASKS: dict[str, TaskEntry] = {}


def register_task(entry: TaskEntry) -> None:
    """Register a task with gymnasium and in ``TASKS``; registering an id twice raises, and so does a
    gym.yaml whose ``task`` names another id."""
    if entry.env_id in TASKS:
        raise ValueError(f"task {entry.env_id!r} is already registered")
    config = load_task_config(entry.config_name)
    if config.task != entry.env_id:
        raise ConfigError(f"{config.path}: task {config.task!r} does not match the id it is registered as; "
                          f"set task: {entry.env_id}")
    TASKS[entry.env_id] = entry
    if entry.env_id not in gym.registry:
        gym.register(entry.env_id, entry_point=ENTRY_POINT, kwargs={"config_name": entry.config_name},
                     max_episode_steps=entry.max_episode_steps)


def task_entry(env_id: str) -> TaskEntry:
    """The registered task ``env_id``; an unknown id raises ``TaskError`` naming the nearest known one."""
    if env_id not in TASKS:
        close = difflib.get_close_matches(env_id, list(TASKS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TaskError(f"unknown task {env_id!r}: {hint}known tasks: {', '.join(TASKS)}")
    return TASKS[env_id]


def task_config_file(env_id: str, kind: str) -> Path:
    """A registered task's config file of ``kind`` (gym, mimic, action_bank, train); see ``config_file``."""
    return config_file(task_entry(env_id).config_name, kind)


def builtin_tasks() -> list[TaskEntry]:
    """The tasks shipped in ``configs/``: every folder holding a task file, registered under its ``task`` id."""
    folders = sorted(p for p in CONFIG_ROOT.iterdir() if config_file(p.name, "gym").is_file())
    return [TaskEntry(load_task_config(folder.name).task, folder.name) for folder in folders]


for _entry in builtin_tasks():
    register_task(_entry)
