"""``mimicrec info``: summarize an HDF5 file, a LeRobot dataset, or a run folder holding them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from envs.errors import DatasetError
from recorder.dataset.reading import LEROBOT_OWN_FEATURES, dataset_env, demo_names, open_dataset, read_lerobot
from recorder.dataset.run import command_of, run_state
from recorder.dataset.writers.lerobot_meta import read_meta
from recorder.dataset.writers.lerobot_writer import interrupted


@dataclass
class DatasetInfo:
    """What ``mimicrec info`` prints for one dataset."""

    path: str
    format: str
    task: str
    episodes: int
    lengths: list[int]
    successes: int
    features: dict[str, Any]
    annotations: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""
        lengths = np.asarray(self.lengths) if self.lengths else np.zeros(1)
        out = [f"{self.path} ({self.format})", f"  task:        {self.task}",
               f"  episodes:    {self.episodes} ({int(lengths.sum())} steps; length min {lengths.min()}, "
               f"mean {lengths.mean():.1f}, max {lengths.max()})",
               f"  successful:  {self.successes} of {self.episodes}"]
        out += [f"  feature      {name}: {desc}" for name, desc in self.features.items()]
        out += [f"  annotation   {name}: {desc}" for name, desc in self.annotations.items()]
        out += [f"  {name + ':':12} {value}" for name, value in self.extra.items()]
        return out


def dataset_info(path: str) -> list[DatasetInfo]:
    """Summaries of an HDF5 file, a LeRobot dataset folder, or a run folder holding either or both."""
    target = Path(path)
    if target.is_file():
        return [hdf5_info(target)]
    if (target / "meta" / "info.json").is_file():
        return [lerobot_info(target)]
    found = [hdf5_info(p) for p in sorted(target.glob("*.hdf5"))] if target.is_dir() else []
    found += [lerobot_info(p.parent.parent) for p in sorted(target.glob("*/meta/info.json"))] if target.is_dir() else []
    if not found:
        raise DatasetError(f"{path}: not an HDF5 file, a LeRobot dataset or a folder holding one; pass one of those")
    run = run_summary(target)
    if run:
        found[0].extra["run"] = run
    return found


def run_summary(folder: Path) -> str | None:
    """One line on the run that wrote ``folder``: a generate run's counts and time (``report.json``, its last
    session's), or a record run's attempts (``run.json``); None for a folder no run wrote."""
    report, run = folder / "report.json", run_state(folder)
    if report.is_file():
        counts = json.loads(report.read_text())
        return (f"generate: {counts['num_successes']} successes of {counts['num_attempts']} attempts "
                f"({counts['success_rate']:.1%}); the last session {counts['wall_time_s']:.1f} s with "
                f"{counts['num_envs']} workers; plots: report.png")
    if run is not None and command_of(run) == "record":
        asked = f"; {run['num_demos']} demos asked for" if run.get("num_demos") else ""
        return f"record: {run['attempts']} attempts{asked}"
    return None


def hdf5_info(path: Path) -> DatasetInfo:
    """Summary of a robomimic HDF5 file."""
    with open_dataset(path) as file:
        env_id, kwargs = dataset_env(file)
        names = demo_names(file)
        groups = [file["data"][n] for n in names]
        first = groups[0]
        features = {"actions": f"float32 {first['actions'].shape[1:]}"}
        features.update({f"obs/{k}": f"{v.dtype} {v.shape[1:]}" for k, v in first["obs"].items()})
        annotations = {}
        if "datagen_info" in first:
            annotations["datagen_info"] = ", ".join(sorted(first["datagen_info"]))
        if "subtask_term_inds" in first.get("datagen_info", {}):
            annotations["subtask ends"] = f"per eef: {', '.join(first['datagen_info/subtask_term_inds'])}"
        if "subtask_index" in first:
            annotations["subtasks"] = subtask_summary([g["subtask_index"][()] for g in groups])
        annotations.update(described_subtasks(dict(file["data"].attrs)))
        masks = ", ".join(f"{k} ({len(v)})" for k, v in file["mask"].items()) if "mask" in file else "none"
        return DatasetInfo(str(path), "robomimic HDF5", env_id, len(names),
                           [int(g.attrs.get("num_samples", len(g["actions"]))) for g in groups],
                           sum(bool(g.attrs.get("success", False)) for g in groups), features, annotations,
                           {**_env_summary(kwargs), "masks": masks, **_hdf5_state(file)})


def _env_summary(kwargs: dict) -> dict[str, str]:
    """The env kwargs without the stored task definition, and that definition in one line."""
    lines = {"env kwargs": json.dumps({k: v for k, v in kwargs.items() if k != "task"})}
    task = kwargs.get("task")
    if isinstance(task, dict):
        scene = task.get("scene", {})
        robots = [robot.get("robot", "?") for robot in scene.get("robots", [])]
        lines["task"] = (f"definition stored (robots: {', '.join(robots)}; objects: "
                         f"{', '.join(scene.get('objects', {}))}; from {task.get('path', '?')})")
    return lines


def lerobot_info(root: Path) -> DatasetInfo:
    """Summary of a LeRobot v3.0 dataset folder (read with pyarrow, no video decoding)."""
    info, table = read_lerobot(root, ["episode_index", "next.success"], optional=("subtask_index",))
    episodes = np.asarray(table["episode_index"]) if table is not None else np.zeros(0, dtype=int)
    success = np.asarray(table["next.success"]).reshape(-1) if table is not None else np.zeros(0, dtype=bool)
    ids = np.unique(episodes)
    features = {k: f"{v['dtype']} {tuple(v['shape'])}" for k, v in info["features"].items()
                if k not in LEROBOT_OWN_FEATURES}
    meta = read_meta(root, info)
    extra = {"robot type": info.get("robot_type"), "instruction": meta.get("recording", {}).get("instruction"),
             "fps": info.get("fps"), "tasks": info.get("total_tasks")}
    if table is not None and "subtask_index" in table.column_names:
        labels = np.stack(table["subtask_index"].to_numpy(zero_copy_only=False)).reshape(len(episodes), -1)
        extra["subtasks"] = subtask_summary([labels[episodes == i] for i in ids])
    extra.update(described_subtasks(meta.get("attrs", {})))
    task = meta.get("env_args", {}).get("env_name") or f"robot {info.get('robot_type')}"
    return DatasetInfo(str(root), f"LeRobot {info.get('codebase_version', '?')}", task,
                       len(ids), [int((episodes == i).sum()) for i in ids],
                       int(sum(success[episodes == i].any() for i in ids)), features,
                       extra={k: v for k, v in {**extra, **_lerobot_state(root)}.items() if v is not None})


def described_subtasks(attrs: dict[str, Any]) -> dict[str, str]:
    """The subtask descriptions (the ``subtasks`` attribute annotate and generate store) and the spec digest."""
    try:
        subtasks = json.loads(attrs["subtasks"])
    except (KeyError, TypeError, ValueError):
        return {}
    lines = {f"subtasks of {eef}": "; ".join(f"{k}: {d or '(no description)'}" for k, d in enumerate(descriptions))
             for eef, descriptions in subtasks.items()}
    return {**lines, "spec digest": str(attrs.get("spec_digest", "?"))}


def subtask_summary(labels: list[np.ndarray]) -> str:
    """Mean steps per subtask over episodes whose per-step ``subtask_index`` is ``labels`` (``[T]`` or ``[T, E]``,
    a column per arm)."""
    columns = [np.reshape(label, (len(label), -1)) for label in labels]
    parts = []
    for arm in range(columns[0].shape[1] if columns else 0):
        counts = [np.bincount(c[:, arm]) for c in columns]
        width = max(len(c) for c in counts)
        mean = np.mean([np.pad(c, (0, width - len(c))) for c in counts], axis=0)
        parts.append(", ".join(f"{k}: {m:.1f}" for k, m in enumerate(mean)))
    prefix = "mean steps per subtask " if len(parts) == 1 else "mean steps per subtask, per arm: "
    return prefix + "; ".join(parts)


def _lerobot_state(root: Path) -> dict[str, str]:
    if not interrupted(root):
        return {}
    return {"state": "interrupted run: only committed episodes are counted; `--resume` the run to finish it"}


def _hdf5_state(file) -> dict[str, str]:
    links = [n for n in file["data"] if isinstance(file["data"].get(n, getlink=True), h5py.ExternalLink)]
    if not links:
        return {}
    return {"state": f"interrupted run: {len(links)} committed demos linked from {Path(file.filename).name}.parts/; "
                     "`--resume` the run to compact them into one file"}
