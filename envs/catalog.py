"""What tasks there are: the built-in ones and the task files in a folder, summarized for ``mimicrec tasks``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import envs
from envs.config import load_mapping
from envs.errors import ConfigError
from envs.task_config import TaskConfig, read_task_file

TASK_FILE_KEYS = {"task", "scene", "logic"}  # a YAML/JSON file with these top-level keys is a task file


@dataclass(frozen=True)
class TaskSummary:
    """One task as ``mimicrec tasks`` lists it."""

    env_id: str
    source: str
    objects: tuple[str, ...]
    robots: tuple[str, ...]
    levels: tuple[str, ...]
    subtask_signals: tuple[str, ...]
    max_episode_steps: int
    instruction: str

    @classmethod
    def of(cls, config: TaskConfig, source: str) -> TaskSummary:
        """The summary of a loaded task."""
        return cls(config.task, source, tuple(config.scene.objects),
                   tuple(robot.definition.name for robot in config.scene.robots),
                   tuple(config.randomization), config.logic.subtask_signals, config.rollout.max_episode_steps,
                   config.recording.instruction)


def builtin_summaries() -> list[TaskSummary]:
    """The registered built-in tasks (``configs/<Task>/gym.yaml``)."""
    return [TaskSummary.of(entry.config, f"configs/{entry.config_name}")
            for entry in envs.TASKS.values() if entry.config_name]


def folder_summaries(folder: Path) -> tuple[list[TaskSummary], list[str]]:
    """The task files under ``folder`` (any depth): their summaries, and one error line per broken one."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such folder; pass a folder holding task files (YAML or JSON)")
    found, broken = [], []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml", ".json") and p.is_file()):
        try:
            keys = set(load_mapping(path))
        except ConfigError as err:  # not YAML at all: only a file named as a task file is reported
            if path.stem == "gym":
                broken.append(str(err))
            continue
        if TASK_FILE_KEYS <= keys or path.stem == "gym":  # a gym.yaml short of a key is a broken task file
            try:
                found.append(TaskSummary.of(read_task_file(path), str(path)))
            except ConfigError as err:
                broken.append(str(err))
    return found, broken
