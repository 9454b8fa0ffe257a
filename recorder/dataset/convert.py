"""``mimicrec convert``: a robomimic HDF5 file to a LeRobot v3.0 dataset, and back.

HDF5 -> LeRobot copies the episodes. LeRobot -> HDF5 needs what LeRobot does not store (exact
simulator states, the Mimic fields), so it rebuilds them: every episode is replayed from its reset
seed (the ``seed`` feature mimicrec writes) with its recorded actions, and must reproduce the
recorded ``observation.state`` bit for bit and the recorded success, or the conversion stops.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from envs.errors import DatasetError, UsageError
from envs.interface import MimicEnv
from recorder.dataset.episode import Episode
from recorder.dataset.paths import prepare_output_file
from recorder.dataset.reading import (
    StoredEpisode,
    dataset_env,
    dataset_format,
    demo_names,
    lerobot_episodes,
    mimicrec_meta,
    open_dataset,
)
from recorder.dataset.replay import replay_stored
from recorder.dataset.tasks import env_args, lerobot_schema, make_env, stored_env_kwargs
from recorder.dataset.writers.lerobot_meta import split_columns
from recorder.dataset.writers.lerobot_writer import DEFAULT_VIDEO_CODEC, LeRobotWriter, check_video_codec
from recorder.dataset.writers.robomimic_hdf5 import RobomimicHDF5Writer, read_episodes

FORMATS = ("lerobot", "hdf5")
T = TypeVar("T")


def convert(source: str, to: str, out: str, video_codec: str = DEFAULT_VIDEO_CODEC, progress: bool = False) -> int:
    """Convert ``source`` into format ``to`` at ``out`` (written atomically); returns the episode count.
    ``video_codec``: the camera videos' codec when writing LeRobot (a key of ``VIDEO_CODECS``); ``progress``:
    a bar of the episodes converted."""
    src, dst = Path(source), Path(out)
    if to not in FORMATS:
        raise UsageError(f"--to must be one of {', '.join(FORMATS)}, got {to!r}")
    check_video_codec(video_codec)
    if dataset_format(src) == to:
        raise UsageError(f"{src} is already a {to} dataset; pick the other --to")
    if dst.exists():
        raise UsageError(f"{dst} already exists; pass a new output path")
    prepare_output_file(out)
    if to == "lerobot":
        return _hdf5_to_lerobot(src, dst, video_codec, progress)
    return _lerobot_to_hdf5(src, dst, progress)


def _bar(episodes: Iterable[T], total: int, progress: bool) -> Iterable[T]:
    """``episodes`` counted on a progress bar that shows once the conversion has taken 2 s (replaying LeRobot
    episodes back to HDF5 takes ~0.15 s each), or as they are."""
    return tqdm(episodes, total=total, desc="convert", unit="episode", disable=not progress, delay=2.0)


RUN_ATTRS = ("env_args", "total", "progress")  # file attributes the writers set themselves, or a run's counters


def _hdf5_to_lerobot(src: Path, dst: Path, video_codec: str, progress: bool) -> int:
    with open_dataset(src) as file:
        env_id, kwargs = dataset_env(file)
        attrs = {k: v for k, v in file["data"].attrs.items() if k not in RUN_ATTRS}
        count = len(demo_names(file))
    env = make_env(env_id, **kwargs)
    try:
        schema = lerobot_schema(env_id, env, video_codec)
    finally:
        env.close()
    partial = dst.with_name(dst.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    writer = LeRobotWriter(str(partial), schema, attrs=attrs)
    try:
        for episode in _bar(read_episodes(src), count, progress):
            _check_obs(episode, schema.state_keys + schema.env_state_keys, src)
            writer.write(episode)
        writer.close()
    except BaseException:
        writer.abort()  # finalizes lerobot's open writers first: else they write into the folder after it is gone
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.replace(dst)
    return writer.count


def _check_obs(episode: Episode, keys: tuple[str, ...], src: Path) -> None:
    missing = [k for k in keys if k not in episode.obs]
    if missing:
        raise DatasetError(f"{src}: demos lack the observation keys {missing} that LeRobot's state is built from")


def _lerobot_to_hdf5(src: Path, dst: Path, progress: bool) -> int:
    meta = mimicrec_meta(src, "converted to HDF5")
    args = meta["env_args"]
    env = make_env(args["env_name"], **stored_env_kwargs(args["env_kwargs"]))
    partial = dst.with_name(dst.name + ".partial")  # what a killed run left here is started over
    for stale in (partial, Path(f"{partial}.parts")):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    attrs = meta.get("attrs") or {"recording": json.dumps(meta.get("recording", {}))}
    writer = RobomimicHDF5Writer(str(partial), env_args(args["env_name"], env.env_kwargs), attrs)
    try:
        episodes = list(lerobot_episodes(src, meta))  # their actions and states: small beside the replays
        for stored in _bar(episodes, len(episodes), progress):
            attrs, ends = split_columns(stored.columns)
            episode = _replay_exactly(env, stored, src)
            writer.write(dataclasses.replace(episode, extras=stored.labels, attrs=attrs, subtask_ends=ends))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        env.close()
    if not partial.exists():
        raise DatasetError(f"{src}: holds no committed episodes; there is nothing to convert")
    partial.replace(dst)
    return writer.count


def _replay_exactly(env: MimicEnv, stored: StoredEpisode, src: Path) -> Episode:
    """The episode replayed from its seed; ``DatasetError`` unless it reproduces the stored states and success."""
    episode, differs_at = replay_stored(env, stored)
    if differs_at is not None:
        raise DatasetError(f"{src}: episode {stored.index} does not replay exactly from seed {stored.seed} (state "
                           f"differs at step {differs_at}); it was not recorded with this env or mimicrec version")
    if episode.success != bool(stored.frames["next.success"][-1, 0]):
        raise DatasetError(f"{src}: episode {stored.index} ends with a different success on replay")
    return episode
