"""The record loop: one loop for every device (scripted action bank, keyboard, SpaceMouse).

An episode ends at success (plus ``steps_after_success``), at the episode limit, or when the
device says done; the device can also discard it (re-record from a new reset) or quit. Successful
episodes go to both writers (robomimic HDF5 and LeRobot) from the same stream; failed ones are
dropped, or written to ``failed/`` with ``keep_failed``. Every episode is committed as soon as it
ends, so Ctrl-C, quit, a crash or ``kill -9`` keeps every finished episode in both formats;
``resume`` continues such a run (same scene options, next seeds) up to ``num_demos``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

import envs
from envs.errors import GenerationError, UsageError, counted
from envs.interface import TaskEnv
from recorder.dataset.episode import Episode, EpisodeBuilder
from recorder.dataset.run import Run, read_run_file, resumed_options, run_folder
from recorder.dataset.tasks import env_args, episode_seed, lerobot_schema, make_env
from recorder.dataset.writers.lerobot_writer import DEFAULT_VIDEO_CODEC, check_video_codec
from recorder.devices.base import Device, Event, make_device

log = logging.getLogger(__name__)
RECORD_STREAM = 0


@dataclass(frozen=True)
class RecordOptions:
    """What ``mimicrec record`` was asked to do."""

    env_id: str
    num_demos: int | None  # None: DEFAULT_NUM_DEMOS, or with ``resume`` the total the run was started with
    seed: int = 0
    out: str | None = None
    difficulty: str = "D0"
    device: str = "scripted"
    action_mode: str | None = None  # None: the task's gym.yaml (robot.action_mode)
    cameras: list[dict] | None = None
    gui: bool = False
    max_attempts: int | None = None
    progress: bool = False
    sensitivity: float = 1.0
    steps_after_success: int = 0
    keep_failed: bool = False
    save: bool = True  # False for --preview / --no-save: run the loop, write nothing
    resume: str | None = None  # a run folder to continue
    robot: str | None = None  # None: the task file's robots; else every arm becomes this robot
    video_codec: str = DEFAULT_VIDEO_CODEC  # the LeRobot dataset's camera videos (a key of VIDEO_CODECS)


DEFAULT_NUM_DEMOS = 10
SCENE_OPTIONS = ("env_id", "difficulty", "action_mode", "cameras", "seed", "keep_failed", "robot", "video_codec")


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
    if opts.num_demos is not None and opts.num_demos <= 0:
        raise UsageError(f"--num-demos must be a positive integer, got {opts.num_demos}")
    if opts.max_attempts is not None and opts.max_attempts <= 0:
        raise UsageError(f"--max-attempts must be a positive integer, got {opts.max_attempts}")
    if opts.steps_after_success < 0:
        raise UsageError(f"--steps-after-success must be >= 0, got {opts.steps_after_success}")
    if not opts.sensitivity > 0:
        raise UsageError(f"--sensitivity must be > 0 (1.0: the device's own speed), got {opts.sensitivity}")
    check_video_codec(opts.video_codec)
    if not opts.save:
        writing = [flag for flag, given in (("--out", opts.out), ("--resume", opts.resume),
                                            ("--keep-failed", opts.keep_failed)) if given]
        if writing:
            raise UsageError(f"--preview / --no-save write nothing; drop {' and '.join(writing)}")


def run_episode(env: TaskEnv, device: Device, seed: int, max_steps: int, steps_after_success: int = 0,
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


def run_scripted_episode(env: TaskEnv, env_id: str, seed: int, max_steps: int) -> Episode:
    """Reset to ``seed`` and let the task's action bank act until success or ``max_steps``."""
    return run_episode(env, make_device("scripted", env_id), seed, max_steps).episode


def _pace(next_tick: float, hz: float) -> float:
    next_tick += 1.0 / hz
    delay = next_tick - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    return max(next_tick, time.perf_counter() - 1.0 / hz)


def reached_success(episode: Episode) -> bool:
    """Whether the task is solved at the episode's end: success held at rest, and still held after
    ``--steps-after-success`` (a demo whose stored success is false is never saved)."""
    return episode.success


def show_bindings(env: TaskEnv, bindings: tuple[tuple[str, str], ...]) -> None:
    """Log the key bindings and draw them in the viewer, if one is open."""
    if not bindings:
        return
    lines = [f"{keys:>20}  {what}" for keys, what in bindings]
    log.warning("controls:\n%s", "\n".join(lines))
    env.show_text_lines([f"{keys}: {what}" for keys, what in bindings])


def record(opts: RecordOptions) -> RecordResult:
    """Record until the run folder holds ``opts.num_demos`` successful demos; returns the result."""
    check_options(opts)
    opts = resumed_options(opts, "record", SCENE_OPTIONS, {"out": "--out"})
    if opts.num_demos is None:  # resuming: to the total the run was started with
        total = read_run_file(opts.resume, "record").get("num_demos") if opts.resume is not None else None
        opts = replace(opts, num_demos=int(total or DEFAULT_NUM_DEMOS))
    task_id = envs.resolve_task(opts.env_id)  # an id, or a task file given by path (run.json keeps what was given)
    device = make_device(opts.device, task_id, opts.sensitivity)
    gui = opts.gui or getattr(device, "needs_gui", False)
    env = make_env(task_id, difficulty=opts.difficulty, action_mode=opts.action_mode, cameras=opts.cameras, gui=gui,
                   robot=opts.robot)
    start = time.perf_counter()
    try:
        device.connect(env)
        show_bindings(env, device.bindings)
        if not opts.save:
            saved, attempts, failed, stopped = _record_loop(env, device, opts, task_id, None)
            return RecordResult(None, None, None, saved, attempts, time.perf_counter() - start, failed, stopped)
        with run_folder("record", opts.out, opts.resume) as out:
            run = _open_run(out, opts, env, task_id)
            try:
                with run.preparing():
                    saved, attempts, failed, stopped = _record_loop(env, device, opts, task_id, run)
            except OSError:  # a full disk or a read-only folder: keep the commits, attempt no more writes
                run.abort()
                raise
            except BaseException:  # anything else stops the run: the committed episodes are finished
                run.close()
                raise
            run.close()
    finally:
        device.close()
        env.close()
    # what the run's files hold: Ctrl-C can land after an episode was written and before the loop counted it
    saved, failed = run.kept.count, run.failed.count if run.failed is not None else failed
    return RecordResult(out, run.paths[0], run.paths[1], saved, attempts, time.perf_counter() - start,
                        failed, stopped)


def _open_run(out: Path, opts: RecordOptions, env: TaskEnv, task_id: str) -> Run:
    """The run's datasets and run.json (scene options and attempts; a resumed run's seeds go on from them)."""
    attempts = int(read_run_file(out, "record")["attempts"]) if opts.resume is not None else 0
    state = {**{key: getattr(opts, key) for key in SCENE_OPTIONS}, "attempts": attempts,
             "action_mode": env.action_mode.name,  # as resolved (flag, else gym.yaml): a resume keeps it
             "num_demos": opts.num_demos}  # the run's current total: a later --resume defaults to it
    schema = lerobot_schema(task_id, env, opts.video_codec)
    return Run(out, "demos.hdf5", env_args(task_id, env.env_kwargs), schema, state,
               keep_failed=opts.keep_failed, resume=opts.resume is not None)


def _record_loop(env: TaskEnv, device: Device, opts: RecordOptions, task_id: str,
                 run: Run | None) -> tuple[int, int, int, bool]:
    """Episodes until ``num_demos`` are kept; returns (kept, attempts, failed kept, interrupted)."""
    max_steps = envs.task_entry(task_id).max_episode_steps
    kept, failed = (run.kept.count, run.failed.count if run.failed else 0) if run else (0, 0)
    attempts = run.state["attempts"] if run else 0
    allowed = opts.max_attempts or (2 * (opts.num_demos - kept) + 10 if not device.paced else None)
    max_attempts = None if allowed is None else attempts + allowed
    pace = env.control_freq if device.paced else None
    bar = tqdm(total=opts.num_demos, initial=kept, desc="record", unit="demo", disable=not opts.progress)
    try:
        while kept < opts.num_demos:
            if max_attempts is not None and attempts >= max_attempts:
                last = f" (the last gave up: {device.gave_up})" if device.gave_up else ""
                raise GenerationError(f"only {kept} of {counted(opts.num_demos, 'demo')} succeeded in "
                                      f"{counted(attempts, 'attempt')}{last}; "
                                      "check the task's action bank (at this level, with this robot) or allow "
                                      "more with --max-attempts")
            seed = episode_seed(opts.seed, RECORD_STREAM, attempts)
            live = None
            if device.paced:  # a person drives: say when each episode starts
                live = _live_status(bar, attempts + 1, kept, device)
                log.warning("episode %d: recording (%d of %d saved)", attempts + 1, kept, opts.num_demos)
            outcome = run_episode(env, device, seed, max_steps, opts.steps_after_success, pace, live)
            attempts += 1
            if outcome.quit:
                return kept, attempts, failed, True
            if run is not None:  # before the episode is committed: a resumed run never reuses this seed
                run.save_state(attempts=attempts)
            kept, failed = _file_episode(outcome.episode, run, kept, failed, device.gave_up)
            bar.update(kept - bar.n)
            bar.set_postfix_str(_status(attempts, outcome.episode, kept, device))
    except KeyboardInterrupt:
        log.warning("interrupted: keeping the %d episodes finished so far", kept)
        return kept, attempts, failed, True
    except Exception:  # pybullet.error once the person closes the viewer
        if env.viewer_open:
            raise
        log.warning("the viewer was closed: keeping the %d episodes finished so far", kept)
        return kept, attempts, failed, True
    finally:
        bar.close()
    return kept, attempts, failed, False


def _file_episode(episode: Episode | None, run: Run | None, kept: int, failed: int,
                  gave_up: str | None = None) -> tuple[int, int]:
    """Write and commit a finished episode to the kept or failed datasets; returns the new counts
    (``gave_up``: why the device ended it early, logged)."""
    if episode is None:
        log.info("episode discarded")
        return kept, failed
    if reached_success(episode):
        if run is not None:
            run.write(episode, kept=True)
            run.commit_if_due()
        return kept + 1, failed
    log.info("episode failed after %d steps%s%s", len(episode), f" (gave up: {gave_up})" if gave_up else "",
             "; kept in failed/" if run and run.failed else "")
    if run is not None and run.failed is not None:
        run.write(episode, kept=False)
        run.commit_if_due()
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
