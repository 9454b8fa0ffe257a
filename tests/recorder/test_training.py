"""Training and evaluation: robomimic rollouts in our env during training, best checkpoint, robomimic's own
train.py on our file, evaluation videos, and the error paths."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from envs.errors import ConfigError, DatasetError, UsageError
from recorder.cli import main
from recorder.dataset.tasks import make_env
from recorder.policy.checkpoint_pick import finalists
from recorder.policy.evaluate import check_policy_fits, evaluate, failures_by_stage, load_policy, rollout, rollout_task
from recorder.policy.train import TrainingError, TrainOptions, inspect_dataset, robomimic_config, train
from tests.conftest import TASK

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TINY = ("algo.rnn.hidden_dim=16", "experiment.rollout.horizon=15")


def test_robomimic_creates_and_drives_our_env_through_its_own_factory(recorded):
    import robomimic.utils.env_utils as env_utils
    import robomimic.utils.file_utils as file_utils

    from recorder.policy.robomimic_env import register_with_robomimic

    register_with_robomimic()
    meta = file_utils.get_env_metadata_from_dataset(str(recorded.hdf5_path))
    env = env_utils.create_env_from_metadata(env_meta=meta, render_offscreen=True)
    assert env.name == "mimicrec-StackThree-v0" and env.action_dimension == 7
    first = env.reset()
    assert first["object"].shape[0] > 0 and env.is_success() == {"task": False}
    state = env.get_state()
    actions = np.random.default_rng(0).uniform(-1, 1, size=(5, 7))
    after = [env.step(a)[0]["robot0_eef_pos"] for a in actions]
    env.reset_to(state)  # exact restore: the same actions give the same observations
    again = [env.step(a)[0]["robot0_eef_pos"] for a in actions]
    np.testing.assert_array_equal(after, again)
    assert env.render(mode="rgb_array", height=64, width=48).shape == (64, 48, 3)
    assert env.reset()["object"].tolist() != first["object"].tolist()  # each rollout episode has its own scene


def test_training_rolls_out_every_epoch_keeps_the_best_and_writes_progress(recorded, tmp_path):
    res = train(TrainOptions(str(recorded.hdf5_path), epochs=2, steps_per_epoch=3, batch_size=8, rollouts=2,
                             rollout_every=1, overrides=(*TINY, "experiment.render_video=true"),
                             out=str(tmp_path / "t")))
    assert sorted(res.success) == [1, 2] and res.best_epoch in (1, 2) and len(res.losses) == 2
    rows = (res.out_dir / "progress.csv").read_text().splitlines()
    assert rows[0] == "epoch,loss,rollout_success_rate" and len(rows) == 3 and all(r.count(",") == 2 for r in rows)
    assert (res.out_dir / "training.png").stat().st_size > 0
    runs = list((res.out_dir / "robomimic" / "bc-rnn").iterdir())
    best = list(runs[0].glob(f"models/model_epoch_{res.best_epoch}_mimicrec-StackThree-v0_success_*.pth"))
    assert len(best) == 1 and best[0].read_bytes() == res.checkpoint.read_bytes()
    last = list(runs[0].glob("models/model_epoch_2*.pth"))
    assert len(last) == 1 and last[0].read_bytes() == (res.out_dir / "last.pth").read_bytes()
    assert len(list(runs[0].glob("videos/*.mp4"))) >= 1  # robomimic's own rollout videos, rendered by our env


def test_config_layers_template_flags_file_and_set(recorded, tmp_path):
    info = inspect_dataset(str(recorded.hdf5_path))
    extra = tmp_path / "extra.yaml"
    extra.write_text("algo:\n  rnn:\n    hidden_dim: 64\ntrain:\n  batch_size: 7\n")
    opts = TrainOptions(str(recorded.hdf5_path), epochs=3, batch_size=5, config=str(extra),
                        overrides=("algo.rnn.horizon=4",))
    config = robomimic_config(opts, info, tmp_path / "run")
    assert config.train.num_epochs == 3  # flag over the template's
    rate = config.algo.optim_params.policy.learning_rate
    assert rate.initial == 0.001 and rate.scheduler_type == "linear"  # the CPU recipe
    assert list(rate.epoch_schedule) == [3]  # its linear decay ends at the last epoch the flag gives
    assert config.train.batch_size == 7 and config.algo.rnn.hidden_dim == 64  # file over flag and template
    assert config.algo.rnn.horizon == 4 and config.train.seq_length == 4  # --set, and the sequence follows it
    assert config.experiment.rollout.horizon == 400 and 3 in config.experiment.save.epochs
    assert config.observation.modalities.obs.low_dim == ["robot0_eef_pos", "robot0_eef_quat",
                                                         "robot0_gripper_qpos", "object"]


def test_template_and_file_keys_under_an_algo_name_apply_to_that_algo_alone(recorded, tmp_path):
    """StackThree's template widens BC-RNN's LSTM and drops its MLP under ``bc-rnn:``; BC (an MLP) keeps
    robomimic's layers, so `train --algo bc` on StackThree data builds a network (it failed in robomimic)."""
    info = inspect_dataset(str(recorded.hdf5_path))
    rnn = robomimic_config(TrainOptions(str(recorded.hdf5_path)), info, tmp_path / "a")
    assert rnn.algo.rnn.enabled and rnn.algo.rnn.hidden_dim == 256 and list(rnn.algo.actor_layer_dims) == []
    mlp = robomimic_config(TrainOptions(str(recorded.hdf5_path), algo="bc"), info, tmp_path / "b")
    assert not mlp.algo.rnn.enabled and list(mlp.algo.actor_layer_dims) == [1024, 1024]
    extra = tmp_path / "extra.yaml"
    extra.write_text("train: {batch_size: 9}\nbc: {algo: {actor_layer_dims: [64]}}\nbc-rnn: {train: {batch_size: 3}}\n")
    mine = robomimic_config(TrainOptions(str(recorded.hdf5_path), algo="bc", config=str(extra)), info, tmp_path / "c")
    assert list(mine.algo.actor_layer_dims) == [64] and mine.train.batch_size == 9
    extra.write_text("bc: 3\n")
    with pytest.raises(ConfigError, match="extra.yaml: bc takes robomimic keys for --algo bc, got 3"):
        robomimic_config(TrainOptions(str(recorded.hdf5_path), algo="bc", config=str(extra)), info, tmp_path / "d")
    res = train(TrainOptions(str(recorded.hdf5_path), algo="bc", epochs=1, steps_per_epoch=2, batch_size=8,
                             rollouts=0, out=str(tmp_path / "t")))
    assert res.checkpoint.is_file()


def test_numbers_yaml_reads_as_text_are_numbers(recorded, tmp_path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("train:\n  num_epochs: 1e2\n")  # YAML 1.1 reads 1e2 and 2e-4 (no dot) as strings
    opts = TrainOptions(str(recorded.hdf5_path), config=str(extra),
                        overrides=("algo.optim_params.policy.learning_rate.initial=2e-4",))
    config = robomimic_config(opts, inspect_dataset(str(recorded.hdf5_path)), tmp_path / "run")
    assert config.algo.optim_params.policy.learning_rate.initial == 2e-4
    assert config.train.num_epochs == 100 and isinstance(config.train.num_epochs, int)


def test_init_starts_from_a_checkpoints_weights_and_refuses_another_network(recorded, tmp_path):
    import torch

    first = train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, batch_size=8, rollouts=0,
                               overrides=TINY, out=str(tmp_path / "first")))
    frozen = (*TINY, "algo.optim_params.policy.learning_rate.initial=0")  # no change: weights stay the init's
    again = train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, batch_size=8, rollouts=0,
                               overrides=frozen, init=str(first.out_dir / "last.pth"), out=str(tmp_path / "again")))
    before, after = (torch.load(r.checkpoint, weights_only=False)["model"] for r in (first, again))
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ConfigError, match="its network differs from this run's.*algo.rnn.hidden_dim"):
        train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, rollouts=0, init=str(first.checkpoint),
                           overrides=("algo.rnn.hidden_dim=8",), out=str(tmp_path / "other")))
    assert not (tmp_path / "other").exists()


def test_finalists_are_the_best_training_scores_later_first_and_the_last_epoch():
    assert finalists({10: 0.5, 20: 0.9, 30: 0.9, 40: 0.7, 50: 0.6}, 60) == [20, 30, 40, 60]
    assert finalists({10: 0.5, 20: 0.5, 30: 0.5}, 30, count=2) == [20, 30]
    assert finalists({}, 5) == [5]


def test_pick_rollouts_choose_model_pth_among_the_finalists_by_fresh_rollouts(recorded, tmp_path):
    res = train(TrainOptions(str(recorded.hdf5_path), epochs=4, steps_per_epoch=2, batch_size=8, rollouts=1,
                             rollout_every=1, pick_rollouts=2, overrides=TINY, out=str(tmp_path / "t")))
    record = json.loads((res.out_dir / "pick.json").read_text())
    assert record["rollouts_each"] == 2 and record["picked_epoch"] == res.best_epoch
    assert [f["epoch"] for f in record["finalists"]] == finalists(res.success, 4) == sorted(res.pick)
    assert all(f["training_success"] == res.success[f["epoch"]] for f in record["finalists"])
    assert res.best_epoch == max(res.pick, key=lambda epoch: (res.pick[epoch], epoch))  # later among equals
    models = next((res.out_dir / "robomimic" / "bc-rnn").iterdir()) / "models"
    kept = {int(path.stem.split("_")[2]): path for path in models.glob("model_epoch_*.pth")}
    assert sorted(kept) == [1, 2, 3, 4]  # a checkpoint at every evaluated epoch
    assert kept[res.best_epoch].read_bytes() == res.checkpoint.read_bytes()
    with pytest.raises(UsageError, match="--pick-rollouts must be 0 or more"):
        train(TrainOptions(str(recorded.hdf5_path), pick_rollouts=-1, out=str(tmp_path / "bad")))


def test_robomimics_own_train_script_runs_on_our_file(recorded, tmp_path):
    opts = TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, batch_size=8, rollouts=0,
                        overrides=TINY)
    config = robomimic_config(opts, inspect_dataset(str(recorded.hdf5_path)), tmp_path / "run")
    (tmp_path / "config.json").write_text(config.dump())
    proc = subprocess.run([sys.executable, "-m", "robomimic.scripts.train", "--config", str(tmp_path / "config.json"),
                           "--dataset", str(recorded.hdf5_path)], capture_output=True, text=True, timeout=300)
    assert "finished run successfully" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert list((tmp_path / "run").glob("*/*/models/model_epoch_1.pth"))


def test_eval_writes_a_video_of_its_rollouts(recorded, tmp_path):
    import imageio

    res = train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, batch_size=8, rollouts=0,
                             overrides=TINY, out=str(tmp_path / "t")))
    video = tmp_path / "eval.mp4"
    out = evaluate(str(res.checkpoint), num_rollouts=1, seed=3, video=str(video))
    frames = imageio.mimread(video, memtest=False)
    assert len(frames) == out.mean_length // 2 and frames[0].shape == (256, 256, 3)
    short = evaluate(str(res.checkpoint), num_rollouts=2, seed=3, max_steps=6)  # `eval --horizon 6`
    assert short.mean_length == 6 and short.num_successes == 0
    assert short.failures_by_stage == {"grasp_red": 2, "red_on_blue": 0, "grasp_green": 0, "goal": 0}
    with pytest.raises(UsageError, match="--video must name an .mp4"):
        evaluate(str(res.checkpoint), num_rollouts=1, video=str(tmp_path / "eval.gif"))
    assert evaluate(str(res.checkpoint), num_rollouts=1, video=str(tmp_path / "new" / "eval.mp4")).num_rollouts == 1
    assert (tmp_path / "new" / "eval.mp4").stat().st_size > 0  # its folder made, as convert and annotate make theirs


def test_eval_ctrl_c_reports_the_rollouts_finished(recorded, tmp_path):
    import threading

    res = train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, batch_size=8, rollouts=0,
                             overrides=TINY, out=str(tmp_path / "t")))
    args = [sys.executable, "-m", "recorder.cli", "eval", str(res.checkpoint), "--num-rollouts", "100000",
            "--horizon", "10"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 240
        while not re.search(r" ([3-9]|\d\d+)/100000", "".join(err)) and time.monotonic() < deadline:
            assert proc.poll() is None, "".join(err)
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # the progress bar shows 3 rollouts done
        proc.wait(timeout=120)
        reader.join(timeout=10)
    finally:
        proc.kill()
    last = "".join(err).strip().splitlines()[-1]
    done = re.fullmatch(r"mimicrec eval: interrupted; after (\d+) of 100000 rollouts: policy success rate 0\.0% "
                        r"\(0/(\d+), 95% CI 0\.0%-[\d.]+%\), mean episode length 10", last)
    assert proc.returncode == 130 and done and done[1] == done[2] and int(done[1]) >= 3, last


def test_eval_rolls_out_at_another_difficulty_and_with_task_settings(recorded, tmp_path, capsys):
    """``eval --difficulty D1 --set KEY=VALUE``: a D0 policy judged in the wider scene, or by changed task logic."""
    res = train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=2, batch_size=8, rollouts=0,
                             overrides=TINY, out=str(tmp_path / "t")))
    _, env_id, kwargs = load_policy(str(res.checkpoint))
    assert kwargs["difficulty"] == "D0" and kwargs["success_hold_steps"] == 5
    _, changed = rollout_task(env_id, kwargs, difficulty="D1", settings={"rollout.success_hold_steps": 1})
    assert changed["difficulty"] == "D1" and changed["success_hold_steps"] == 1
    assert changed["task"]["rollout"]["success_hold_steps"] == 1
    first_scenes = []
    for difficulty in ("D0", "D1"):
        env = make_env(env_id, **rollout_task(env_id, kwargs, difficulty=difficulty)[1])
        try:
            env.reset(seed=5)
            first_scenes.append(env.get_flat_state())
        finally:
            env.close()
    assert not np.array_equal(*first_scenes)  # the same scene seed places the cubes within another region
    short = evaluate(str(res.checkpoint), num_rollouts=1, seed=3, max_steps=4, difficulty="D1",
                     settings={"logic.success": "grasp_red"})
    assert short.num_rollouts == 1 and short.mean_length == 4
    assert main(["eval", str(res.checkpoint), "--difficulty", "D7", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--difficulty D7: mimicrec/StackThree-v0 has levels D0, D1, D2" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(UsageError, match=r"observes object of shape \(36,\), mimicrec/Lift-v0 gives \(10,\); evaluate"):
        evaluate(str(res.checkpoint), num_rollouts=1, task="mimicrec/Lift-v0")  # a policy only fits its own task
    absolute = make_env(env_id, **{**kwargs, "action_mode": "abs_eef", "action_scale": None})  # 8-D actions
    with pytest.raises(UsageError, match=f"the policy acts in 7 dimensions, {env_id} in 8"):
        check_policy_fits(load_policy(str(res.checkpoint))[0], absolute, env_id)
    absolute.close()
    assert main(["eval", str(recorded.hdf5_path), "--quiet"]) == 2  # a dataset given for the checkpoint
    err = capsys.readouterr().err
    assert "not a robomimic checkpoint (an HDF5 dataset); pass the model.pth" in err and err.count("\n") == 1, err


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"overrides": ("algo.rnn.hiden_dim=3",)}, ConfigError, "unknown robomimic config key 'algo.rnn.hiden_dim'"),
    ({"overrides": ("algo.rnn.hidden_dim",)}, UsageError, "--set needs KEY=VALUE"),
    ({"obs": "image"}, DatasetError, "no camera images to train on"),
    ({"obs": "pixels"}, UsageError, "unknown --obs 'pixels'"),
    ({"rollouts": -1}, UsageError, "--rollouts must be 0 or more"),
    ({"overrides": ("train.hdf5_normalize_obs=true",)}, ConfigError, "hdf5_normalize_obs=true is broken in robomimic"),
    ({"overrides": ("train.batch_size=many",)}, ConfigError, "train.batch_size takes a number, got 'many'"),
    ({"overrides": ("train.cuda=maybe",)}, ConfigError, "train.cuda takes true or false, got 'maybe'"),
    ({"init": "missing.pth"}, UsageError, "--init missing.pth: no such file"),
    ({"rollouts": 0, "pick_rollouts": 2}, UsageError, "--pick-rollouts picks among the checkpoints that training"),
    ({"pick_rollouts": 2, "overrides": ("experiment.rollout.enabled=false",)}, UsageError, "rolls out none"),
])
def test_bad_training_options_are_clear_errors_and_leave_nothing(recorded, tmp_path, options, error, message):
    with pytest.raises(error, match=message):
        train(TrainOptions(str(recorded.hdf5_path), out=str(tmp_path / "t"), **options))
    assert not (tmp_path / "t").exists()


def test_a_failed_robomimic_run_keeps_its_log_and_nothing_else(recorded, tmp_path):
    out = tmp_path / "t"
    expected = f"hidden_size must be greater than zero.*log is kept in {re.escape(str(out))}"
    with pytest.raises(TrainingError, match=expected):
        train(TrainOptions(str(recorded.hdf5_path), epochs=1, steps_per_epoch=1, rollouts=0,
                           overrides=("algo.rnn.hidden_dim=0",), out=str(out)))
    assert [p.name for p in out.iterdir()] == ["train_log.txt"]
    assert "\"hidden_dim\": 0" in (out / "train_log.txt").read_text()  # robomimic's own output up to the failure


def train_until_interrupted(dataset, out, epochs_done: int, *flags: str) -> subprocess.CompletedProcess:
    """``mimicrec train`` in its own process group, Ctrl-C (SIGINT to the group, as a terminal sends it) once
    ``epochs_done`` epochs are in its progress.csv."""
    args = [sys.executable, "-m", "recorder.cli", "train", str(dataset), "--epochs", "1000", "--steps-per-epoch", "2",
            "--batch-size", "8", *flags, "--set", "algo.rnn.hidden_dim=16", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not _rows(out / "progress.csv") > epochs_done and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)


def _rows(csv) -> int:
    return len(csv.read_text().splitlines()) if csv.exists() else 0


def test_ctrl_c_keeps_the_best_checkpoint_saved_so_far(recorded, tmp_path):
    out = tmp_path / "t"
    proc = train_until_interrupted(recorded.hdf5_path, out, 2, "--rollouts", "1", "--rollout-every", "1",
                                   "--set", "experiment.rollout.horizon=15")
    epochs = _rows(out / "progress.csv") - 1
    success = {int(row.split(",")[0]): float(row.split(",")[2])
               for row in (out / "progress.csv").read_text().splitlines()[1:] if row.split(",")[2]}
    best = max(success, key=lambda e: (success[e], -e))
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.strip() == (f"mimicrec train: interrupted; stopped after {epochs} epochs; {out / 'model.pth'} "
                                   f"is epoch {best}'s (rollout success {success[best]:.0%}); "
                                   f"`mimicrec eval {out / 'model.pth'}` runs it"), proc.stderr
    saved = list((out / "robomimic").rglob(f"models/model_epoch_{best}_*.pth"))
    assert len(saved) == 1 and saved[0].read_bytes() == (out / "model.pth").read_bytes()
    assert load_policy(str(out / "model.pth"))[1] == TASK and load_policy(str(out / "last.pth"))[1] == TASK
    assert (out / "training.png").stat().st_size > 0 and (out / "train_log.txt").exists()


def test_an_interrupt_mid_save_leaves_the_cut_checkpoint_out(recorded, tmp_path):
    from recorder.policy.train import _History, _keep_interrupted, _saved_checkpoints

    res = train(TrainOptions(str(recorded.hdf5_path), epochs=2, steps_per_epoch=2, batch_size=8, rollouts=1,
                             rollout_every=1, overrides=TINY, out=str(tmp_path / "t")))
    saved = _saved_checkpoints(res.out_dir / "robomimic")
    assert len(saved) >= 2
    saved[-1].write_bytes(saved[-1].read_bytes()[:1000])  # as Ctrl-C during torch.save leaves it
    history = _History(tmp_path / "progress.csv", list(res.losses), dict(res.success))
    kept = _keep_interrupted(res.out_dir, history, TASK)
    whole = {int(re.match(r"model_epoch_(\d+)", p.name)[1]) for p in saved[:-1]}
    best = max((e for e in res.success if e in whole), key=lambda e: (res.success[e], -e))
    assert kept == f"stopped after 2 epochs; {res.out_dir / 'model.pth'} is epoch {best}'s " \
                   f"(rollout success {res.success[best]:.0%})"
    assert (res.out_dir / "last.pth").read_bytes() == saved[-2].read_bytes()
    assert load_policy(str(res.out_dir / "model.pth"))[1] == TASK


def test_ctrl_c_before_any_checkpoint_keeps_the_log_alone(recorded, tmp_path):
    out = tmp_path / "t"
    proc = train_until_interrupted(recorded.hdf5_path, out, 2, "--rollouts", "0")  # saved only at the last epoch
    assert proc.returncode == 130 and proc.stderr.strip() == "mimicrec train: interrupted", proc.stderr
    assert [p.name for p in out.iterdir()] == ["train_log.txt"]


def test_dataset_without_training_keys_is_refused(recorded, tmp_path):
    broken = tmp_path / "broken.hdf5"
    with h5py.File(recorded.hdf5_path) as src, h5py.File(broken, "w") as dst:
        src.copy(src["data"], dst, name="data")
        del dst["data/demo_0/obs/object"]
    with pytest.raises(DatasetError, match="lack observation key"):
        train(TrainOptions(str(broken), out=str(tmp_path / "t")))


class ReplayPolicy:
    """Plays a recorded demo's actions through ``rollout``'s policy interface (``start_episode``, a call)."""

    def __init__(self, actions: np.ndarray) -> None:
        self.actions, self.step = actions, 0

    def start_episode(self) -> None:
        self.step = 0

    def __call__(self, ob: dict) -> np.ndarray:
        self.step += 1
        return self.actions[self.step - 1]


def test_a_rollout_knows_the_subtask_signals_it_raised_and_failures_count_at_the_first_one_missing(recorded):
    with h5py.File(recorded.hdf5_path) as f:
        demo = f["data/demo_0"]
        actions, seed, flags = demo["actions"][()], int(demo.attrs["seed"]), demo["datagen_info/subtask_term_signals"]
        first_raised = {name: int(np.argmax(flags[name][()])) for name in flags}
    env = make_env(TASK)
    try:
        whole = rollout(ReplayPolicy(actions), env, seed, max_steps=len(actions) + 50)
        grasped_only = rollout(ReplayPolicy(actions), env, seed, max_steps=first_raised["red_on_blue"] - 5)
    finally:
        env.close()
    assert whole.success and whole.signals_raised == {"grasp_red", "red_on_blue", "grasp_green"}
    assert not grasped_only.success and grasped_only.signals_raised == {"grasp_red"}
    stages = failures_by_stage([whole, grasped_only, grasped_only], ["grasp_red", "red_on_blue", "grasp_green"])
    assert stages == {"grasp_red": 0, "red_on_blue": 2, "grasp_green": 0, "goal": 0}
    assert failures_by_stage([replace(whole, success=False)], ["grasp_red", "red_on_blue", "grasp_green"])["goal"] == 1


def test_a_gmm_policy_rolls_out_the_same_twice_from_one_seed(recorded, tmp_path):
    """The GMM head samples actions; ``rollout`` seeds torch from the scene's seed, so evaluations repeat."""
    res = train(TrainOptions(str(recorded.hdf5_path), algo="bc-rnn", epochs=1, steps_per_epoch=2, batch_size=8,
                             rollouts=0, overrides=(*TINY, "algo.gmm.enabled=true"), out=str(tmp_path / "t")))
    policy, env_id, kwargs = load_policy(str(res.checkpoint))
    env = make_env(env_id, **kwargs)
    try:
        ends = []
        for _ in range(2):
            rollout(policy, env, seed=11, max_steps=15)
            ends.append(env.get_flat_state())
        rollout(policy, env, seed=12, max_steps=15)
        other = env.get_flat_state()
    finally:
        env.close()
    assert np.array_equal(ends[0], ends[1])
    assert not np.array_equal(ends[0], other)


def test_image_policies_train_on_the_cameras_and_roll_out_quietly(tmp_path):
    """`train --obs image` on a camera dataset: robomimic's image encoders see both cameras, `eval` renders them
    in its rollouts, and neither command prints anything but its summary with --quiet (torchvision's warnings
    about robomimic's resnet arguments included)."""
    def cli(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "MIMICREC_DATASET_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1"}
        return subprocess.run([sys.executable, "-m", "recorder.cli", *args, "--quiet"], capture_output=True,
                              text=True, env=env, timeout=600)

    cameras = ("--cameras", "agentview", "robot0_eye_in_hand", "--image-size", "64")
    assert cli("record", "--task", "mimicrec/Lift-v0", "--num-demos", "2", *cameras, "--out",
               str(tmp_path / "rec")).returncode == 0
    trained = cli("train", str(tmp_path / "rec" / "demos.hdf5"), "--obs", "image", "--algo", "bc", "--epochs", "1",
                  "--steps-per-epoch", "2", "--batch-size", "4", "--rollouts", "1", "--rollout-every", "1",
                  "--set", "experiment.rollout.horizon=10", "--out", str(tmp_path / "policy"))
    assert trained.returncode == 0 and trained.stderr == "", trained.stderr
    shapes = load_policy(str(tmp_path / "policy" / "model.pth"))[0].policy.obs_shapes  # what the network reads
    assert shapes["agentview_image"] == shapes["robot0_eye_in_hand_image"] == [3, 64, 64] and "object" not in shapes
    evaluated = cli("eval", str(tmp_path / "policy" / "model.pth"), "--num-rollouts", "1", "--horizon", "10")
    assert evaluated.returncode == 0 and evaluated.stderr == "", evaluated.stderr
    assert "policy success rate" in evaluated.stdout


def test_a_dataset_trains_and_generates_where_its_task_files_are_not(tmp_path):
    """A dataset of one's own task, on a machine without the task's folder: the task is rebuilt from the dataset's
    stored definition and trains without a template (it is optional); annotate asks for the Mimic spec with
    --config, and stores it: generate from the annotated file then needs no --config."""
    import shutil

    task = tmp_path / "task"
    task.mkdir()
    for kind in ("gym", "action_bank"):
        text = (ROOT / "configs" / "Lift" / f"{kind}.yaml").read_text()
        (task / f"{kind}.yaml").write_text(text.replace("mimicrec/Lift-v0", "mine/Lift-v0"))
    env = {**os.environ, "MIMICREC_DATASET_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "recorder.cli", *args, "--quiet"], capture_output=True,
                              text=True, env=env, timeout=600)

    assert cli("record", "--task", str(task), "--num-demos", "2", "--out", str(tmp_path / "rec")).returncode == 0
    shutil.rmtree(task)
    demos = str(tmp_path / "rec" / "demos.hdf5")
    trained = cli("train", demos, "--algo", "bc", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
                  "--rollouts", "1", "--set", "experiment.rollout.horizon=5", "--out", str(tmp_path / "policy"))
    assert trained.returncode == 0 and (tmp_path / "policy" / "model.pth").is_file(), trained.stderr
    refused = cli("annotate", demos, "--auto")
    assert refused.returncode == 2 and "its mimic file is not on this machine; pass it with --config" in \
        refused.stderr, refused.stderr
    spec = str(ROOT / "configs" / "Lift" / "mimic.yaml")
    assert cli("annotate", demos, "--auto", "--config", spec, "--out", str(tmp_path / "ann.hdf5")).returncode == 0
    generated = cli("generate", str(tmp_path / "ann.hdf5"), "--num-trials", "2", "--num-envs", "1", "--out",
                    str(tmp_path / "gen"))
    assert generated.returncode == 0 and "successes 2" in generated.stdout, generated.stderr
    used = json.loads((tmp_path / "gen" / "report.json").read_text())["spec"]
    assert used["eefs"]["robot0"]["subtasks"][0]["description"] == "grasp the red cube"
    with h5py.File(tmp_path / "ann.hdf5") as annotated, h5py.File(tmp_path / "gen" / "generated.hdf5") as made:
        assert made["data"].attrs["spec_digest"] == annotated["data"].attrs["spec_digest"]  # the stored spec
