"""One recorded episode, as every writer receives it, and the builder that fills it step by step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.interface import MimicEnv
from recorder.dataset.datagen_info import DatagenInfo, DatagenInfoRecorder


@dataclass(frozen=True)
class Episode:
    """Everything needed to store and rebuild an episode.

    ``obs[k][t]`` is the observation before ``actions[t]``; ``next_obs[k][t]`` the one after it.
    ``states[t]`` is the flat kinematic state before ``actions[t]``; ``initial_state`` the exact
    simulator state at reset (``env.set_state`` restores it), ``seed`` the reset seed that rebuilds it.
    ``extras`` are per-step labels (``[T]`` or ``[T, arms]``), ``attrs`` per-episode attributes, and
    ``subtask_ends`` an annotated demo's exclusive subtask ends per end effector.
    """

    obs: dict[str, np.ndarray]
    next_obs: dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    successes: np.ndarray
    states: np.ndarray
    initial_state: np.ndarray
    seed: int
    datagen_info: DatagenInfo | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    subtask_ends: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def nbytes(self) -> int:
        """Bytes of its per-step arrays (observations, actions, states; the Mimic data not counted)."""
        arrays = [*self.obs.values(), *self.next_obs.values(), self.actions, self.states]
        return sum(np.asarray(a).nbytes for a in arrays)

    @property
    def success(self) -> bool:
        """Whether the task was solved at the last step (success holds only at rest)."""
        return bool(len(self.successes) and self.successes[-1])


class EpisodeBuilder:
    """Collects per-step data while an env is driven; ``build`` returns the ``Episode``."""

    def __init__(self, env: MimicEnv, seed: int, obs: dict[str, np.ndarray], with_datagen_info: bool = True) -> None:
        self.env = env
        self.seed = seed
        self.initial_state = env.get_state()
        self.last_obs = obs
        self.rows: dict[str, list] = {k: [] for k in ("obs", "next_obs", "actions", "rewards", "successes", "states")}
        self.datagen = DatagenInfoRecorder() if with_datagen_info else None
        self.last_info: dict[str, Any] | None = None  # the last step's info: the task's flags now

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Step the env with ``action``, recording everything; returns the new obs and info."""
        action = np.asarray(action, dtype=np.float32).clip(-1.0, 1.0)
        self.rows["states"].append(self.env.get_flat_state())
        if self.datagen is not None:
            self.datagen.add(self.env, action, self.last_info)
        obs, reward, _terminated, _truncated, info = self.env.step(action)
        self.last_info = info
        for key, value in (("obs", self.last_obs), ("next_obs", obs), ("actions", action),
                           ("rewards", reward), ("successes", bool(info["success"]))):
            self.rows[key].append(value)
        self.last_obs = obs
        return obs, info

    def build(self, attrs: dict[str, Any] | None = None, extras: dict[str, np.ndarray] | None = None) -> Episode:
        """The finished episode; ``dones`` is 1 only at the last step."""
        count = len(self.rows["actions"])
        dones = np.zeros(count, dtype=np.int64)
        dones[-1:] = 1
        return Episode(
            obs=stack_dicts(self.rows["obs"]),
            next_obs=stack_dicts(self.rows["next_obs"]),
            actions=np.stack(self.rows["actions"]).astype(np.float32),
            rewards=np.asarray(self.rows["rewards"], dtype=np.float32),
            dones=dones,
            successes=np.asarray(self.rows["successes"], dtype=bool),
            states=np.stack(self.rows["states"]),
            initial_state=self.initial_state,
            seed=self.seed,
            datagen_info=self.datagen.build() if self.datagen is not None else None,
            attrs=dict(attrs or {}),
            extras=dict(extras or {}),
        )


def stack_dicts(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """A list of per-step dicts -> one dict of ``[T, ...]`` arrays."""
    return {key: np.stack([row[key] for row in rows]) for key in rows[0]}
