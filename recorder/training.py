"""``mimicrec train`` / ``mimicrec eval``: robomimic BC / BC-RNN on our HDF5, rollouts in our env.

Training drives robomimic's own ``train()`` from Python (absolute, fresh paths; its failures
become ``TrainingError``); evaluation loads a checkpoint with robomimic's ``policy_from_checkpoint``
and rolls it out in the task env, judging success at rest as everywhere else.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import envs
from envs.errors import DatasetError, MimicrecError, UsageError
from recorder.datasets_io import dataset_env, demo_names, open_dataset
from recorder.paths import output_dir
from recorder.tasks import episode_seed, make_env

LOW_DIM_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object")  # joint angles left out
EVAL_STREAM = 2
ALGOS = ("bc", "bc-rnn")


class TrainingError(MimicrecError):
    """robomimic failed while training; the message points at the log."""

    exit_code = 1


@dataclass(frozen=True)
class TrainOptions:
    """What ``mimicrec train`` was asked to do (defaults: a CPU-sized BC-RNN)."""

    dataset: str
    algo: str = "bc-rnn"
    epochs: int = 50
    steps_per_epoch: int = 100
    batch_size: int = 100
    rnn_hidden_dim: int = 128
    seq_length: int = 10
    seed: int = 1
    out: str | None = None
    progress: bool = False


@dataclass(frozen=True)
class TrainResult:
    """Where the run went and its final training loss."""

    out_dir: Path
    checkpoint: Path
    log_path: Path
    final_loss: float
    wall_time_s: float


def check_dataset(path: str) -> None:
    """The dataset exists, has the low-dim keys training uses, and its actions lie in [-1, 1]."""
    with open_dataset(path) as file:
        dataset_env(file)
        first = file["data"][demo_names(file)[0]]
        missing = [k for k in LOW_DIM_KEYS if f"obs/{k}" not in first]
        if missing:
            raise DatasetError(f"{path}: demos lack observation key(s) {', '.join(missing)}; "
                               "train on a file written by `mimicrec record` or `generate`")
        if np.abs(first["actions"][()]).max() > 1.0:
            raise DatasetError(f"{path}: actions exceed [-1, 1]; robomimic's BC policies need normalized actions")


def robomimic_config(opts: TrainOptions, run_dir: Path):
    """A robomimic ``Config`` for ``opts``, writing under ``run_dir``; rollouts are left to ``mimicrec eval``."""
    import torch
    from robomimic.config import config_factory

    config = config_factory("bc")
    with config.values_unlocked():
        config.experiment.name = opts.algo
        config.experiment.validate = False
        config.experiment.logging.terminal_output_to_txt = False
        config.experiment.logging.log_tb = False
        config.experiment.rollout.enabled = False
        config.experiment.save.enabled = True
        config.experiment.save.every_n_epochs = max(1, opts.epochs // 5)
        config.experiment.epoch_every_n_steps = opts.steps_per_epoch
        config.train.data = os.path.abspath(opts.dataset)
        config.train.output_dir = str(run_dir.resolve())
        config.train.num_epochs = opts.epochs
        config.train.batch_size = opts.batch_size
        config.train.seed = opts.seed
        config.train.cuda = torch.cuda.is_available()
        config.observation.modalities.obs.low_dim = list(LOW_DIM_KEYS)
        config.algo.rnn.enabled = opts.algo == "bc-rnn"
        if config.algo.rnn.enabled:
            config.train.seq_length = opts.seq_length
            config.algo.rnn.horizon = opts.seq_length
            config.algo.rnn.hidden_dim = opts.rnn_hidden_dim
            config.algo.rnn.num_layers = 2
    return config


def check_train_options(opts: TrainOptions) -> None:
    """Reject impossible options before anything is created."""
    if opts.algo not in ALGOS:
        raise UsageError(f"unknown --algo {opts.algo!r}; available: {', '.join(ALGOS)}")
    for name in ("epochs", "steps_per_epoch", "batch_size"):
        if getattr(opts, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(opts, name)}")


def train(opts: TrainOptions) -> TrainResult:
    """Train a policy on ``opts.dataset``; the last checkpoint is copied to ``<out>/model.pth``."""
    check_train_options(opts)
    check_dataset(opts.dataset)
    start = time.perf_counter()
    with output_dir(opts.out, "train") as out:
        log_path = out / "train_log.txt"
        losses = _run_robomimic(robomimic_config(opts, out / "robomimic"), log_path, opts)
        checkpoints = sorted(glob.glob(str(out / "robomimic" / "**" / "models" / "*.pth"), recursive=True),
                             key=os.path.getmtime)
        if not checkpoints:
            raise TrainingError(f"robomimic saved no checkpoint; see {log_path}")
        shutil.copyfile(checkpoints[-1], out / "model.pth")
    return TrainResult(out, out / "model.pth", log_path, losses[-1] if losses else math.nan,
                       time.perf_counter() - start)


def _run_robomimic(config, log_path: Path, opts: TrainOptions) -> list[float]:
    """Run robomimic's ``train`` with its output in ``log_path`` and an epoch progress bar."""
    import robomimic.utils.train_utils as train_utils
    from robomimic.scripts.train import train as robomimic_train

    losses: list[float] = []
    original = train_utils.run_epoch
    bar = tqdm(total=opts.epochs, desc="train", unit="epoch", disable=not opts.progress)

    def run_epoch_with_progress(*args, **kwargs):
        stats = original(*args, **kwargs)
        if not kwargs.get("validate", False):
            losses.append(float(stats.get("Loss", math.nan)))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        return stats

    train_utils.run_epoch = run_epoch_with_progress
    try:
        with open(log_path, "w") as log, contextlib.redirect_stdout(log):
            robomimic_train(config, device=_device(config))
    except MimicrecError:
        raise
    except Exception as err:
        raise TrainingError(f"robomimic training failed: {type(err).__name__}: {err}; see {log_path}") from err
    finally:
        train_utils.run_epoch = original
        bar.close()
    return losses


def _device(config):
    import robomimic.utils.torch_utils as torch_utils

    return torch_utils.get_torch_device(try_to_use_cuda=config.train.cuda)


# ------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class EvalResult:
    """Rollout outcome: success rate with a 95% Wilson interval and mean episode length."""

    num_rollouts: int
    num_successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    mean_length: float


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
    try:
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            import robomimic.utils.file_utils as file_utils
            import robomimic.utils.torch_utils as torch_utils

            policy, ckpt = file_utils.policy_from_checkpoint(
                ckpt_path=checkpoint, device=torch_utils.get_torch_device(try_to_use_cuda=True), verbose=False)
    except Exception as err:
        raise UsageError(f"{checkpoint}: not a robomimic checkpoint ({type(err).__name__}: {err})") from err
    meta = ckpt["env_metadata"]
    return policy, meta["env_name"], dict(meta.get("env_kwargs", {}))


def evaluate(checkpoint: str, num_rollouts: int, seed: int = 0, task: str | None = None,
             progress: bool = False) -> EvalResult:
    """Roll the checkpoint's policy out ``num_rollouts`` times in its task (or ``task``)."""
    if num_rollouts <= 0:
        raise UsageError(f"--num-rollouts must be a positive integer, got {num_rollouts}")
    policy, env_id, env_kwargs = load_policy(checkpoint)
    env = make_env(task or env_id, **env_kwargs).unwrapped
    max_steps = envs.TASKS[task or env_id].max_episode_steps
    outcomes = []
    try:
        for i in tqdm(range(num_rollouts), desc="eval", unit="rollout", disable=not progress):
            outcomes.append(rollout(policy, env, episode_seed(seed, EVAL_STREAM, i), max_steps))
    finally:
        env.close()
    wins = sum(ok for ok, _ in outcomes)
    low, high = wilson_interval(wins, num_rollouts)
    return EvalResult(num_rollouts, wins, wins / num_rollouts, low, high,
                      float(np.mean([n for _, n in outcomes])))


def rollout(policy, env, seed: int, max_steps: int) -> tuple[bool, int]:
    """One episode of ``policy`` from ``reset(seed)``; (success at rest, steps taken)."""
    obs, _ = env.reset(seed=seed)
    policy.start_episode()
    for step in range(1, max_steps + 1):
        action = policy(ob={k: np.asarray(v, dtype=np.float32) for k, v in obs.items()})
        obs, _, terminated, _, info = env.step(action)
        if info["success"]:
            return True, step
    return False, max_steps
