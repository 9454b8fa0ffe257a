"""One replay routine for every command that re-runs stored actions (annotate, replay, convert), and
``mimicrec replay``: check that a dataset's demos replay exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import h5py
import numpy as np

from envs.errors import DatasetError
from envs.interface import MimicEnv
from recorder.dataset.episode import Episode, EpisodeBuilder
from recorder.dataset.reading import dataset_env, demo_names, open_dataset, read_actions_and_initial_state
from recorder.dataset.tasks import make_env
from recorder.dataset.video import write_video


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


@dataclass(frozen=True)
class DemoReplay:
    """One demo replayed from its initial state: length, success then and now, states identical."""

    name: str
    steps: int
    recorded_success: bool
    replay_success: bool
    states_identical: bool


def replay(path: str, demo: int | None = None, video: str | None = None, size: int = 256) -> list[DemoReplay]:
    """Replay every demo (or ``demo_<demo>``) of ``path`` from its stored initial state."""
    with open_dataset(path) as file:
        env_id, kwargs = dataset_env(file)
        names = demo_names(file)
        if demo is not None:
            if f"demo_{demo}" not in names:
                raise DatasetError(f"{path}: no demo_{demo}; it has demo_0 .. demo_{len(names) - 1}")
            names = [f"demo_{demo}"]
        env = make_env(env_id, **kwargs)
        frames: list[np.ndarray] = []
        grab = (lambda: frames.append(env.render_camera(size, size))) if video else None
        try:
            results = [_check_replay(file["data"][name], replay_demo(env, file["data"][name], path, grab))
                       for name in names]
        finally:
            env.close()
    if video:
        write_video(video, frames, env.control_freq)
    return results


def _check_replay(group: h5py.Group, episode: Episode) -> DemoReplay:
    recorded = group["states"][()] if "states" in group else None
    identical = recorded is not None and np.array_equal(episode.states, recorded)
    return DemoReplay(group.name.split("/")[-1], len(episode), bool(np.any(group["rewards"][()] > 0)),
                      bool(episode.successes.any()), identical)
