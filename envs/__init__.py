"""mimicrec's simulated manipulation tasks (pybullet), registered as gymnasium envs on import.

Every task is one env class (``envs.base.TabletopEnv``) built from a task file; the built-in ones are
``configs/<Task>/gym.yaml``. ``gymnasium.make("mimicrec/StackThree-v0", difficulty="D0")`` builds a
task; ``TASKS`` maps each registered id to its config folder.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from envs import quiet  # noqa: F401  (imports pybullet without its banner)
from envs.errors import ConfigError, TaskError
from envs.task_config import (
    CONFIG_ROOT,
    TaskConfig,
    config_file,
    config_file_in,
    load_task_config,
    read_task_file,
    task_from_definition,
)

ENTRY_POINT = "envs.base:TabletopEnv"  # every task is this env, built from its task file


@dataclass(frozen=True)
class TaskEntry:
    """A registered task: its gymnasium id and where its definition comes from: a built-in folder under
    ``configs/`` (``config_name``), a task file given by path (``task_file``), or a definition stored in
    a dataset (``definition``; a task file's entry keeps the definition it was registered with). The
    task's other config files (mimic, action_bank, train) are looked up beside its task file."""

    env_id: str
    config_name: str | None = None
    task_file: str | None = None
    definition: TaskConfig | None = None

    @property
    def config(self) -> TaskConfig:
        """The task's validated definition."""
        if self.definition is not None:
            return self.definition
        return load_task_config(self.config_name) if self.config_name else read_task_file(self.task_file)

    @property
    def folder(self) -> Path | None:
        """The folder of the task's config files (None for a definition whose file is not here)."""
        if self.config_name:
            return config_file(self.config_name, "gym").parent
        path = Path(self.task_file or self.config.path)
        return path.parent if path.is_file() else None

    @property
    def max_episode_steps(self) -> int:
        """Episode limit declared in the task's file (``rollout.max_episode_steps``)."""
        return self.config.rollout.max_episode_steps

    @property
    def make_kwargs(self) -> dict[str, Any]:
        """The kwargs gymnasium passes to ``TabletopEnv`` for this task."""
        if self.config_name:
            return {"config_name": self.config_name}
        return {"task_file": self.task_file} if self.task_file else {}


TASKS: dict[str, TaskEntry] = {}


def register_task(entry: TaskEntry) -> None:
    """Register a task with gymnasium and in ``TASKS``; registering an id twice raises, and so does a
    task file whose ``task`` names another id."""
    if entry.env_id in TASKS:
        raise ValueError(f"task {entry.env_id!r} is already registered")
    config = entry.config
    if config.task != entry.env_id:
        raise ConfigError(f"{config.path}: task {config.task!r} does not match the id it is registered as; "
                          f"set task: {entry.env_id}")
    TASKS[entry.env_id] = entry
    if entry.env_id not in gym.registry:
        gym.register(entry.env_id, entry_point=ENTRY_POINT, kwargs=entry.make_kwargs,
                     max_episode_steps=entry.max_episode_steps)


def task_entry(env_id: str) -> TaskEntry:
    """The registered task ``env_id``; an unknown id raises ``TaskError`` naming the nearest known one."""
    if env_id not in TASKS:
        close = difflib.get_close_matches(env_id, list(TASKS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise TaskError(f"unknown task {env_id!r}: {hint}known tasks: {', '.join(TASKS)}; or pass the path of "
                        "a task file")
    return TASKS[env_id]


MISSING_CONFIG_FIX = {  # what a person does when a task's folder lacks a file that a command needs
    "mimic": "annotate and generate read it: write one (docs/configuration.md, mimic.yaml) or pass --config FILE",
    "action_bank": "`--device scripted` runs it: write one (docs/configuration.md, action banks) or record with "
                   "--device keyboard or spacemouse",
}


def task_config_file(env_id: str, kind: str) -> Path:
    """A registered task's config file of ``kind`` (gym, mimic, action_bank, train), beside its task file; a
    ``ConfigError`` naming what to do where the task has none."""
    folder = task_entry(env_id).folder
    if folder is None:
        raise ConfigError(f"{env_id} was rebuilt from a dataset's stored definition and its {kind} file is not on "
                          "this machine; pass it with --config (or --task FILE|FOLDER where the task's files are)")
    path = config_file_in(folder, kind)
    if not path.is_file():
        fix = MISSING_CONFIG_FIX.get(kind, "write one (docs/configuration.md)")
        raise ConfigError(f"{folder} has no {kind}.yaml (or {kind}.json); {fix}")
    return path


def optional_task_config_file(env_id: str, kind: str) -> Path | None:
    """A registered task's config file of ``kind`` where its folder is on this machine and holds one, else None."""
    folder = task_entry(env_id).folder
    path = None if folder is None else config_file_in(folder, kind)
    return path if path is not None and path.is_file() else None


def resolve_task(task: str, definition: dict[str, Any] | None = None) -> str:
    """The registered id for ``task``: a registered id; a task file or a folder holding ``gym.yaml`` (registered
    now, under its ``task`` id); or an unregistered id with its stored ``definition`` (registered now)."""
    if task in TASKS:
        return task
    path = Path(task)
    if path.is_dir():
        path = config_file_in(path, "gym")
    if path.is_file():
        return register_task_file(path)
    if definition is not None:
        register_task(TaskEntry(task, definition=task_from_definition(definition, task)))
        return task
    if path.suffix in (".yaml", ".yml", ".json") or "/" in task.removeprefix("mimicrec/"):
        raise TaskError(f"{task}: no such task file or folder; pass an existing task file, its folder, or a task id "
                        "(`mimicrec tasks` lists them)")
    task_entry(task)  # raises, naming the nearest id
    return task


def register_task_file(path: Path) -> str:
    """Register the task of a task file (once; another file claiming a registered id is an error)."""
    config = read_task_file(path)
    entry = TASKS.get(config.task)
    if entry is not None:
        if Path(entry.config.path).resolve() != path.resolve():
            raise ConfigError(f"{path}: task {config.task!r} is already registered by {entry.config.path}; "
                              "give this task another id")
        return config.task
    register_task(TaskEntry(config.task, task_file=str(path.resolve()), definition=config))  # read once
    return config.task


def builtin_tasks() -> list[TaskEntry]:
    """The tasks shipped in ``configs/``: every folder holding a task file, registered under its ``task`` id."""
    folders = sorted(p for p in CONFIG_ROOT.iterdir() if config_file(p.name, "gym").is_file())
    return [TaskEntry(load_task_config(folder.name).task, folder.name) for folder in folders]


for _entry in builtin_tasks():
    register_task(_entry)
