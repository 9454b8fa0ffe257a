"""``mimicrec eval``: roll a robomimic checkpoint out in its task; success rate with a confidence interval.

Success is judged as everywhere in mimicrec (the goal holds with objects at rest). Rollout scenes
come from ``--seed`` and the rollout index, and torch's generator is seeded from them too (a GMM head
samples its actions), so two evaluations of one checkpoint give the same rollouts.
Each failed rollout is counted at the first of the task's subtask signals (``logic.subtask_signals``,
e.g. StackThree's grasp_red, red_on_blue, grasp_green) it never raised, or at ``goal`` when it raised
them all: where a policy's failures stop.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

import envs
from envs.errors import RunInterrupted, UsageError
from envs.interface import TaskEnv
from recorder.dataset.paths import prepare_output_file
from recorder.dataset.tasks import episode_seed, make_env, stored_env_kwargs, variant_env_kwargs
from recorder.dataset.video import write_video
from recorder.policy import ignore_resnet_argument_warnings

GOAL = "goal"  # a failure that raised every subtask signal (the goal itself was not held)
EVAL_STREAM = 2
VIDEO_SIZE = 256
VIDEO_EVERY = 2  # control steps between video frames (20 Hz control -> 10 fps video)


@dataclass(frozen=True)
class EvalResult:
    """Rollout outcome: success rate with a 95% Wilson interval, mean episode length, and the failures by
    the first subtask signal they never raised (``GOAL``: all raised), in the task's order."""

    num_rollouts: int
    num_successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_length: float
    failures_by_stage: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        """The result as ``eval`` prints it first: rate, successes, 95% interval, mean length."""
        return (f"policy success rate {self.success_rate:.1%} ({self.num_successes}/{self.num_rollouts}, "
                f"95% CI {self.ci_low:.1%}-{self.ci_high:.1%}), mean episode length {self.mean_length:.0f}")


@dataclass(frozen=True)
class Rollout:
    """One episode: success at rest, control steps taken, and the subtask signals raised on the way."""

    success: bool
    steps: int
    signals_raised: frozenset[str]


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def load_policy(checkpoint: str):
    """(robomimic rollout policy, env id, env kwargs) from a checkpoint file."""
    if not os.path.isfile(checkpoint):
        raise UsageError(f"checkpoint {checkpoint} not found; pass the model.pth written by `mimicrec train`")
    ignore_resnet_argument_warnings()
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            import robomimic.utils.file_utils as file_utils
            import robomimic.utils.torch_utils as torch_utils

            policy, ckpt = file_utils.policy_from_checkpoint(
                ckpt_path=checkpoint, device=torch_utils.get_torch_device(try_to_use_cuda=True), verbose=False)
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        why = "an HDF5 dataset" if h5py.is_hdf5(checkpoint) else f"{type(err).__name__}: {first_line}"
        raise UsageError(f"{checkpoint}: not a robomimic checkpoint ({why}); pass the model.pth written by "
                         "`mimicrec train`") from err
    meta = ckpt["env_metadata"]
    kwargs = stored_env_kwargs(dict(meta.get("env_kwargs", {})))
    return policy, envs.resolve_task(meta["env_name"], kwargs.get("task")), kwargs


def evaluate(checkpoint: str, num_rollouts: int, seed: int = 0, task: str | None = None,
             progress: bool = False, video: str | None = None, stream: int = EVAL_STREAM,
             max_steps: int | None = None, difficulty: str | None = None,
             settings: dict[str, Any] | None = None) -> EvalResult:
    """Roll the checkpoint's policy out ``num_rollouts`` times in its task (or ``task``, at ``difficulty``, with
    task-file ``settings`` changed: see ``rollout_task``); ``video``: an mp4.

    Scenes come from (``seed``, ``stream``, rollout index); ``max_steps`` defaults to the task's episode length.
    """
    if num_rollouts <= 0:
        raise UsageError(f"--num-rollouts must be a positive integer, got {num_rollouts}")
    if max_steps is not None and max_steps <= 0:
        raise UsageError(f"--horizon must be a positive integer (control steps), got {max_steps}")
    if video is not None and not video.endswith(".mp4"):
        raise UsageError(f"--video must name an .mp4 file, got {video}")
    prepare_output_file(video)
    policy, env_id, env_kwargs = load_policy(checkpoint)
    env_id, env_kwargs = rollout_task(env_id, env_kwargs, task, difficulty, settings)
    env = make_env(env_id, **env_kwargs)
    max_steps = max_steps or envs.task_entry(env_id).max_episode_steps
    frames: list[np.ndarray] | None = [] if video else None
    outcomes = []
    try:
        check_policy_fits(policy, env, env_id)
        for i in tqdm(range(num_rollouts), desc="eval", unit="rollout", disable=not progress):
            outcomes.append(rollout(policy, env, episode_seed(seed, stream, i), max_steps, frames))
    except KeyboardInterrupt as err:  # Ctrl-C: what the finished rollouts say
        if not outcomes:
            raise
        raise RunInterrupted(f"after {len(outcomes)} of {num_rollouts} rollouts: "
                             f"{summarize(outcomes, _subtask_signals(env)).line()}") from err
    finally:
        env.close()
    if video:
        write_video(video, frames, fps=max(1, env.control_freq // VIDEO_EVERY))
    return summarize(outcomes, _subtask_signals(env))


def summarize(outcomes: list[Rollout], signals: list[str]) -> EvalResult:
    """The ``EvalResult`` of rollout ``outcomes`` in a task with subtask ``signals``."""
    wins = sum(outcome.success for outcome in outcomes)
    low, high = wilson_interval(wins, len(outcomes))
    return EvalResult(len(outcomes), wins, wins / len(outcomes), low, high,
                      float(np.mean([outcome.steps for outcome in outcomes])), failures_by_stage(outcomes, signals))


def check_policy_fits(policy, env: TaskEnv, env_id: str) -> None:
    """A ``UsageError`` unless ``env`` gives every observation the robomimic ``policy`` reads, in its shape (images
    channels first there), and takes actions of its size: a policy rolls out only where it was trained alike."""
    fix = "evaluate it in the task, cameras and robot it was trained with (drop --task or --set)"
    spaces = env.observation_space.spaces
    for key, shape in policy.policy.obs_shapes.items():
        if key not in spaces:
            raise UsageError(f"the policy observes {key}, which {env_id} does not give; {fix}")
        given = spaces[key].shape
        given = (given[-1], *given[:-1]) if len(given) == 3 else given  # images: [H, W, C] -> [C, H, W]
        if tuple(given) != tuple(shape):
            raise UsageError(f"the policy observes {key} of shape {tuple(shape)}, {env_id} gives {tuple(given)}; {fix}")
    if policy.policy.ac_dim != env.action_space.shape[0]:
        raise UsageError(f"the policy acts in {policy.policy.ac_dim} dimensions, {env_id} in "
                         f"{env.action_space.shape[0]}; {fix}")


def rollout_task(env_id: str, env_kwargs: dict[str, Any], task: str | None = None, difficulty: str | None = None,
                 settings: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The (env id, env kwargs) rollouts run in: the policy's own, or ``task`` (its own definition, not the
    checkpoint's), at another randomization ``difficulty`` and with task-file ``settings`` (dotted key paths,
    e.g. ``logic.success``) changed, as ``generate --difficulty/--set`` change a dataset's."""
    if task is not None:
        env_id, env_kwargs = envs.resolve_task(task), {k: v for k, v in env_kwargs.items() if k != "task"}
    if difficulty is not None or settings:
        env_kwargs = variant_env_kwargs(env_id, env_kwargs, difficulty=difficulty, settings=settings)
    return env_id, env_kwargs


def _subtask_signals(env: TaskEnv) -> list[str]:
    """The task's subtask signals in order (``logic.subtask_signals``); none for an env that declares none."""
    return list(getattr(env, "subtask_signal_names", []))


def failures_by_stage(outcomes: list[Rollout], signals: list[str]) -> dict[str, int]:
    """Failed rollouts counted at the first of ``signals`` they never raised (``GOAL`` when they raised all);
    every stage listed, in order, zeros included."""
    stages = Counter(next((name for name in signals if name not in outcome.signals_raised), GOAL)
                     for outcome in outcomes if not outcome.success)
    return {name: stages[name] for name in [*signals, GOAL]}


def rollout(policy, env: TaskEnv, seed: int, max_steps: int, frames: list[np.ndarray] | None = None) -> Rollout:
    """One episode of ``policy`` from ``reset(seed)``; appends video frames to ``frames``."""
    import robomimic.utils.obs_utils as obs_utils
    import torch

    from recorder.policy.robomimic_env import process_images

    torch.manual_seed(seed)  # a GMM head samples its actions: the same scene then gets the same draws
    obs, _ = env.reset(seed=seed)
    policy.start_episode()
    signals, raised = _subtask_signals(env), set()
    for step in range(1, max_steps + 1):
        known = obs_utils.OBS_KEYS_TO_MODALITIES
        ob = {k: np.asarray(v, dtype=np.float32) for k, v in process_images(obs).items() if k in known}
        obs, _, _terminated, _, info = env.step(policy(ob=ob))
        if frames is not None and step % VIDEO_EVERY == 0:
            frames.append(env.render_camera(VIDEO_SIZE, VIDEO_SIZE, "agentview"))
        raised.update(name for name in signals if info.get(name))
        if info["success"]:
            return Rollout(True, step, frozenset(raised))
    return Rollout(False, max_steps, frozenset(raised))
