"""``mimicrec annotate``: replay each seed demo exactly, record its Mimic data, find subtask boundaries.

Auto mode finds boundaries from the task's subtask termination signals (mimic.yaml order); manual
mode shows each replayed demo in pybullet's viewer and takes the boundaries from the keyboard
(``augment.annotate_manual``). A demo that does not replay to success, misses a boundary, could
lose a subtask under the configured offsets, or is skipped is reported with the reason and left
out of the output (never silently).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from augment.annotate_manual import MANUAL_BINDINGS, MarkSession, QuitAnnotation, mark_in_viewer
from augment.source import STORED_SPEC_ATTR
from augment.spec import MimicSpec, check_spec_fits_task, load_mimic_spec, spec_attrs, spec_path, spec_text
from envs.errors import DatasetError, UsageError
from envs.interface import MimicEnv
from recorder.dataset.episode import Episode
from recorder.dataset.paths import prepare_output_file
from recorder.dataset.reading import dataset_env, demo_names, open_dataset
from recorder.dataset.replay import replay_demo
from recorder.dataset.tasks import make_env
from recorder.dataset.writers.robomimic_hdf5 import SUBTASK_ENDS, write_masks
from recorder.devices.keyboard import KeyListener
from recorder.record import show_bindings

log = logging.getLogger(__name__)


@dataclass
class AnnotateResult:
    """The annotated file, the demos kept, and the reason for each demo left out."""

    out_path: Path
    kept: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


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
    if mode not in ("auto", "manual"):
        raise UsageError(f"annotation mode must be auto or manual, got {mode!r}")
    out = Path(out_path) if out_path else Path(in_path).with_name(Path(in_path).stem + "_annotated.hdf5")
    if out.resolve() == Path(in_path).resolve():
        raise UsageError("--out must differ from the input file; the input is never modified")
    prepare_output_file(str(out))
    with open_dataset(in_path) as src:
        env_id, env_kwargs = dataset_env(src)
        spec = load_mimic_spec(config, env_id)
        env = make_env(env_id, **env_kwargs, gui=mode == "manual")
        keys = KeyListener() if mode == "manual" else None
        try:
            check_spec_fits_task(spec, spec_path(config, env_id), env_id, env.eef_names, env.get_object_poses(),
                                 env.get_subtask_term_signals())
            if keys is not None:
                keys.start()
                show_bindings(env, MANUAL_BINDINGS)
            bounds_of = _auto_bounds(spec) if keys is None else _manual_bounds(env, spec, keys)
            result = _annotate_file(src, env, bounds_of, spec, out)
        finally:
            if keys is not None:
                keys.stop()
            env.close()
    return result


BoundsOf = Callable[[str, Episode], dict[str, list[int]]]  # (demo name, replayed episode) -> ends per eef


def _annotate_file(src: h5py.File, env: MimicEnv, bounds_of: BoundsOf, spec: MimicSpec, out: Path) -> AnnotateResult:
    result = AnnotateResult(out)
    partial = str(out) + ".partial"
    try:
        with h5py.File(partial, "w") as dst:
            dst.create_group("data")
            for key, value in src["data"].attrs.items():
                dst["data"].attrs[key] = value
            total = 0
            names = demo_names(src)
            for i, name in enumerate(names):
                try:
                    total += _annotate_demo(src, dst, name, env, bounds_of, result)
                except QuitAnnotation:
                    result.rejected.update({rest: "not annotated: the annotator quit" for rest in names[i:]})
                    break
            if not result.kept:
                raise DatasetError(f"{src.filename}: no demo could be annotated ({_reasons(result)})")
            dst["data"].attrs["total"] = total
            dst["data"].attrs.update({**spec_attrs(spec), STORED_SPEC_ATTR: spec_text(spec)})
            write_masks(dst, result.kept)
        os.replace(partial, out)
    except BaseException:
        if os.path.exists(partial):
            os.unlink(partial)
        raise
    return result


def _annotate_demo(src: h5py.File, dst: h5py.File, name: str, env: MimicEnv, bounds_of: BoundsOf,
                   result: AnnotateResult) -> int:
    demo = src["data"][name]
    episode = replay_demo(env, demo, src.filename)
    try:
        if not episode.success:
            raise ValueError("replay from the stored initial state does not end in success")
        bounds = bounds_of(name, episode)
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
        group.create_dataset(f"{SUBTASK_ENDS}/{eef}", data=np.asarray(ends, dtype=np.int64))
    result.kept.append(out_name)
    return len(episode)


def _auto_bounds(spec: MimicSpec) -> BoundsOf:
    """Boundaries from the task's subtask signals."""
    return lambda name, episode: {eef: _eef_bounds(episode, eef_spec) for eef, eef_spec in spec.eefs.items()}


def _manual_bounds(env: MimicEnv, spec: MimicSpec, keys: KeyListener) -> BoundsOf:
    """Boundaries marked by hand in the viewer; marks that break the offsets are refused on Enter."""
    needed = {eef: len(eef_spec.subtasks) - 1 for eef, eef_spec in spec.eefs.items()}

    def bounds(name: str, episode: Episode) -> dict[str, list[int]]:
        try:
            hint = f"the task's signals suggest {_auto_bounds(spec)(name, episode)}"
        except ValueError as err:
            hint = f"no suggestion from the task's signals ({err})"
        _say(f"{name}: {len(episode)} steps; mark the end of every subtask but the last ({needed}); {hint}")
        session = MarkSession(len(episode), needed)
        while True:
            marks = mark_in_viewer(session, lambda t: env.show_flat_state(episode.states[t]),
                                   lambda: keys.read()[1], _say, 1.0 / env.control_freq)
            ends = {eef: [*marks[eef], len(episode)] for eef in needed}
            try:
                for eef, eef_spec in spec.eefs.items():
                    check_offsets(ends[eef], [s.term_offset_range for s in eef_spec.subtasks])
            except ValueError as err:
                session.message = f"{eef}: {err}; U undoes a mark"
                continue
            _say(f"{name}: accepted {ends}")
            return ends

    return bounds


def _say(line: str) -> None:
    """Tell the person annotating (the log, at the level that is always shown)."""
    log.warning("%s", line)


def _eef_bounds(episode: Episode, eef_spec) -> list[int]:
    subtasks = eef_spec.subtasks
    signals = [s.term_signal for s in subtasks[:-1]]
    ends = subtask_ends(episode.datagen_info.subtask_term_signals, signals, len(episode))
    check_offsets(ends, [s.term_offset_range for s in subtasks])
    return ends


def _reasons(result: AnnotateResult) -> str:
    return "; ".join(f"{k}: {v}" for k, v in result.rejected.items())
