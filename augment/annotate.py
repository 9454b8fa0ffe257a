"""``mimicrec annotate``: replay each seed demo exactly, record its Mimic data, find subtask boundaries.

Auto mode finds boundaries from the task's subtask termination signals (mimic.yaml order). A demo
that does not replay to success, misses a boundary, or could lose a subtask under the configured
offsets is reported with the reason and left out of the output (never silently).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from augment.spec import MimicSpec, load_mimic_spec
from envs.errors import DatasetError, UsageError
from recorder.datasets_io import dataset_env, demo_names, open_dataset, read_actions_and_initial_state
from recorder.episode import Episode, EpisodeBuilder
from recorder.tasks import make_env
from recorder.writers.robomimic_hdf5 import write_masks

log = logging.getLogger(__name__)


@dataclass
class AnnotateResult:
    """The annotated file, the demos kept, and the reason for each demo left out."""

    out_path: Path
    kept: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


def replay_demo(env, actions: np.ndarray, initial_state: np.ndarray, seed: int) -> Episode:
    """Restore ``initial_state`` exactly and replay ``actions``, recording obs, states and datagen info."""
    env.reset(seed=seed)
    env.set_state(initial_state)
    builder = EpisodeBuilder(env, seed, env.unwrapped._observe())
    for action in actions:
        builder.step(action)
    return builder.build()


def subtask_ends(signals: dict[str, np.ndarray], term_signals: list[str], length: int) -> list[int]:
    """Exclusive end index of each subtask: the first 0->1 edge of its signal after the previous end.

    The last subtask (no signal) ends with the demo. Raises ``ValueError`` naming a missing edge.
    """
    ends, start = [], 0
    for name in term_signals:
        flag = np.asarray(signals[name]).astype(bool)
        rising = np.flatnonzero(flag[1:] & ~flag[:-1]) + 1
        after = rising[rising > start]
        if len(after) == 0:
            raise ValueError(f"signal {name!r} never turns on after step {start}")
        start = int(after[0])
        ends.append(start)
    return [*ends, length]


def check_offsets(ends: list[int], offset_ranges: list[tuple[int, int]]) -> None:
    """Raise ``ValueError`` if some subtask could become empty under the worst-case offsets."""
    prev_latest = 0
    for i, (end, (lo, hi)) in enumerate(zip(ends, offset_ranges, strict=True)):
        if end + lo <= prev_latest:
            raise ValueError(f"subtask {i} may be empty: it ends at step {end} + offset {lo}, "
                             f"but the previous one may end at {prev_latest}; lower term_offset_range")
        prev_latest = min(end + hi, ends[-1] - 1) if i < len(ends) - 1 else end
    if prev_latest > ends[-1]:
        raise ValueError("the last subtask may be empty; lower the offsets")


def annotate(in_path: str, out_path: str | None = None, mode: str = "auto",
             config: str | None = None) -> AnnotateResult:
    """Annotate every demo of ``in_path`` into ``out_path`` (default: ``<in>_annotated.hdf5``)."""
    if mode != "auto":
        raise UsageError("manual annotation is not available yet; use --auto")
    out = Path(out_path) if out_path else Path(in_path).with_name(Path(in_path).stem + "_annotated.hdf5")
    if out.resolve() == Path(in_path).resolve():
        raise UsageError("--out must differ from the input file; the input is never modified")
    with open_dataset(in_path) as src:
        env_id, env_kwargs = dataset_env(src)
        spec = load_mimic_spec(config, env_id)
        env = make_env(env_id, **env_kwargs).unwrapped
        try:
            result = _annotate_file(src, env, spec, out)
        finally:
            env.close()
    return result


def _annotate_file(src: h5py.File, env, spec: MimicSpec, out: Path) -> AnnotateResult:
    result = AnnotateResult(out)
    partial = str(out) + ".partial"
    try:
        with h5py.File(partial, "w") as dst:
            dst.create_group("data")
            for key, value in src["data"].attrs.items():
                dst["data"].attrs[key] = value
            total = 0
            for name in demo_names(src):
                total += _annotate_demo(src, dst, name, env, spec, result)
            if not result.kept:
                raise DatasetError(f"{src.filename}: no demo could be annotated ({_reasons(result)})")
            dst["data"].attrs["total"] = total
            dst["data"].attrs["mimic_spec"] = spec.task
            write_masks(dst, result.kept)
        os.replace(partial, out)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return result


def _annotate_demo(src: h5py.File, dst: h5py.File, name: str, env, spec: MimicSpec, result: AnnotateResult) -> int:
    demo = src["data"][name]
    actions, initial_state = read_actions_and_initial_state(demo, src.filename)
    episode = replay_demo(env, actions, initial_state, int(demo.attrs.get("seed", 0)))
    try:
        if not episode.success:
            raise ValueError("replay from the stored initial state does not end in success")
        bounds = {eef: _eef_bounds(episode, eef_spec) for eef, eef_spec in spec.eefs.items()}
    except ValueError as err:
        result.rejected[name] = str(err)
        log.warning("%s: left out: %s", name, err)
        return 0
    out_name = f"demo_{len(result.kept)}"
    src.copy(demo, dst["data"], name=out_name)
    group = dst["data"][out_name]
    group.attrs["source_demo"] = name
    if "datagen_info" in group:
        del group["datagen_info"]
    episode.datagen_info.write(group.create_group("datagen_info"))
    for eef, ends in bounds.items():
        group.create_dataset(f"datagen_info/subtask_term_inds/{eef}", data=np.asarray(ends, dtype=np.int64))
    result.kept.append(out_name)
    return len(episode)


def _eef_bounds(episode: Episode, eef_spec) -> list[int]:
    subtasks = eef_spec.subtasks
    signals = [s.term_signal for s in subtasks[:-1]]
    ends = subtask_ends(episode.datagen_info.subtask_term_signals, signals, len(episode))
    check_offsets(ends, [s.term_offset_range for s in subtasks])
    return ends


def _reasons(result: AnnotateResult) -> str:
    return "; ".join(f"{k}: {v}" for k, v in result.rejected.items())
