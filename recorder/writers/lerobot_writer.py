"""Write episodes as a LeRobot v3.0 dataset through lerobot's own ``LeRobotDataset`` writer."""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from dataclasses import dataclass

import numpy as np

from recorder.episode import Episode


@dataclass(frozen=True)
class LeRobotSchema:
    """Which observation keys form ``observation.state`` / ``observation.environment_state``."""

    repo_id: str
    fps: int
    robot_type: str
    instruction: str
    state_keys: tuple[str, ...]
    env_state_keys: tuple[str, ...]
    action_names: tuple[str, ...]
    camera_names: tuple[str, ...] = ()

    def video_key(self, camera: str) -> str:
        """LeRobot feature name of a camera's video."""
        return f"observation.images.{camera}"

    def features(self, obs: dict[str, np.ndarray], action_dim: int) -> dict[str, dict]:
        """LeRobot feature declarations for observations shaped like ``obs`` (``[T, D]`` arrays)."""
        names = {key: [f"{key}_{i}" for i in range(obs[key].shape[-1])] for key in obs}
        state = [n for key in self.state_keys for n in names[key]]
        env_state = [n for key in self.env_state_keys for n in names[key]]
        scalar = {"shape": (1,), "names": None}
        videos = {self.video_key(cam): {"dtype": "video", "shape": obs[f"{cam}_image"].shape[1:],
                                        "names": ["height", "width", "channels"]} for cam in self.camera_names}
        return {
            **videos,
            "observation.state": {"dtype": "float32", "shape": (len(state),), "names": state},
            "observation.environment_state": {"dtype": "float32", "shape": (len(env_state),), "names": env_state},
            "action": {"dtype": "float32", "shape": (action_dim,), "names": list(self.action_names)},
            "next.reward": {"dtype": "float32", **scalar},
            "next.done": {"dtype": "bool", **scalar},
            "next.success": {"dtype": "bool", **scalar},
        }


class LeRobotWriter:
    """Appends episodes to a LeRobot dataset at ``root`` (built in ``root + '.partial'`` until closed)."""

    def __init__(self, root: str, schema: LeRobotSchema) -> None:
        if os.path.exists(root):
            raise FileExistsError(f"{root} already exists")
        self.root = root
        self.partial = root + ".partial"
        shutil.rmtree(self.partial, ignore_errors=True)
        self.schema = schema
        self.dataset = None

    def _create(self, episode: Episode) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        quiet_lerobot()
        self.dataset = LeRobotDataset.create(
            repo_id=self.schema.repo_id, fps=self.schema.fps, root=self.partial,
            robot_type=self.schema.robot_type, use_videos=True,
            features=self.schema.features(episode.obs, episode.actions.shape[-1]),
        )

    def write(self, episode: Episode) -> None:
        """Add every frame of ``episode`` and save it as one LeRobot episode."""
        if self.dataset is None:
            self._create(episode)
        state = np.concatenate([episode.obs[k] for k in self.schema.state_keys], axis=-1)
        env_state = np.concatenate([episode.obs[k] for k in self.schema.env_state_keys], axis=-1)
        for t in range(len(episode)):
            self.dataset.add_frame({
                "observation.state": state[t].astype(np.float32),
                "observation.environment_state": env_state[t].astype(np.float32),
                "action": episode.actions[t].astype(np.float32),
                "next.reward": np.array([episode.rewards[t]], dtype=np.float32),
                "next.done": np.array([bool(episode.dones[t])]),
                "next.success": np.array([bool(episode.successes[t])]),
                "task": self.schema.instruction,
                **{self.schema.video_key(cam): episode.obs[f"{cam}_image"][t] for cam in self.schema.camera_names},
            })
        self.dataset.save_episode(parallel_encoding=False)  # in-process: no pool per episode, our log filters apply

    def close(self) -> None:
        """Finalize the parquet files and move the dataset to ``root``."""
        if self.dataset is None:
            raise ValueError("no episode was written; a LeRobot dataset needs at least one")
        self.dataset.finalize()
        os.replace(self.partial, self.root)

    def abort(self) -> None:
        """Drop the partial dataset."""
        if self.dataset is not None:
            self.dataset.finalize()
        shutil.rmtree(self.partial, ignore_errors=True)


def quiet_lerobot() -> None:
    """Silence progress bars, encoder logs and bool-histogram warnings; skip image embedding without images.

    lerobot 0.4.4's ``embed_images`` runs a row-by-row ``datasets.map`` on every saved episode even
    when the dataset has no image feature (80% of ``save_episode``'s time for low-dim data); the
    guard below calls it only when an image feature exists, so behaviour with images is unchanged.
    """
    import av
    import datasets
    from lerobot.datasets import lerobot_dataset

    os.environ.setdefault("SVT_LOG", "1")  # the AV1 encoder logs its whole configuration per video otherwise
    av.logging.set_level(av.logging.ERROR)
    # lerobot resets the "libav" logger to WARNING on every encode; a filter survives that.
    logging.getLogger("libav").addFilter(lambda record: record.levelno >= logging.ERROR)
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", message="Converting input from bool", category=RuntimeWarning)
    original = lerobot_dataset.embed_images
    if getattr(original, "_mimicrec_guard", False):
        return

    def embed_images_if_any(dataset):
        has_images = any(isinstance(f, datasets.Image) for f in dataset.features.values())
        return original(dataset) if has_images else dataset

    embed_images_if_any._mimicrec_guard = True
    lerobot_dataset.embed_images = embed_images_if_any
