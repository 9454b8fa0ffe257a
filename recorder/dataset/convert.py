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
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from envs.errors import DatasetError, UsageError
from envs.interface import MimicEnv
from recorder.dataset.episode import Episode
from recorder.dataset.reading import dataset_env, open_dataset, read_lerobot, read_lerobot_info
from recorder.dataset.replay import replay_actions
from recorder.dataset.tasks import env_args, lerobot_schema, make_env, stored_env_kwargs
from recorder.dataset.writers.lerobot_writer import LEROBOT_OWN_FEATURES, MIMICREC_META, LeRobotWriter
from recorder.dataset.writers.robomimic_hdf5 import RobomimicHDF5Writer, read_episodes

FORMATS = ("lerobot", "hdf5")


def dataset_format(path: Path) -> str:
    """``hdf5`` for a file, ``lerobot`` for a LeRobot dataset folder; ``DatasetError`` otherwise."""
    if path.is_file():
        return "hdf5"
    if (path / "meta" / "info.json").is_file():
        return "lerobot"
    raise DatasetError(f"{path}: neither an HDF5 file nor a LeRobot dataset folder (no meta/info.json)")


def convert(source: str, to: str, out: str) -> int:
    """Convert ``source`` into format ``to`` at ``out`` (written atomically); returns the episode count."""
    src, dst = Path(source), Path(out)
    if to not in FORMATS:
        raise UsageError(f"--to must be one of {', '.join(FORMATS)}, got {to!r}")
    if dataset_format(src) == to:
        raise UsageError(f"{src} is already a {to} dataset; pick the other --to")
    if dst.exists():
        raise UsageError(f"{dst} already exists; pass a new output path")
    return _hdf5_to_lerobot(src, dst) if to == "lerobot" else _lerobot_to_hdf5(src, dst)


def _hdf5_to_lerobot(src: Path, dst: Path) -> int:
    with open_dataset(src) as file:
        env_id, kwargs = dataset_env(file)
    env = make_env(env_id, **kwargs)
    try:
        schema = lerobot_schema(env_id, env)
    finally:
        env.close()
    partial = dst.with_name(dst.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    writer = LeRobotWriter(str(partial), schema)
    try:
        for episode in read_episodes(src):
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


def _lerobot_to_hdf5(src: Path, dst: Path) -> int:
    meta = src / MIMICREC_META
    if not meta.is_file():
        raise DatasetError(f"{src}: no {MIMICREC_META}; only LeRobot datasets written by mimicrec can be "
                           "converted to HDF5 (it rebuilds exact simulator states by replaying seeds)")
    args = json.loads(meta.read_text())["env_args"]
    env = make_env(args["env_name"], **stored_env_kwargs(args["env_kwargs"]))
    partial = dst.with_name(dst.name + ".partial")  # what a killed run left here is started over
    for stale in (partial, Path(f"{partial}.parts")):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)
    writer = RobomimicHDF5Writer(str(partial), env_args(args["env_name"], env.env_kwargs))
    try:
        for index, frames, labels in _lerobot_episodes(src):
            writer.write(dataclasses.replace(_replay_episode(env, frames, src, index), extras=labels))
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


STANDARD_COLUMNS = ("episode_index", "action", "seed", "next.success", "observation.state")


def _lerobot_episodes(src: Path) -> Iterator[tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """(episode index, its frames of the columns replay needs, its per-step labels) of every episode."""
    info = read_lerobot_info(src)
    labels = [name for name, feature in info.get("features", {}).items()
              if name not in LEROBOT_OWN_FEATURES and name != "seed" and feature.get("dtype") == "int64"]
    columns = [*STANDARD_COLUMNS, *labels]
    _, table = read_lerobot(src, columns)
    if table is None:
        return
    index = np.asarray(table["episode_index"])
    data = {name: np.stack(table[name].to_numpy(zero_copy_only=False)).reshape(len(index), -1) for name in columns[1:]}
    for episode in np.unique(index):
        rows = index == episode
        frames = {name: data[name][rows] for name in STANDARD_COLUMNS[1:]}
        yield int(episode), frames, {name: _label(data[name][rows]) for name in labels}


def _label(value: np.ndarray) -> np.ndarray:
    """A label column ``[T, E]`` as the HDF5 holds it: ``[T]`` for one column."""
    return value[:, 0] if value.shape[1] == 1 else value


def _replay_episode(env: MimicEnv, frames: dict[str, np.ndarray], src: Path, index: int) -> Episode:
    seed = int(frames["seed"][0, 0])
    episode = replay_actions(env, frames["action"], seed)
    state_keys = env.config.observation.state_keys
    state = np.concatenate([episode.obs[k] for k in state_keys], axis=-1).astype(np.float32)
    if not np.array_equal(state, frames["observation.state"]):
        step = int(np.argmax(np.any(state != frames["observation.state"], axis=-1)))
        raise DatasetError(f"{src}: episode {index} does not replay exactly from seed {seed} (state differs at "
                           f"step {step}); it was not recorded with this env or mimicrec version")
    if bool(episode.successes[-1]) != bool(frames["next.success"][-1, 0]):
        raise DatasetError(f"{src}: episode {index} ends with a different success on replay")
    return episode
