"""Write episodes as a LeRobot v3.0 dataset through lerobot's own ``LeRobotDataset`` writer."""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.errors import DatasetError, UsageError
from recorder.dataset.episode import Episode
from recorder.dataset.paths import write_atomically
from recorder.dataset.writers.lerobot_lean import cache_task_indices, lean_save_episode, write_deferred_metadata
from recorder.dataset.writers.lerobot_meta import (
    META_FEATURE,
    MIMICREC_META,
    attr_frame_value,
    build_meta,
    episode_columns,
    episode_features,
    read_meta,
)
from recorder.imports import import_heavy

# Camera video codecs (--video-codec) -> lerobot's encoder names. AV1 is lerobot's default; h264 encodes an 84x84
# video ~3.5x cheaper (2 x 0.05 s instead of 2 x 0.18 s of CPU per StackThree demo) into a smaller file at that size.
VIDEO_CODECS = {"av1": "libsvtav1", "h264": "h264", "hevc": "hevc"}
DEFAULT_VIDEO_CODEC = "av1"


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
    env_args: str = "{}"  # JSON of the robomimic env_args, kept with the dataset's metadata
    recording: str = "{}"  # JSON of the task config's recording metadata (instruction, robot type, extra)
    eef_names: tuple[str, ...] = ()  # the arms, in the order of a per-arm label's components
    video_codec: str = DEFAULT_VIDEO_CODEC  # a key of VIDEO_CODECS: how camera videos are encoded

    def video_key(self, camera: str) -> str:
        """LeRobot feature name of a camera's video."""
        return f"observation.images.{camera}"

    def features(self, obs: dict[str, np.ndarray], action_dim: int,
                 labels: dict[str, np.ndarray] | None = None) -> dict[str, dict]:
        """LeRobot feature declarations for observations shaped like ``obs`` (``[T, D]`` arrays) and the
        per-step integer ``labels`` (``[T]`` or ``[T, E]``: a generated demo's ``subtask_index``, ...)."""
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
            "seed": {"dtype": "int64", **scalar},  # the episode's reset seed: rebuilds its exact initial state
            **{name: {"dtype": "int64", "shape": label_shape(value), "names": self.label_names(value)}
               for name, value in (labels or {}).items()},
        }

    def label_names(self, value: np.ndarray) -> list[str] | None:
        """Component names of a per-step label: the arms when it has a column per arm."""
        shape = label_shape(value)
        return list(self.eef_names) if np.ndim(value) == 2 and shape == (len(self.eef_names),) else None


def label_shape(value: np.ndarray) -> tuple[int, ...]:
    """A per-step label's LeRobot shape: ``(1,)`` for ``[T]``, ``(E,)`` for ``[T, E]``."""
    return tuple(np.shape(value)[1:]) or (1,)


class LeRobotWriter:
    """Appends episodes to a LeRobot dataset at ``root``; ``commit()`` makes them durable and readable.

    lerobot keeps a parquet writer open until ``finalize()``, so an unfinalized dataset is unreadable.
    A commit finalizes, records the committed files and the three metadata files lerobot rewrites
    (``meta/mimicrec_commit.json``), and points lerobot at new files for the next episodes (its own
    resume mechanism), so committed files are never written again. After a crash inside a commit,
    ``rollback`` restores the last committed state; ``close`` drops the journal.
    ``attrs`` are the dataset's attributes (as the HDF5 file's ``data`` attributes), kept with its metadata.
    """

    def __init__(self, root: str, schema: LeRobotSchema, resume: bool = False, attrs: dict | None = None,
                 lean: bool = True) -> None:
        self.root = Path(root)
        self.schema = schema
        self.lean = lean  # False: lerobot's add_frame/save_episode exactly as shipped (the reference for tests)
        self.attrs = {"recording": schema.recording, **(attrs or {})}
        self.dataset = None
        self.episode_attrs: dict[str, dict] = {}  # the per-episode columns and their declarations
        self.count = self.pending = 0
        if resume and self.root.exists():
            if rollback(self.root):
                self.dataset = _open_existing(self.root, schema)
                self.count = self.dataset.meta.total_episodes
                features = self.dataset.meta.features
                self.episode_attrs = {name: features[name] for name in
                                      read_meta(self.root, self.dataset.meta.info).get("episode_attrs", [])}
        elif self.root.exists():
            raise FileExistsError(f"{root} already exists")

    def write(self, episode: Episode) -> None:
        """Save ``episode`` as one LeRobot episode (durable at the next commit)."""
        if self.dataset is None:
            self._create(episode)
        columns = self._columns(episode)
        if self.lean:
            self._save_lean(columns, len(episode))
        else:
            for t in range(len(episode)):
                self.dataset.add_frame({name: value[t] for name, value in columns.items()})
            self.dataset.save_episode(parallel_encoding=False)
        drop_realtime_priority()
        self.count += 1
        self.pending += 1

    def _columns(self, episode: Episode) -> dict[str, np.ndarray | list]:
        """Every feature of ``episode`` as one ``[T, ...]`` array per feature (the task and video frames too)."""
        length = len(episode)
        state = np.concatenate([episode.obs[k] for k in self.schema.state_keys], axis=-1)
        env_state = np.concatenate([episode.obs[k] for k in self.schema.env_state_keys], axis=-1)
        per_episode = {name: _repeat(value, length) for name, value in self._episode_values(episode).items()}
        return {
            "observation.state": state.astype(np.float32),
            "observation.environment_state": env_state.astype(np.float32),
            "action": episode.actions.astype(np.float32),
            "next.reward": np.asarray(episode.rewards, dtype=np.float32).reshape(length, 1),
            "next.done": np.asarray(episode.dones, dtype=bool).reshape(length, 1),
            "next.success": np.asarray(episode.successes, dtype=bool).reshape(length, 1),
            "seed": np.full((length, 1), episode.seed, dtype=np.int64),
            **{name: np.asarray(value, dtype=np.int64).reshape(length, *label_shape(value))
               for name, value in episode.extras.items()},
            **per_episode,
            "task": [self.schema.instruction] * length,
            **{self.schema.video_key(cam): episode.obs[f"{cam}_image"] for cam in self.schema.camera_names},
        }

    def _save_lean(self, columns: dict[str, np.ndarray | list], length: int) -> None:
        """Hand lerobot's ``save_episode`` the whole episode at once (its ``episode_data`` argument) instead of
        frame by frame through ``add_frame``; video frames go to its streaming encoder as ``add_frame`` sends them."""
        video_keys = list(self.dataset.meta.video_keys)
        filled_in = {"episode_index": self.dataset.meta.total_episodes, "frame_index": np.arange(length),
                     "timestamp": np.arange(length) / self.dataset.fps, "index": None, "task_index": None,
                     **{key: [None] * length for key in video_keys}}  # lerobot fills index and task_index in
        buffer = {"size": length, "task": columns["task"]}  # in add_frame's order: lerobot's statistics follow it
        buffer.update({key: filled_in[key] if key in filled_in else columns[key] for key in self.dataset.features})
        with lean_save_episode(self.dataset):  # the encoder threads start inside: their statistics are lean too
            if video_keys:
                encoder = self.dataset._streaming_encoder
                encoder.start_episode(video_keys=video_keys, temp_dir=self.root)
                for t in range(length):
                    for key in video_keys:
                        encoder.feed_frame(key, columns[key][t])
            self.dataset.save_episode(episode_data=buffer, parallel_encoding=False)  # in-process: our log filters

    def commit(self, progress: dict | None = None) -> None:  # noqa: ARG002  (progress lives in the HDF5 index)
        """Finalize the files written since the last commit and journal the committed state."""
        if not self.pending:
            return
        write_deferred_metadata(self.dataset)
        self.dataset.finalize()
        _write_journal(self.root, self.count)
        _continue_in_new_files(self.dataset)
        self.pending = 0

    def close(self, progress: dict | None = None) -> None:  # noqa: ARG002  (progress lives in the HDF5 index)
        """Commit and drop the journal; a dataset that got no episode is removed."""
        self.commit()
        if self.count == 0:
            shutil.rmtree(self.root, ignore_errors=True)
            return
        (self.root / JOURNAL).unlink(missing_ok=True)

    def abort(self) -> None:
        """Drop the uncommitted episodes; the committed ones stay (a later ``close`` finishes them)."""
        if self.dataset is not None:  # also when the failure was inside save_episode or a commit
            try:
                self.dataset.finalize()
            except Exception:  # noqa: BLE001  (a full disk: OSError, or pyarrow's error on the file it closed)
                _drop_unwritten(self.dataset)  # the files are rolled back below; lerobot must not retry at exit
            self.dataset = None
        if not rollback(self.root):
            shutil.rmtree(self.root, ignore_errors=True)
        self.count -= self.pending
        self.pending = 0

    def _episode_values(self, episode: Episode) -> dict:
        """The frame values of the per-episode columns (the same set for every episode of a dataset)."""
        columns = episode_columns(episode.attrs, episode.subtask_ends)
        if set(columns) != set(self.episode_attrs):
            raise DatasetError(f"{self.root}: episode {self.count} has the attributes {sorted(columns)} but the "
                               f"dataset's episodes have {sorted(self.episode_attrs)}; write them to separate datasets")
        return {name: attr_frame_value(value, self.episode_attrs[name]) for name, value in columns.items()}

    def _create(self, episode: Episode) -> None:
        self.episode_attrs = episode_features(episode_columns(episode.attrs, episode.subtask_ends))
        features = {**self.schema.features(episode.obs, episode.actions.shape[-1], episode.extras),
                    **self.episode_attrs}
        meta = build_meta(json.loads(self.schema.env_args), self.attrs, list(episode.extras), list(self.episode_attrs))
        features[META_FEATURE] = {**features[META_FEATURE], "mimicrec": meta}
        self.dataset = lerobot_dataset_class().create(
            repo_id=self.schema.repo_id, fps=self.schema.fps, root=self.root,
            robot_type=self.schema.robot_type, use_videos=True, features=features,
            vcodec=VIDEO_CODECS[self.schema.video_codec], **STREAMING,
        )
        if self.lean:
            cache_task_indices(self.dataset.meta)
        write_atomically(self.root / MIMICREC_META, json.dumps(meta).encode())
        _write_journal(self.root, 0)  # a crash before the first commit rolls back to "nothing committed"


# Camera frames go straight to lerobot's encoder threads instead of through a PNG per frame and camera.
# Its queue drops a frame when full for 0.1 s; ours holds any episode whole (frames are fed in a burst).
STREAMING = {"streaming_encoding": True, "encoder_queue_maxsize": 1_000_000}


def check_video_codec(name: str) -> None:
    """A one-line usage error unless ``name`` is one of ``VIDEO_CODECS``."""
    if name not in VIDEO_CODECS:
        raise UsageError(f"--video-codec must be one of {', '.join(VIDEO_CODECS)}, got {name!r}")
JOURNAL = "meta/mimicrec_commit.json"
REWRITTEN = ("meta/info.json", "meta/stats.json", "meta/tasks.parquet")  # the files lerobot rewrites in place


def _repeat(value, length: int) -> np.ndarray | list:
    """One frame's value of a per-episode column, for each of ``length`` frames."""
    return [value] * length if isinstance(value, str) else np.repeat(value[None], length, axis=0)


def lerobot_dataset_class():
    """lerobot's ``LeRobotDataset``, imported offline and quietened (importing it takes seconds)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    module = import_heavy("lerobot.datasets.lerobot_dataset")
    quiet_lerobot()
    return module.LeRobotDataset


def _open_existing(root: Path, schema: LeRobotSchema):
    dataset = lerobot_dataset_class()(schema.repo_id, root=root, vcodec=VIDEO_CODECS[schema.video_codec], **STREAMING)
    cache_task_indices(dataset.meta)
    return dataset


def _drop_unwritten(dataset) -> None:
    """Forget lerobot's open parquet writers and its buffered episode metadata, which its ``__del__`` methods
    would otherwise try to write again at exit (a traceback per try on a full disk)."""
    dataset.writer = dataset.meta.writer = None
    dataset.meta.metadata_buffer = []


def _continue_in_new_files(dataset) -> None:
    """Make lerobot start new data, metadata and video files at the next episode, as when it resumes.

    lerobot resumes into new files when its ``latest_episode`` is unset, reading the indices to
    continue from ``meta.episodes[-1]``; the last committed episode's metadata is exactly that row.
    """
    last = {key: value[0] if isinstance(value, list) else value for key, value in dataset.meta.latest_episode.items()}
    dataset.latest_episode = None
    dataset.meta.latest_episode = None
    dataset.meta.episodes = [last]


def _write_journal(root: Path, episodes: int) -> None:
    files = {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
             if p.is_file() and str(p.relative_to(root)) != JOURNAL}
    saved = {name: base64.b64encode((root / name).read_bytes()).decode()
             for name in REWRITTEN if (root / name).exists()}
    write_atomically(root / JOURNAL, json.dumps({"episodes": episodes, "files": files, "saved": saved}).encode())


def _journal(root: Path) -> dict | None:
    """The commit journal of a dataset not closed yet: the last commit's episode count, file sizes and the saved
    bytes of the ``REWRITTEN`` files; None once closed (the journal is dropped then) or for no dataset at all."""
    journal = root / JOURNAL
    return json.loads(journal.read_text()) if journal.is_file() else None


def rollback(root: Path) -> bool:
    """Restore a LeRobot dataset written by mimicrec to its last commit; False if it never committed."""
    state = _journal(root)
    if state is None:
        return (root / "meta" / "info.json").is_file() and any((root / "meta" / "episodes").glob("*/*.parquet"))
    keep = set(state["files"]) | {JOURNAL}
    for path in sorted(root.rglob("*"), reverse=True):
        rel = str(path.relative_to(root))
        if path.is_file() and rel not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    for name, data in state["saved"].items():
        write_atomically(root / name, base64.b64decode(data))
    return state["episodes"] > 0


def committed_data_files(root: Path) -> list[Path]:
    """The data parquet files of the committed episodes (all of them once the dataset is closed)."""
    state = _journal(root)
    if state is not None:
        return sorted(root / name for name in state["files"] if name.startswith("data/") and name.endswith(".parquet"))
    return sorted((root / "data").glob("*/*.parquet"))


def committed_file(root: Path, name: str) -> bytes | None:
    """What ``name`` (one of ``REWRITTEN``) held at the last commit of a dataset not closed yet (a run in progress
    or killed, maybe while lerobot rewrote that very file in place); None once closed."""
    state = _journal(root)
    if state is None or name not in state["saved"]:
        return None
    return base64.b64decode(state["saved"][name])


def interrupted(root: Path) -> bool:
    """Whether a mimicrec-written LeRobot dataset was not closed (a crash; ``--resume`` finishes it)."""
    return (root / JOURNAL).is_file()


def drop_realtime_priority() -> None:
    """Undo the real-time scheduling the SVT-AV1 encoder leaves on the calling thread when run as root.

    libSvtAv1Enc switches its threads, and the thread that created the encoder, to SCHED_FIFO when it
    may. Every process started afterwards (viewer, workers, subprocesses) would inherit it, and a
    real-time process that busy-waits (pybullet's GUI does) starves the rest of the machine.
    """
    if hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


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
    # lerobot puts FFmpeg's own stderr logger back after every video (``restore_default_callback``); that
    # logger prints from FFmpeg's level, so x264's statistics and the MP4 muxer's notes need it at ERROR.
    av.logging.set_libav_level(av.logging.ERROR)
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
