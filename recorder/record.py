"""The record loop: one loop for every device (scripted action bank, keyboard, SpaceMouse).

An episode ends at success (plus ``steps_after_success``), at the episode limit, or when the
device says done; the device can also discard it (re-record from a new reset) or quit. Successful
episodes go to both writers (robomimic HDF5 and LeRobot) from the same stream; failed ones are
dropped, or written to ``failed/`` with ``keep_failed``. Ctrl-C or quit ends the run with every
finished episode saved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

import envs
from envs.errors import GenerationError, UsageError
from recorder.devices.base import Device, Event, make_device
from recorder.episode import Episode, EpisodeBuilder
from recorder.paths import output_dir
from recorder.tasks import env_args, episode_seed, lerobot_schema, make_env
from recorder.writers import WriterGroup
from recorder.writers.lerobot_writer import LeRobotWriter
from recorder.writers.robomimic_hdf5 import RobomimicHDF5Writer

log = logging.getLogger(__name__)
RECORD_STREAM = 0


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
    sensitivity: float = 1.0
    steps_after_success: int = 0
    keep_failed: bool = False
    save: bool = True  # False for --preview / --no-save: run the loop, write nothing


@dataclass(frozen=True)
class RecordResult:
    """Where the demos went and how many attempts they took."""

    out_dir: Path | None
    hdf5_path: Path | None
    lerobot_path: Path | None
    num_saved: int
    num_attempts: int
    wall_time_s: float
    num_failed_kept: int = 0
    interrupted: bool = False


@dataclass(frozen=True)
class EpisodeOutcome:
    """How an episode ended: the episode (None if discarded), and whether the person quit."""

    episode: Episode | None
    quit: bool = False


def check_options(opts: RecordOptions) -> None:
    """Reject impossible options before anything is created."""
    if opts.num_demos <= 0:
        raise UsageError(f"--num-demos must be a positive integer, got {opts.num_demos}")
    if opts.steps_after_success < 0:
        raise UsageError(f"--steps-after-success must be >= 0, got {opts.steps_after_success}")


def run_episode(env, device: Device, seed: int, max_steps: int, steps_after_success: int = 0,
                pace_hz: float | None = None, on_step: Callable[[int, bool], None] | None = None) -> EpisodeOutcome:
    """Reset to ``seed`` and let ``device`` act until success (+ ``steps_after_success``), done or the limit.

    ``pace_hz`` paces the loop (teleoperation); ``on_step(t, success_so_far)`` is called after every step.
    """
    obs, _ = env.reset(seed=seed)
    builder = EpisodeBuilder(env, seed, obs)
    device.start_episode(env)
    success_at, next_tick = None, time.perf_counter()
    for t in range(max_steps):
        step = device.step(env)
        if Event.DISCARD in step.events or Event.QUIT in step.events:
            return EpisodeOutcome(None, quit=Event.QUIT in step.events)
        _, info = builder.step(step.action)
        if info["success"] and success_at is None:
            success_at = t
        if on_step is not None:
            on_step(t, success_at is not None)
        if Event.DONE in step.events or (success_at is not None and t - success_at >= steps_after_success):
            break
        if pace_hz:
            next_tick = _pace(next_tick, pace_hz)
    attrs = {"source": type(device).__name__, "success_step": -1 if success_at is None else success_at}
    return EpisodeOutcome(builder.build(attrs=attrs))


def run_scripted_episode(env, env_id: str, seed: int, max_steps: int) -> Episode:
    """Reset to ``seed`` and let the task's action bank act until success or ``max_steps``."""
    return run_episode(env, make_device("scripted", env_id), seed, max_steps).episode


def _pace(next_tick: float, hz: float) -> float:
    next_tick += 1.0 / hz
    delay = next_tick - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    return max(next_tick, time.perf_counter() - 1.0 / hz)


def reached_success(episode: Episode) -> bool:
    """Whether the task was solved at some step (success holds only at rest)."""
    return bool(episode.successes.any())


class _Sinks:
    """The run's writers: kept episodes, and (with ``keep_failed``) failed ones under ``failed/``."""

    def __init__(self, out: Path, opts: RecordOptions, env) -> None:
        self.paths = out / "demos.hdf5", out / "lerobot"
        self.kept = self._group(*self.paths, opts, env)
        self.failed = self._group(out / "failed" / "demos.hdf5", out / "failed" / "lerobot", opts, env) \
            if opts.keep_failed else None

    @staticmethod
    def _group(hdf5: Path, lerobot: Path, opts: RecordOptions, env) -> WriterGroup:
        hdf5.parent.mkdir(parents=True, exist_ok=True)
        return WriterGroup([RobomimicHDF5Writer(str(hdf5), env_args(opts.env_id, env.env_kwargs)),
                            LeRobotWriter(str(lerobot), lerobot_schema(opts.env_id, env))])

    def close(self) -> None:
        """Finish both datasets; one that got no episode is not written."""
        for group in self._groups:
            group.close() if group.count else group.abort()
        self._drop_empty_failed()

    def abort(self) -> None:
        """Remove everything written so far."""
        for group in self._groups:
            group.abort()
        self._drop_empty_failed()

    @property
    def _groups(self) -> list[WriterGroup]:
        return [g for g in (self.kept, self.failed) if g is not None]

    def _drop_empty_failed(self) -> None:
        folder = self.paths[0].parent / "failed"
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def show_bindings(env, device: Device) -> None:
    """Print the device's bindings to the log and show them in the viewer, if one is open."""
    if not device.bindings:
        return
    lines = [f"{keys:>20}  {what}" for keys, what in device.bindings]
    log.warning("controls:\n%s", "\n".join(lines))
    if getattr(env, "gui", False):
        for i, (keys, what) in enumerate(device.bindings):
            env.client.addUserDebugText(f"{keys}: {what}", [0.1, 0.55, 1.25 - 0.045 * i], textColorRGB=[0, 0, 0],
                                        textSize=1.1)


def record(opts: RecordOptions) -> RecordResult:
    """Record ``opts.num_demos`` successful demos into a new run folder; returns the result."""
    check_options(opts)
    device = make_device(opts.device, opts.env_id, opts.sensitivity)
    gui = opts.gui or getattr(device, "needs_gui", False)
    env = make_env(opts.env_id, difficulty=opts.difficulty, action_mode=opts.action_mode,
                   cameras=opts.cameras, gui=gui).unwrapped
    start = time.perf_counter()
    try:
        device.connect(env)
        show_bindings(env, device)
        if not opts.save:
            saved, attempts, failed, stopped = _record_loop(env, device, opts, None)
            return RecordResult(None, None, None, saved, attempts, time.perf_counter() - start, failed, stopped)
        with output_dir(opts.out, "record") as out:
            sinks = _Sinks(out, opts, env)
            try:
                saved, attempts, failed, stopped = _record_loop(env, device, opts, sinks)
            except BaseException:
                sinks.abort()
                raise
            sinks.close()
    finally:
        device.close()
        env.close()
    return RecordResult(out, sinks.paths[0], sinks.paths[1], saved, attempts, time.perf_counter() - start,
                        failed, stopped)


def _record_loop(env, device: Device, opts: RecordOptions, sinks: _Sinks | None) -> tuple[int, int, int, bool]:
    """Episodes until ``num_demos`` are kept; returns (kept, attempts, failed kept, interrupted)."""
    max_steps = envs.TASKS[opts.env_id].max_episode_steps
    max_attempts = opts.max_attempts or (2 * opts.num_demos + 10 if not device.paced else None)
    pace = env.control_freq if device.paced else None
    kept = attempts = failed = 0
    bar = tqdm(total=opts.num_demos, desc="record", unit="demo", disable=not opts.progress)
    try:
        while kept < opts.num_demos:
            if max_attempts is not None and attempts >= max_attempts:
                raise GenerationError(f"only {kept} of {opts.num_demos} demos succeeded in {attempts} attempts; "
                                      "check the task's action bank or raise the attempt budget")
            seed = episode_seed(opts.seed, RECORD_STREAM, attempts)
            live = _live_status(bar, attempts + 1, kept, device) if device.paced else None
            outcome = run_episode(env, device, seed, max_steps, opts.steps_after_success, pace, live)
            attempts += 1
            if outcome.quit:
                return kept, attempts, failed, True
            kept, failed = _file_episode(outcome.episode, sinks, kept, failed)
            bar.update(kept - bar.n)
            bar.set_postfix_str(_status(attempts, outcome.episode, kept, device))
    except KeyboardInterrupt:
        log.warning("interrupted: keeping the %d episodes finished so far", kept)
        return kept, attempts, failed, True
    except Exception:  # pybullet.error once the person closes the viewer
        if env.client.isConnected():
            raise
        log.warning("the viewer was closed: keeping the %d episodes finished so far", kept)
        return kept, attempts, failed, True
    finally:
        bar.close()
    return kept, attempts, failed, False


def _file_episode(episode: Episode | None, sinks: _Sinks | None, kept: int, failed: int) -> tuple[int, int]:
    if episode is None:
        log.info("episode discarded")
        return kept, failed
    if reached_success(episode):
        if sinks is not None:
            sinks.kept.write(episode)
        return kept + 1, failed
    log.info("episode failed after %d steps%s", len(episode), "; kept in failed/" if sinks and sinks.failed else "")
    if sinks is not None and sinks.failed is not None:
        sinks.failed.write(episode)
        return kept, failed + 1
    return kept, failed


def _live_status(bar, episode: int, kept: int, device: Device) -> Callable[[int, bool], None]:
    def show(t: int, success: bool) -> None:
        if t % 5 == 0:
            bar.set_postfix_str(_status_text(episode, t + 1, "yes" if success else "no", kept, device))

    return show


def _status_text(episode: int, steps: int, success: str, kept: int, device: Device) -> str:
    keys = " | " + ", ".join(f"{k}: {w.split(' (')[0]}" for k, w in device.bindings[-4:]) if device.bindings else ""
    return f"episode {episode}, {steps} steps, success {success}, saved {kept}{keys}"


def _status(attempts: int, episode: Episode | None, kept: int, device: Device) -> str:
    steps = 0 if episode is None else len(episode)
    success = "discarded" if episode is None else ("yes" if reached_success(episode) else "no")
    return _status_text(attempts, steps, success, kept, device)
