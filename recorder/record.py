"""The record loop: drive a task with a device (scripted expert for now), keep successful episodes.

Every kept episode goes to both writers (robomimic HDF5 and LeRobot) from the same stream.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

import envs
from envs.errors import GenerationError, UsageError
from recorder.episode import Episode, EpisodeBuilder
from recorder.experts import make_expert
from recorder.paths import output_dir
from recorder.tasks import env_args, episode_seed, lerobot_schema, make_env
from recorder.writers import WriterGroup
from recorder.writers.lerobot_writer import LeRobotWriter
from recorder.writers.robomimic_hdf5 import RobomimicHDF5Writer

log = logging.getLogger(__name__)
RECORD_STREAM = 0
DEVICES = ("scripted",)


@dataclass(frozen=True)
class RecordOptions:
    """What ``mimicrec record`` was asked to do."""

    env_id: str
    num_demos: int
    seed: int = 0
    out: str | None = None
    difficulty: str = "D0"
    device: str = "scripted"
    action_mode: str = "delta_eef"
    cameras: list[dict] | None = None
    gui: bool = False
    max_attempts: int | None = None
    progress: bool = False


@dataclass(frozen=True)
class RecordResult:
    """Where the demos went and how many attempts they took."""

    out_dir: Path
    hdf5_path: Path
    lerobot_path: Path
    num_saved: int
    num_attempts: int
    wall_time_s: float


def check_options(opts: RecordOptions) -> None:
    """Reject impossible options before anything is created."""
    if opts.num_demos <= 0:
        raise UsageError(f"--num-demos must be a positive integer, got {opts.num_demos}")
    if opts.device not in DEVICES:
        raise UsageError(f"unknown --device {opts.device!r}; available: {', '.join(DEVICES)}")


def run_scripted_episode(env, env_id: str, seed: int, max_steps: int) -> Episode:
    """Reset to ``seed``, let the task's scripted expert act until success or ``max_steps``."""
    obs, _ = env.reset(seed=seed)
    builder = EpisodeBuilder(env, seed, obs)
    expert = make_expert(env_id, env)
    for _ in range(max_steps):
        _, info = builder.step(expert.act())
        if info["success"]:
            break
    return builder.build(attrs={"source": "scripted"})


def record(opts: RecordOptions) -> RecordResult:
    """Record ``opts.num_demos`` successful demos into a new run folder; returns the result."""
    check_options(opts)
    env = make_env(opts.env_id, difficulty=opts.difficulty, action_mode=opts.action_mode,
                   cameras=opts.cameras, gui=opts.gui).unwrapped
    env_kwargs = env.env_kwargs
    max_steps = envs.TASKS[opts.env_id].max_episode_steps
    max_attempts = opts.max_attempts or 2 * opts.num_demos + 10
    start = time.perf_counter()
    try:
        with output_dir(opts.out, "record") as out:
            paths = out / "demos.hdf5", out / "lerobot"
            writers = WriterGroup([RobomimicHDF5Writer(str(paths[0]), env_args(opts.env_id, env_kwargs)),
                                   LeRobotWriter(str(paths[1]), lerobot_schema(opts.env_id, env))])
            with writers, tqdm(total=opts.num_demos, desc="record", unit="demo", disable=not opts.progress) as bar:
                attempts = _record_loop(env, opts, max_steps, max_attempts, writers, bar)
    finally:
        env.close()
    return RecordResult(out, paths[0], paths[1], writers.count, attempts, time.perf_counter() - start)


def _record_loop(env, opts: RecordOptions, max_steps: int, max_attempts: int, writers: WriterGroup, bar) -> int:
    attempts = 0
    while writers.count < opts.num_demos:
        if attempts >= max_attempts:
            raise GenerationError(f"only {writers.count} of {opts.num_demos} demos succeeded in {attempts} "
                                  "attempts; check the task's expert or raise the attempt budget")
        episode = run_scripted_episode(env, opts.env_id, episode_seed(opts.seed, RECORD_STREAM, attempts), max_steps)
        attempts += 1
        if episode.success:
            writers.write(episode)
            bar.update(1)
        else:
            log.info("attempt %d failed after %d steps; discarded", attempts, len(episode))
    return attempts
