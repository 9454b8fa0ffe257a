"""``mimicrec train``: robomimic 0.3.0 BC / BC-RNN on our HDF5, with rollouts in our env during training.

The robomimic config is derived from the dataset (observation keys for ``--obs low-dim|image``, the
task's episode length as rollout horizon), then the task's template ``configs/<Task>/train.yaml``,
then the command line, then ``--config FILE``, then ``--set key=value`` (robomimic's own key paths).
Training runs robomimic's own ``train()`` from Python; every few epochs robomimic rolls the policy
out in our env (``recorder.policy.robomimic_env``) and saves a checkpoint whenever the success rate is the
best so far; ``model.pth`` is that best checkpoint (or, with ``--pick-rollouts N``, the best of the
top few and the last by N fresh rollouts each: ``recorder.policy.checkpoint_pick``) and ``last.pth`` the last
epoch's. ``--init`` starts a run from a checkpoint's weights. Its failures become ``TrainingError`` (exit 1).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

import envs
from envs.config import load_mapping, parse_key_values
from envs.errors import ConfigError, DatasetError, MimicrecError, RunInterrupted, UsageError
from recorder.dataset.paths import output_dir, write_atomically
from recorder.dataset.reading import dataset_env, demo_names, open_dataset
from recorder.imports import import_pyplot
from recorder.policy import ignore_resnet_argument_warnings

if TYPE_CHECKING:
    from recorder.policy.checkpoint_pick import Pick

log = logging.getLogger(__name__)
LOW_DIM_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object")  # joint angles left out
PROPRIO_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")  # low-dim part of --obs image
ALGOS = ("bc", "bc-rnn")
OBS_MODES = ("low-dim", "image")


class TrainingError(MimicrecError):
    """robomimic failed while training; the message points at the log."""

    exit_code = 1


@dataclass(frozen=True)
class TrainOptions:
    """What ``mimicrec train`` was asked to do; None means "from the task template or the default"."""

    dataset: str
    algo: str = "bc-rnn"
    obs: str = "low-dim"
    epochs: int | None = None
    steps_per_epoch: int | None = None
    batch_size: int | None = None
    rollouts: int | None = None  # rollouts per evaluation; 0 disables evaluation during training
    rollout_every: int | None = None  # epochs between evaluations
    seed: int = 1
    out: str | None = None
    config: str | None = None  # a YAML/JSON file of robomimic config values
    overrides: tuple[str, ...] = ()  # "key.path=value" items
    progress: bool = False
    init: str | None = None  # a checkpoint whose network weights the run starts from
    pick_rollouts: int = 0  # >0: model.pth = the best of the top rollout checkpoints and the last by N rollouts


@dataclass(frozen=True)
class TrainResult:
    """Where the run went, its losses and rollout success per epoch, and which checkpoint is ``model.pth``."""

    out_dir: Path
    checkpoint: Path
    log_path: Path
    final_loss: float
    wall_time_s: float
    losses: list[float] = field(default_factory=list)
    success: dict[int, float] = field(default_factory=dict)  # epoch -> rollout success rate
    best_epoch: int | None = None
    pick: dict[int, float] = field(default_factory=dict)  # finalist epoch -> success in the --pick-rollouts rollouts


@dataclass(frozen=True)
class DatasetInfo:
    """What the config needs to know about a dataset."""

    env_id: str
    obs_keys: tuple[str, ...]
    image_keys: tuple[str, ...]


def inspect_dataset(path: str) -> DatasetInfo:
    """The dataset's task and observation keys; DatasetError if it cannot be trained on."""
    with open_dataset(path) as file:
        env_id, _ = dataset_env(file)
        first = file["data"][demo_names(file)[0]]
        keys = tuple(first["obs"].keys()) if "obs" in first else ()
        missing = [k for k in LOW_DIM_KEYS if k not in keys]
        if missing:
            raise DatasetError(f"{path}: demos lack observation key(s) {', '.join(missing)}; "
                               "train on a file written by `mimicrec record` or `generate`")
        if np.abs(first["actions"][()]).max() > 1.0:
            raise DatasetError(f"{path}: actions exceed [-1, 1]; robomimic's BC policies need normalized actions")
    return DatasetInfo(env_id, keys, tuple(k for k in keys if k.endswith("_image")))


def check_train_options(opts: TrainOptions) -> None:
    """Reject impossible options before anything is created."""
    if opts.algo not in ALGOS:
        raise UsageError(f"unknown --algo {opts.algo!r}; available: {', '.join(ALGOS)}")
    if opts.obs not in OBS_MODES:
        raise UsageError(f"unknown --obs {opts.obs!r}; available: {', '.join(OBS_MODES)}")
    for name in ("epochs", "steps_per_epoch", "batch_size", "rollout_every"):
        if getattr(opts, name) is not None and getattr(opts, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(opts, name)}")
    for name in ("rollouts", "pick_rollouts"):
        if getattr(opts, name) is not None and getattr(opts, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(opts, name)}")


def template_path(env_id: str) -> Path | None:
    """The task's training template ``configs/<Task>/train.yaml``; None where the task has none on this machine
    (its folder holds none, or the task was rebuilt from a dataset's stored definition)."""
    return envs.optional_task_config_file(env_id, "train")


def robomimic_config(opts: TrainOptions, info: DatasetInfo, run_dir: Path):
    """The robomimic ``Config``: dataset-derived settings, then template, flags, file and ``--set`` items."""
    from robomimic.config import config_factory

    config = config_factory("bc")
    with config.values_unlocked():
        _derived_settings(config, opts, info, run_dir)
        template = template_path(info.env_id)
        if template is not None:
            apply_config_file(config, load_mapping(template), str(template), opts.algo)
        apply_values(config, _flag_values(opts), "the command line")
        if opts.config:
            apply_config_file(config, load_mapping(opts.config), opts.config, opts.algo)
        apply_values(config, parse_overrides(opts.overrides), "--set")
        _consistent(config)
        if opts.pick_rollouts:
            _save_rollout_epochs(config)
    _refuse_broken_settings(config)
    if opts.pick_rollouts and not config.experiment.rollout.enabled:
        raise UsageError("--pick-rollouts picks among the checkpoints that training rollouts scored, and this run "
                         "rolls out none (--rollouts 0 or experiment.rollout.enabled=false); give --rollouts N or "
                         "drop --pick-rollouts")
    return config


def _derived_settings(config, opts: TrainOptions, info: DatasetInfo, run_dir: Path) -> None:
    import torch

    config.experiment.name = opts.algo
    config.experiment.validate = False
    config.experiment.logging.terminal_output_to_txt = False
    config.experiment.logging.log_tb = False
    config.experiment.save.enabled = True
    config.experiment.save.on_best_rollout_success_rate = True
    config.experiment.save.every_n_epochs = None
    config.experiment.rollout.enabled = True
    config.experiment.rollout.n = 10
    config.experiment.rollout.rate = 10
    config.experiment.rollout.horizon = envs.task_entry(info.env_id).max_episode_steps
    config.experiment.rollout.terminate_on_success = True
    config.experiment.rollout.warmstart = 0
    config.experiment.render_video = False  # --set experiment.render_video=true: robomimic's rollout videos
    config.experiment.epoch_every_n_steps = 100
    config.train.num_epochs = 50
    config.train.batch_size = 100
    config.train.data = os.path.abspath(opts.dataset)
    config.train.output_dir = str(run_dir.resolve())
    config.train.seed = opts.seed
    config.train.cuda = torch.cuda.is_available()
    config.algo.rnn.enabled = opts.algo == "bc-rnn"
    config.algo.rnn.num_layers = 2
    config.algo.rnn.hidden_dim = 128  # a CPU-sized recipe (the paper: 400); templates and --set change it
    config.algo.rnn.horizon = 10
    rate = config.algo.optim_params.policy.learning_rate  # robomimic's 1e-4 needs ~10x the steps
    rate.initial, rate.decay_factor, rate.scheduler_type = 1e-3, 0.1, "linear"
    _observation_settings(config, opts, info)


def _observation_settings(config, opts: TrainOptions, info: DatasetInfo) -> None:
    """Observation keys for ``--obs``: low-dim (eef, gripper, objects) or images + proprioception."""
    if opts.obs == "image":
        if not info.image_keys:
            raise DatasetError(f"{opts.dataset}: no camera images to train on; generate or record with --cameras, "
                               "or train with --obs low-dim")
        config.observation.modalities.obs.low_dim = list(PROPRIO_KEYS)
        config.observation.modalities.obs.rgb = list(info.image_keys)
    else:
        config.observation.modalities.obs.low_dim = list(LOW_DIM_KEYS)


def _consistent(config) -> None:
    """Settings that follow from others: sequence length = RNN horizon; the last epoch is always saved;
    a linear learning-rate schedule without epochs decays over the whole run (robomimic: no decay)."""
    config.train.seq_length = config.algo.rnn.horizon if config.algo.rnn.enabled else 1
    rate = config.algo.optim_params.policy.learning_rate
    if rate.scheduler_type == "linear" and not rate.epoch_schedule:
        rate.epoch_schedule = [config.train.num_epochs]
    config.experiment.save.epochs = sorted({*config.experiment.save.epochs, config.train.num_epochs})


def _save_rollout_epochs(config) -> None:
    """Keep a checkpoint at every epoch the run rolls out (the candidates of ``--pick-rollouts``)."""
    rollout = config.experiment.rollout
    if rollout.enabled:
        evaluated = range(rollout.rate, config.train.num_epochs + 1, rollout.rate)
        config.experiment.save.epochs = sorted({*config.experiment.save.epochs,
                                                *(e for e in evaluated if e > rollout.warmstart)})


def _refuse_broken_settings(config) -> None:
    """Settings robomimic 0.3.0 accepts but cannot run correctly: a ``ConfigError`` naming the fix."""
    if config.train.hdf5_normalize_obs:
        # 0.3.0 normalizes every training batch twice (its SequenceDataset, then postprocess_batch_for_training)
        # and its dataset's shape check fails on any sequence longer than 1.
        raise ConfigError("train.hdf5_normalize_obs=true is broken in robomimic 0.3.0 (training batches are "
                          "normalized twice, BC-RNN sequences fail its shape check); leave it false")


def _flag_values(opts: TrainOptions) -> dict[str, Any]:
    """The values the command-line flags set (only the flags given)."""
    flags = {"train.num_epochs": opts.epochs, "experiment.epoch_every_n_steps": opts.steps_per_epoch,
             "train.batch_size": opts.batch_size, "experiment.rollout.n": opts.rollouts,
             "experiment.rollout.rate": opts.rollout_every}
    values = {key: value for key, value in flags.items() if value is not None}
    if opts.rollouts is not None:
        values["experiment.rollout.enabled"] = opts.rollouts > 0
    return values


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """``("algo.rnn.hidden_dim=400", ...)`` -> ``{"algo.rnn.hidden_dim": 400}`` (values read as YAML)."""
    return parse_key_values(items, "--set", "algo.rnn.hidden_dim=400")


def apply_config_file(config, values: dict[str, Any], source: str, algo: str) -> None:
    """A training file's values (a task's ``train.yaml``, ``--config``): its robomimic key paths, then those under
    the name of the ``--algo`` trained (``bc:``, ``bc-rnn:``), which apply to that algo alone (e.g. a BC-RNN
    layout with no MLP after the LSTM, ``actor_layer_dims: []``, would leave BC without a network)."""
    apply_values(config, {key: value for key, value in values.items() if key not in ALGOS}, source)
    if isinstance(values.get(algo), dict):
        apply_values(config, values[algo], f"{source}: {algo}")
    elif algo in values:
        raise ConfigError(f"{source}: {algo} takes robomimic keys for --algo {algo}, got {values[algo]!r}")


def apply_values(config, values: dict[str, Any], source: str, prefix: str = "") -> None:
    """Set robomimic config values from a nested or dotted mapping; an unknown key is a ConfigError."""
    for key, value in values.items():
        path = f"{prefix}{key}"
        parent, _, leaf = path.rpartition(".")
        node = config
        for part in filter(None, parent.split(".")):
            node = node[part] if isinstance(node, dict) and part in node else None
            if node is None:
                break
        if node is None or not isinstance(node, dict) or leaf not in node:
            raise ConfigError(f"{source}: unknown robomimic config key {path!r}; see robomimic's config for "
                              "the bc algo (e.g. algo.rnn.hidden_dim, train.num_epochs)")
        if isinstance(value, dict) and isinstance(node[leaf], dict):
            apply_values(config, value, source, prefix=f"{path}.")
        elif isinstance(node[leaf], dict) or (isinstance(value, dict) and node[leaf] is not None):
            raise ConfigError(f"{source}: {path} takes {'keys' if isinstance(node[leaf], dict) else 'a value'}, "
                              f"got {value!r}; e.g. train: {{num_epochs: 10}}")
        else:
            node[leaf] = _typed_like(node[leaf], value, f"{source}: {path}")


def _typed_like(current: Any, value: Any, where: str) -> Any:
    """``value`` for a key that holds ``current``: a number written as text that YAML reads as a string
    (``2e-4``, ``1e3``) becomes the number; any other text for a number or a yes/no key is a ConfigError."""
    if not isinstance(value, str) or not isinstance(current, (bool, int, float)):
        return value
    if not isinstance(current, bool):
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            return int(number) if isinstance(current, int) and number.is_integer() else number
    kind = "true or false" if isinstance(current, bool) else "a number"
    raise ConfigError(f"{where} takes {kind}, got {value!r}")


def train(opts: TrainOptions) -> TrainResult:
    """Train a policy on ``opts.dataset``; the best checkpoint (by rollout success) becomes ``<out>/model.pth``."""
    check_train_options(opts)
    info = inspect_dataset(opts.dataset)
    init = load_init_checkpoint(opts.init) if opts.init else None
    start = time.perf_counter()
    with output_dir(opts.out, "train", keep_data=True) as out:
        log_path, history = out / "train_log.txt", _History(out / "progress.csv")
        try:
            config = robomimic_config(opts, info, out / "robomimic")
            _run_robomimic(config, log_path, opts, out, init, history)
            best, pick = _choose_model(config, opts, history, out)
            _keep_model(out, best, None, history, info.env_id)
        except KeyboardInterrupt as err:  # Ctrl-C: the checkpoints saved so far are the run's result
            kept = _keep_interrupted(out, history, info.env_id)
            if kept is None:
                _keep_only(out, log_path)
                raise
            raise RunInterrupted(f"{kept}; `mimicrec eval {out / 'model.pth'}` runs it") from err
        except BaseException as err:
            # a failed run leaves its log, nothing else; one refused (a ConfigError) leaves nothing
            _keep_only(out, None if isinstance(err, ConfigError) else log_path)
            raise
    losses = history.losses
    return TrainResult(out, out / "model.pth", log_path, losses[-1] if losses else math.nan,
                       time.perf_counter() - start, losses, dict(history.success), best, pick.scores if pick else {})


def _keep_model(out: Path, best: int | None, saved: list[Path] | None, history: _History, env_id: str) -> None:
    """``model.pth`` (epoch ``best``'s checkpoint; None: the last), ``last.pth`` (the last) and the plot, from
    robomimic's checkpoints (``saved``: those to choose from; None: all)."""
    shutil.copyfile(_checkpoint_of(out / "robomimic", best, saved), out / "model.pth")
    shutil.copyfile(_checkpoint_of(out / "robomimic", None, saved), out / "last.pth")
    write_training_plot(out / "training.png", history.losses, history.success, env_id)


def _keep_interrupted(out: Path, history: _History, env_id: str) -> str | None:
    """After Ctrl-C, the run's result from the checkpoints robomimic saved whole so far (the newest is left out
    if it does not load: the interrupt cut its writing short): ``model.pth`` the best by rollouts, ``last.pth``
    the latest; returns what the run kept, in words, or None where it saved none."""
    history.write()  # Ctrl-C may have cut its last rewrite short: it must hold the epochs this result names
    saved = _saved_checkpoints(out / "robomimic")
    if saved and not _loads(saved[-1]):
        saved.pop()
    if not saved:
        return None
    best = history.best_epoch(among={int(re.match(r"model_epoch_(\d+)", path.name)[1]) for path in saved})
    _keep_model(out, best, saved, history, env_id)
    which = f"epoch {best}'s (rollout success {history.success[best]:.0%})" if best is not None else "the last saved"
    return f"stopped after {len(history.losses)} epochs; {out / 'model.pth'} is {which}"


def _loads(path: Path) -> bool:
    """Whether ``path`` loads as a (torch) checkpoint."""
    import torch

    try:
        torch.load(path, map_location="cpu", weights_only=False)
        return True
    except Exception:  # noqa: BLE001  (cut short mid-write: any unpickling error)
        return False


def _choose_model(config, opts: TrainOptions, history: _History, out: Path) -> tuple[int | None, Pick | None]:
    """The epoch that becomes model.pth (None: the last) and, with ``--pick-rollouts``, the pick behind it."""
    if not opts.pick_rollouts or not history.success:
        return history.best_epoch(), None
    from recorder.policy.checkpoint_pick import finalists, pick_checkpoint, write_pick

    candidates = {epoch: _checkpoint_of(out / "robomimic", epoch)
                  for epoch in finalists(history.success, len(history.losses))}
    pick = pick_checkpoint(candidates, opts.pick_rollouts, opts.seed, config.experiment.rollout.horizon)
    write_pick(out / "pick.json", pick, history.success)
    return pick.epoch, pick


def _keep_only(folder: Path, kept: Path | None) -> None:
    """Delete everything in ``folder`` but ``kept``."""
    for entry in folder.iterdir():
        if entry != kept:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


@dataclass
class _History:
    """Loss per epoch and rollout success per evaluated epoch, written to ``progress.csv`` as they come."""

    csv: Path
    losses: list[float] = field(default_factory=list)
    success: dict[int, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def epoch_done(self, loss: float) -> None:
        self.losses.append(loss)
        self.write()

    def rollouts_done(self, rate: float) -> None:
        self.success[len(self.losses)] = rate
        self.write()

    def best_epoch(self, among: set[int] | None = None) -> int | None:
        """The first epoch with the highest rollout success (of the epochs ``among``; None without rollouts)."""
        rated = [epoch for epoch in self.success if among is None or epoch in among]
        return max(rated, key=lambda e: (self.success[e], -e)) if rated else None

    def write(self) -> None:
        """``progress.csv`` as the epochs recorded so far give it (rewritten whole, atomically)."""
        rows = ["epoch,loss,rollout_success_rate"]
        rows += [f"{e},{loss:.6f},{self.success.get(e, '')}" for e, loss in enumerate(self.losses, start=1)]
        write_atomically(self.csv, "\n".join(rows) + "\n")


def _saved_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoints robomimic saved in ``run_dir``, oldest first."""
    return [Path(p) for p in sorted(glob.glob(str(run_dir / "**" / "models" / "*.pth"), recursive=True),
                                    key=os.path.getmtime)]


def _checkpoint_of(run_dir: Path, epoch: int | None, saved: list[Path] | None = None) -> Path:
    """The checkpoint robomimic saved at ``epoch`` (a best rollout or a listed epoch), or its last one (among
    ``saved``; None: every checkpoint in ``run_dir``)."""
    saved = _saved_checkpoints(run_dir) if saved is None else saved
    if epoch is not None:  # model_epoch_E.pth (a listed epoch) or model_epoch_E_<env>_success_<rate>.pth
        name = f"model_epoch_{epoch}"
        saved = [p for p in saved if p.stem == name or p.name.startswith(name + "_")] or saved
    if not saved:
        raise TrainingError(f"robomimic saved no checkpoint in {run_dir}; raise train.num_epochs or "
                            "set experiment.save.every_n_epochs")
    return saved[-1]


def load_init_checkpoint(path: str) -> dict[str, Any]:
    """The checkpoint ``--init`` names (robomimic's checkpoint dict); UsageError if it is not one."""
    import torch

    if not os.path.isfile(path):
        raise UsageError(f"--init {path}: no such file; pass a model.pth or last.pth of `mimicrec train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        _ = ckpt["model"], ckpt["shape_metadata"]["all_shapes"], ckpt["shape_metadata"]["ac_dim"]
    except Exception as err:
        raise UsageError(f"--init {path}: not a robomimic checkpoint ({type(err).__name__}: {err})") from err
    ckpt["path"] = path
    return ckpt


def _initialized_factory(factory, init: dict[str, Any]):
    """robomimic's ``algo_factory`` whose model starts from ``init``'s weights; ConfigError if they do not fit."""
    def make_model(*args, **kwargs):
        shapes = {k: list(v) for k, v in kwargs["obs_key_shapes"].items()}
        theirs = {k: list(v) for k, v in init["shape_metadata"]["all_shapes"].items()}
        if shapes != theirs or kwargs["ac_dim"] != init["shape_metadata"]["ac_dim"]:
            raise ConfigError(f"--init {init['path']}: its policy takes {theirs} -> {init['shape_metadata']['ac_dim']} "
                              f"actions, this run {shapes} -> {kwargs['ac_dim']}; start from a policy trained on "
                              "the same observations and actions")
        model = factory(*args, **kwargs)
        try:
            model.deserialize(init["model"])
        except RuntimeError as err:
            lines = str(err).splitlines()  # torch: a header line, then one line per mismatched tensor
            detail = lines[1].strip() if len(lines) > 1 else str(err)
            raise ConfigError(f"--init {init['path']}: its network differs from this run's ({detail}); train with "
                              "the algo settings it was trained with (e.g. the same algo.rnn.hidden_dim)") from err
        log.warning("the policy starts from the weights of %s", init["path"])
        return model
    return make_model


def _run_robomimic(config, log_path: Path, opts: TrainOptions, out: Path, init: dict[str, Any] | None,
                   history: _History) -> None:
    """Run robomimic's ``train`` with its output in ``log_path``; an epoch bar with loss and rollout success,
    both recorded in ``history`` as they come."""
    with open(log_path, "w") as log, contextlib.redirect_stdout(log):  # robomimic's import notes go to the log
        import robomimic.scripts.train as robomimic_script
        import robomimic.utils.train_utils as train_utils

    from recorder.policy.robomimic_env import register_with_robomimic

    register_with_robomimic()
    ignore_resnet_argument_warnings()
    originals = (train_utils.run_epoch, train_utils.rollout_with_stats)
    bar = tqdm(total=config.train.num_epochs, desc="train", unit="epoch", disable=not opts.progress)

    def run_epoch(*args, **kwargs):
        stats = originals[0](*args, **kwargs)
        if not kwargs.get("validate", False):
            history.epoch_done(float(stats.get("Loss", math.nan)))
            bar.update(1)
            bar.set_postfix_str(_bar_text(history))
        return stats

    def rollout_with_stats(*args, **kwargs):
        logs, videos = originals[1](*args, **kwargs)
        history.rollouts_done(float(np.mean([env_logs["Success_Rate"] for env_logs in logs.values()])))
        bar.set_postfix_str(_bar_text(history))
        return logs, videos

    train_utils.run_epoch, train_utils.rollout_with_stats = run_epoch, rollout_with_stats
    factory = robomimic_script.algo_factory
    if init is not None:
        robomimic_script.algo_factory = _initialized_factory(factory, init)
    try:
        with open(log_path, "a") as log, contextlib.redirect_stdout(log):
            robomimic_script.train(config, device=_device(config))
    except MimicrecError:
        raise
    except Exception as err:
        raise TrainingError(f"robomimic training failed: {type(err).__name__}: {err}; its log is kept in {log_path} "
                            f"(remove {out} before training into it again)") from err
    finally:
        train_utils.run_epoch, train_utils.rollout_with_stats = originals
        robomimic_script.algo_factory = factory
        bar.close()


def _bar_text(history: _History) -> str:
    text = f"loss {history.losses[-1]:.4f}" if history.losses else ""
    if history.success:
        last = max(history.success)
        text += f", success {history.success[last]:.0%} (epoch {last}), best {max(history.success.values()):.0%}"
    return text


def _device(config):
    import robomimic.utils.torch_utils as torch_utils

    return torch_utils.get_torch_device(try_to_use_cuda=config.train.cuda)


def write_training_plot(path: Path, losses: list[float], success: dict[int, float], title: str) -> None:
    """Loss (left axis) and rollout success (right axis) against epoch, as a PNG."""
    plt = import_pyplot()
    fig, loss_ax = plt.subplots(figsize=(7, 4))
    loss_ax.plot(range(1, len(losses) + 1), losses, color="tab:blue")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss", color="tab:blue")
    if success:
        rate_ax = loss_ax.twinx()
        rate_ax.plot(list(success), [100 * v for v in success.values()], "o-", color="tab:green")
        rate_ax.set_ylabel("rollout success (%)", color="tab:green")
        rate_ax.set_ylim(-5, 105)
    loss_ax.set_title(title)
    fig.tight_layout()
    partial = path.with_name(path.stem + ".partial.png")
    fig.savefig(partial)
    plt.close(fig)
    os.replace(partial, path)
