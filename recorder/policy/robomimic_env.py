"""Our tasks as a robomimic environment (an ``EnvBase`` subclass), so robomimic's rollouts and videos work.

robomimic 0.3.0 picks an env class by the ``type`` in a dataset's ``env_args`` from a fixed list;
``register_with_robomimic`` adds ours (``recorder.dataset.tasks.ENV_TYPE``) to that lookup. Rollout episodes
are seeded from a counter, so the same training run sees the same rollout scenes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import robomimic.envs.env_base as env_base

from recorder.dataset.tasks import ENV_TYPE, episode_seed, make_env, stored_env_kwargs

ROLLOUT_STREAM = 3  # seed stream of rollouts during training (eval uses its own)


class RobomimicEnv(env_base.EnvBase):
    """A mimicrec task behind robomimic's env interface (old-gym style ``step``: obs, reward, done, info)."""

    def __init__(self, env_name: str, render: bool = False, render_offscreen: bool = False,
                 use_image_obs: bool = False, postprocess_visual_obs: bool = True, seed: int = 0,
                 **kwargs: Any) -> None:
        self._env_name, self._kwargs = env_name, stored_env_kwargs(kwargs)  # from a dataset's env_args
        self.env = make_env(env_name, **kwargs)
        self.postprocess_visual_obs = postprocess_visual_obs
        self.use_image_obs = use_image_obs
        self._seed, self._episodes = seed, 0
        self._info: dict[str, Any] = {"success": False}

    def step(self, action: np.ndarray):
        """One control step; ``done`` stays False (robomimic ends rollouts by horizon or success)."""
        obs, reward, _terminated, _truncated, info = self.env.step(np.asarray(action, dtype=np.float32))
        self._info = info
        return self.get_observation(obs), float(reward), False, info

    def reset(self) -> dict[str, np.ndarray]:
        """A new episode, seeded by the episode counter."""
        obs, _ = self.env.reset(seed=episode_seed(self._seed, ROLLOUT_STREAM, self._episodes))
        self._episodes += 1
        self._info = {"success": False}
        return self.get_observation(obs)

    def reset_to(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Restore ``state["states"]``: an exact ``get_state`` blob (uint8), or a flat kinematic state to view."""
        flat = np.asarray(state["states"])
        if flat.dtype == np.uint8:
            self.env.set_state(flat)
        else:
            self.env.show_flat_state(flat)
        self._info = dict(self.env.evaluate())
        return self.get_observation()

    def render(self, mode: str = "human", height: int | None = None, width: int | None = None,
               camera_name: str | None = None) -> np.ndarray:
        """An RGB frame ``[H, W, 3]`` of a camera (default agentview); robomimic's videos use this."""
        return self.env.render_camera(width or 256, height or 256, camera_name or "agentview")

    def get_observation(self, obs: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The observation dict; images become robomimic's network layout when ``postprocess_visual_obs``."""
        obs = dict(self.env.observe() if obs is None else obs)
        return process_images(obs) if self.postprocess_visual_obs else obs

    def get_state(self) -> dict[str, np.ndarray]:
        """The exact simulator state (restorable with ``reset_to``)."""
        return {"states": self.env.get_state()}

    def get_reward(self) -> float:  # noqa: D102
        return float(self._info["success"])

    def get_goal(self) -> None:  # noqa: D102
        return None

    def set_goal(self, **kwargs: Any) -> None:  # noqa: D102
        raise NotImplementedError("mimicrec tasks have no goals")

    def is_done(self) -> bool:  # noqa: D102
        return False

    def is_success(self) -> dict[str, bool]:
        """``{"task": success}`` of the last step (success at rest, as everywhere in mimicrec)."""
        return {"task": bool(self._info["success"])}

    @property
    def action_dimension(self) -> int:  # noqa: D102
        return int(self.env.action_space.shape[0])

    @property
    def name(self) -> str:
        """The task id without "/" (robomimic puts it in checkpoint and video file names)."""
        return self._env_name.replace("/", "-")

    @property
    def type(self) -> int:  # noqa: D102
        return ENV_TYPE

    def serialize(self) -> dict[str, Any]:  # noqa: D102
        return {"env_name": self._env_name, "type": ENV_TYPE, "env_kwargs": dict(self._kwargs)}

    @classmethod
    def create_for_data_processing(cls, env_name: str, camera_names: list[str], camera_height: int,
                                   camera_width: int, reward_shaping: bool, **kwargs: Any) -> RobomimicEnv:
        """An env rendering ``camera_names`` at the given size (robomimic's dataset-processing hook)."""
        cameras = [{"name": name, "width": camera_width, "height": camera_height} for name in camera_names]
        return cls(env_name, use_image_obs=bool(cameras), **{**kwargs, "cameras": cameras})

    @property
    def rollout_exceptions(self) -> tuple[type[Exception], ...]:  # noqa: D102
        return ()

    def __repr__(self) -> str:
        return f"RobomimicEnv({self._env_name}, {self._kwargs})"


def process_images(obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``obs`` with each key robomimic's current obs config calls rgb in network layout (CHW float in [0, 1]).

    Keys the config does not know pass unchanged (looked up with ``get``: robomimic's mapping would
    otherwise register each unknown key as low_dim, with a printed warning).
    """
    import robomimic.utils.obs_utils as obs_utils

    known = obs_utils.OBS_KEYS_TO_MODALITIES or {}
    return {k: obs_utils.process_obs(v, obs_key=k) if known.get(k) == "rgb" else v for k, v in obs.items()}


def register_with_robomimic() -> None:
    """Make robomimic's env lookup return ``RobomimicEnv`` for mimicrec datasets (idempotent)."""
    import robomimic.utils.env_utils as env_utils

    if getattr(env_utils.get_env_class, "mimicrec", False):
        return
    original = env_utils.get_env_class

    def get_env_class(env_meta=None, env_type=None, env=None):
        if env_utils.get_env_type(env_meta=env_meta, env_type=env_type, env=env) == ENV_TYPE:
            return RobomimicEnv
        return original(env_meta=env_meta, env_type=env_type, env=env)

    get_env_class.mimicrec = True
    env_utils.get_env_class = get_env_class
