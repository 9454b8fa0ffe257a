"""One replay routine for every command that re-runs stored actions (annotate, replay, convert), and
``mimicrec replay``: check that a dataset's demos replay exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from envs.errors import DatasetError
from envs.interface import MimicEnv
from recorder.dataset.episode import Episode, EpisodeBuilder
from recorder.dataset.reading import (
    StoredEpisode,
    dataset_env,
    dataset_format,
    demo_names,
    lerobot_episodes,
    mimicrec_meta,
    open_dataset,
    read_actions_and_initial_state,
)
from recorder.dataset.tasks import make_env, stored_env_kwargs
from recorder.dataset.video import ReplayViews


def replay_actions(env: MimicEnv, actions: np.ndarray, seed: int, initial_state: np.ndarray | None = None,
                   on_step: Callable[[], None] | None = None) -> Episode:
    """Reset to ``seed`` (then restore ``initial_state`` exactly, if given) and step ``actions`` ``[T, A]``.

    Returns the replayed ``Episode`` with its states, successes and Mimic fields; ``on_step()`` runs
    after every step (e.g. to grab a video frame).
    """
    obs, _ = env.reset(seed=seed)
    if initial_state is not None:
        env.set_state(initial_state)
        obs = env.observe()
    builder = EpisodeBuilder(env, seed, obs)
    for action in actions:
        builder.step(action)
        if on_step is not None:
            on_step()
    return builder.build()


def replay_demo(env: MimicEnv, demo: h5py.Group, where: str, on_step: Callable[[], None] | None = None) -> Episode:
    """Replay a stored demo group from its exact initial state (``DatasetError`` if it cannot be)."""
    actions, initial_state = read_actions_and_initial_state(demo, where)
    return replay_actions(env, actions, int(demo.attrs.get("seed", 0)), initial_state, on_step)


def replay_stored(env: MimicEnv, stored: StoredEpisode,
                  on_step: Callable[[], None] | None = None) -> tuple[Episode, int | None]:
    """Replay a LeRobot episode from its seed: (the episode, the first step whose ``observation.state``
    differs from the stored one, or None when every step is identical)."""
    episode = replay_actions(env, stored.frames["action"], stored.seed, on_step=on_step)
    state = np.concatenate([episode.obs[k] for k in env.config.observation.state_keys], axis=-1).astype(np.float32)
    recorded = stored.frames["observation.state"]
    if state.shape == recorded.shape and np.array_equal(state, recorded):
        return episode, None
    differs = np.any(state != recorded, axis=-1) if state.shape == recorded.shape else np.ones(1, dtype=bool)
    return episode, int(np.argmax(differs))


@dataclass(frozen=True)
class DemoReplay:
    """One demo replayed from its initial state: length, success then and now, states identical."""

    name: str
    steps: int
    recorded_success: bool
    replay_success: bool
    states_identical: bool

    @property
    def good(self) -> bool:
        """Whether it replays exactly: the same success and identical states."""
        return self.replay_success == self.recorded_success and self.states_identical

    @property
    def caption(self) -> str:
        """One line: name, steps, success, and whether the states differ."""
        outcome = "success" if self.replay_success else "no success"
        return f"{self.name}: {self.steps} steps, {outcome}" + ("" if self.states_identical else ", STATES DIFFER")


def replay(path: str, demo: int | None = None, views: ReplayViews | None = None,
           on_result: Callable[[DemoReplay], None] = lambda result: None) -> list[DemoReplay]:
    """Replay every demo (or ``demo_<demo>``) of an HDF5 file from its stored initial state, or every
    episode (or episode ``demo``) of a LeRobot dataset mimicrec wrote from its seed; ``views`` draws a
    video or contact sheet of the replay; ``on_result`` sees each demo's result as it comes."""
    views = views or ReplayViews()
    if dataset_format(Path(path)) == "lerobot":
        results, fps = _replay_lerobot(Path(path), demo, views, on_result)
    else:
        results, fps = _replay_hdf5(path, demo, views, on_result)
    views.write(fps, [(r.caption, r.replay_success and r.good) for r in results])
    return results


def _replay_hdf5(path: str, demo: int | None, views: ReplayViews,
                 on_result: Callable[[DemoReplay], None]) -> tuple[list[DemoReplay], int]:
    with open_dataset(path) as file:
        env_id, kwargs = dataset_env(file)
        names = demo_names(file)
        if demo is not None:
            if f"demo_{demo}" not in names:
                raise DatasetError(f"{path}: no demo_{demo}; it has demo_0 .. demo_{len(names) - 1}")
            names = [f"demo_{demo}"]
        env = make_env(env_id, **kwargs)
        try:
            results = []
            for name in names:
                group = file["data"][name]
                grab = views.hook(env.render_camera, len(group["actions"]))
                results.append(_check_replay(group, replay_demo(env, group, path, grab)))
                on_result(results[-1])
        finally:
            env.close()
    return results, env.control_freq


def _check_replay(group: h5py.Group, episode: Episode) -> DemoReplay:
    recorded = group["states"][()] if "states" in group else None
    identical = recorded is not None and np.array_equal(episode.states, recorded)
    return DemoReplay(group.name.split("/")[-1], len(episode), bool(np.any(group["rewards"][()] > 0)),
                      bool(episode.successes.any()), identical)


def _replay_lerobot(root: Path, episode: int | None, views: ReplayViews,
                    on_result: Callable[[DemoReplay], None]) -> tuple[list[DemoReplay], int]:
    meta = mimicrec_meta(root, "replayed")
    stored = [e for e in lerobot_episodes(root, meta) if episode is None or e.index == episode]
    if not stored:
        held = [] if episode is None else [e.index for e in lerobot_episodes(root, meta)]  # read again: an error
        if not held:
            raise DatasetError(f"{root}: holds no episodes")
        raise DatasetError(f"{root}: no episode {episode}; it has episodes {held[0]} .. {held[-1]}")
    env = make_env(meta["env_args"]["env_name"], **stored_env_kwargs(meta["env_args"]["env_kwargs"]))
    try:
        results = []
        for item in stored:
            grab = views.hook(env.render_camera, len(item.frames["action"]))
            replayed, differs_at = replay_stored(env, item, grab)
            results.append(DemoReplay(f"episode_{item.index}", len(replayed), bool(item.frames["next.success"].any()),
                                      bool(replayed.successes.any()), differs_at is None))
            on_result(results[-1])
    finally:
        env.close()
    return results, env.control_freq
