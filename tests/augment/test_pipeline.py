"""End to end, small: generate from the annotated seeds (1 and 2 workers, identical), train, evaluate."""

import json

import h5py
import numpy as np
import pytest

from augment.runner import GenerateOptions, generate
from recorder.policy.evaluate import evaluate
from recorder.policy.train import TrainOptions, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def generated(annotated, tmp_path_factory):
    root = tmp_path_factory.mktemp("gen")
    reports = {k: generate(GenerateOptions(str(annotated), 4, num_envs=k, seed=5, out=str(root / f"k{k}")))
               for k in (1, 2)}
    reports["ray"] = generate(GenerateOptions(str(annotated), 4, num_envs=2, seed=5, out=str(root / "ray"),
                                              executor="ray"))  # a local Ray instance, started and stopped
    return root, reports


def test_generation_counts_and_report(generated):
    root, reports = generated
    rep = reports[2]
    assert rep.num_successes == 4 and rep.num_attempts >= 4
    assert rep.num_attempts == rep.num_successes + rep.num_failures
    saved = json.loads((root / "k2" / "report.json").read_text())
    for key in ("num_attempts", "num_successes", "success_rate", "wall_time_s", "seed", "num_envs"):
        assert key in saved
    assert saved["num_envs"] == 2 and saved["seed"] == 5 and saved["executor"] == "process"
    assert 0 < saved["worker_time_s"] <= 2 * saved["wall_time_s"]  # two workers' time inside attempts
    assert saved["process_cpu_s"] > 0  # this (the test's) process: the workers' CPU is not in it
    from PIL import Image

    with Image.open(root / "k2" / "report.png") as image:  # three panels side by side
        assert image.format == "PNG" and image.width > 2 * image.height


@pytest.mark.parametrize("other", ["k2", "ray"])
def test_same_seed_same_data_for_any_worker_count_and_executor(generated, other):
    root, reports = generated
    assert reports[1].num_attempts == reports[2].num_attempts == reports["ray"].num_attempts
    assert json.loads((root / "ray" / "report.json").read_text())["executor"] == "ray"
    with h5py.File(root / "k1" / "generated.hdf5", "r") as a, h5py.File(root / other / "generated.hdf5", "r") as b:
        assert len(a["data"]) == len(b["data"]) == 4
        for name in a["data"]:
            for key in ("actions", "states", "obs/object", "subtask_index", "src_demo_index"):
                np.testing.assert_array_equal(a[f"data/{name}/{key}"][()], b[f"data/{name}/{key}"][()])


@pytest.mark.parametrize(("options", "message"), [
    ({"executor": "dask"}, "--executor must be one of process, ray"),
    ({"address": "auto"}, "--address names a Ray cluster; add --executor ray"),
    ({"executor": "ray", "address": "127.0.0.1:9"}, "cannot reach the Ray cluster at 127.0.0.1:9"),
])
def test_bad_executor_options_are_clear_errors_and_leave_nothing(annotated, tmp_path, options, message):
    from envs.errors import UsageError

    with pytest.raises(UsageError, match=message):
        generate(GenerateOptions(str(annotated), 2, num_envs=1, out=str(tmp_path / "run"), **options))
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


def test_generated_demos_replay_to_success(generated):
    from recorder.dataset.replay import replay_demo
    from recorder.dataset.tasks import make_env

    root, _ = generated
    env = make_env("mimicrec/StackThree-v0")
    with h5py.File(root / "k2" / "generated.hdf5", "r") as f:
        for name in f["data"]:
            demo = f[f"data/{name}"]
            episode = replay_demo(env, demo, name)
            assert episode.success and demo.attrs["success"]
            np.testing.assert_array_equal(episode.states, demo["states"][()])
            assert demo["subtask_index"][-1] == 3 and len(demo.attrs["src_demo_inds"]) == 4
    env.close()


def test_no_guarantee_counts_attempts(annotated, tmp_path):
    rep = generate(GenerateOptions(str(annotated), 3, num_envs=1, seed=9, out=str(tmp_path / "g"), guarantee=False))
    assert rep.num_attempts == 3
    with h5py.File(tmp_path / "g" / "generated.hdf5", "r") as f:
        assert len(f["data"]) == rep.num_successes


def test_train_and_eval(generated, tmp_path):
    root, _ = generated
    result = train(TrainOptions(str(root / "k2" / "generated.hdf5"), epochs=2, steps_per_epoch=5, batch_size=16,
                                rollouts=0, overrides=("algo.rnn.hidden_dim=32",), out=str(tmp_path / "policy")))
    assert result.checkpoint.is_file() and np.isfinite(result.final_loss) and result.best_epoch is None
    evaluation = evaluate(str(result.checkpoint), num_rollouts=1, seed=0)
    assert evaluation.num_rollouts == 1 and 0.0 <= evaluation.ci_low <= evaluation.ci_high <= 1.0
    assert 1 <= evaluation.mean_length <= 400


def test_zero_successes_is_a_clear_error_and_leaves_nothing(annotated, tmp_path):
    import yaml

    import envs
    from envs.errors import GenerationError

    spec = yaml.safe_load(open(envs.task_config_file("mimicrec/StackThree-v0", "mimic")))
    spec["generation"]["max_num_failures"] = 2
    for sub in spec["eefs"]["robot0"]["subtasks"]:
        sub["action_noise"] = 3.0  # 15 cm of noise per step: nothing can succeed
    config = tmp_path / "hopeless.yaml"
    config.write_text(yaml.safe_dump(spec))
    with pytest.raises(GenerationError, match="no attempt succeeded in 2 attempts"):
        generate(GenerateOptions(str(annotated), 3, num_envs=1, out=str(tmp_path / "g"), config=str(config)))
    assert not (tmp_path / "g").exists()


def test_joint_space_demos_generate_end_to_end(tmp_path):
    from augment.annotate import annotate
    from recorder.record import RecordOptions, record

    rec = record(RecordOptions("mimicrec/Stack-v0", 3, out=str(tmp_path / "rec"), action_mode="joint_pos"))
    annotate(str(rec.hdf5_path), str(tmp_path / "ann.hdf5"))
    rep = generate(GenerateOptions(str(tmp_path / "ann.hdf5"), 2, num_envs=1, out=str(tmp_path / "gen")))
    assert rep.num_successes == 2
    with h5py.File(tmp_path / "gen" / "generated.hdf5", "r") as f:
        assert json.loads(f["data"].attrs["env_args"])["env_kwargs"]["action_mode"] == "joint_pos"
        assert f["data/demo_0/actions"].shape[1] == 8


def test_keep_failed_saves_failures_with_the_subtask_they_failed_at(annotated, tmp_path):
    import yaml

    import envs

    spec = yaml.safe_load(open(envs.task_config_file("mimicrec/StackThree-v0", "mimic")))
    spec["eefs"]["robot0"]["subtasks"][-1]["action_noise"] = 3.0  # the last subtask always fails
    config = tmp_path / "last_fails.yaml"
    config.write_text(yaml.safe_dump(spec))
    from envs.errors import GenerationError

    with pytest.raises(GenerationError, match=r"no attempt succeeded in 3 attempts \(failures per subtask: \{'3': 3\}"):
        generate(GenerateOptions(str(annotated), 3, num_envs=1, seed=0, out=str(tmp_path / "g"), config=str(config),
                                 guarantee=False, keep_failed=True))
    with h5py.File(tmp_path / "g" / "failed" / "generated.hdf5", "r") as f:
        assert [f["data"][d].attrs["failed_subtask"] for d in ("demo_0", "demo_1", "demo_2")] == [3, 3, 3]
        assert not any(f["data"][d].attrs["success"] for d in f["data"])
    assert not (tmp_path / "g" / "generated.hdf5").exists()
