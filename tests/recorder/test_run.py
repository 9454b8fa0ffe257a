"""The one run lifecycle of record and generate (``recorder.dataset.run``): run folders, run.json,
periodic commits, keep-failed and what ``--resume`` accepts."""

import json
from dataclasses import dataclass

import h5py
import pytest

from envs.errors import UsageError
from recorder.dataset.run import RUN_FILE, Run, read_run_file, resumed_options, run_folder
from recorder.dataset.tasks import env_args, lerobot_schema
from recorder.record import run_scripted_episode
from tests.recorder.hdf5_compare import assert_same_hdf5

LIFT = "mimicrec/Lift-v0"


@dataclass(frozen=True)
class Options:
    resume: str | None = None
    out: str | None = None
    seed: int = 0
    difficulty: str = "D0"


@pytest.fixture(scope="module")
def lift(tmp_path_factory):
    """A Lift env's metadata and two episodes: a success and a failure (cut short)."""
    from recorder.dataset.tasks import make_env

    env = make_env(LIFT)
    success = run_scripted_episode(env, LIFT, seed=1, max_steps=200)
    failure = run_scripted_episode(env, LIFT, seed=2, max_steps=5)
    meta = env_args(LIFT, env.env_kwargs), lerobot_schema(LIFT, env)
    env.close()
    assert success.success and not failure.success
    return meta, success, failure


def open_run(folder, lift, **kwargs) -> Run:
    (args, schema), _, _ = lift
    return Run(folder, "demos.hdf5", args, schema, {"seed": 7, "attempts": 0}, **kwargs)


def test_resumed_options_come_from_run_json_and_refuse_a_new_folder(tmp_path):
    (tmp_path / RUN_FILE).write_text(json.dumps({"seed": 5, "difficulty": "D1", "attempts": 3}))
    opts = resumed_options(Options(resume=str(tmp_path)), "record", ("seed", "difficulty"), {"out": "--out"})
    assert (opts.seed, opts.difficulty) == (5, "D1")
    assert resumed_options(Options(seed=2), "record", ("seed",), {}) == Options(seed=2)  # not resuming
    with pytest.raises(UsageError, match="drop --out"):
        resumed_options(Options(resume=str(tmp_path), out="x"), "record", ("seed",), {"out": "--out"})
    with pytest.raises(UsageError, match="no run.json; --resume takes a folder written by `mimicrec generate`"):
        read_run_file(tmp_path / "elsewhere", "generate")


def test_a_failed_new_run_leaves_nothing_and_a_resumed_folder_stays(tmp_path):
    with pytest.raises(RuntimeError), run_folder("record", str(tmp_path / "new"), None) as folder:
        (folder / RUN_FILE).write_text("{}")
        raise RuntimeError("the run failed before committing anything")
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / RUN_FILE).write_text("{}")
    with pytest.raises(RuntimeError), run_folder("record", None, str(tmp_path / "old")):
        raise RuntimeError("a resumed run failed")
    assert (tmp_path / "old" / RUN_FILE).is_file()


def test_run_json_kept_failures_and_commits(tmp_path, lift):
    _, success, failure = lift
    run = open_run(tmp_path, lift, keep_failed=True, commit_every_s=3600.0)
    run.save_state(attempts=2)
    assert json.loads((tmp_path / RUN_FILE).read_text()) == {"seed": 7, "attempts": 2}
    run.write(success, kept=True)
    run.write(failure, kept=False)
    run.commit_if_due()  # not due for an hour: nothing committed yet
    assert run.kept.hdf5.committed_attrs("seed") == set()
    run.commit()
    assert run.kept.hdf5.committed_attrs("seed") == {1} and run.failed.hdf5.committed_attrs("seed") == {2}
    run.close()
    with h5py.File(tmp_path / "demos.hdf5") as kept, h5py.File(tmp_path / "failed" / "demos.hdf5") as failed:
        assert list(kept["data"]) == list(failed["data"]) == ["demo_0"]
    assert (tmp_path / RUN_FILE).is_file()


def test_a_run_that_kept_nothing_leaves_no_run_json_and_no_failed_folder(tmp_path, lift):
    run = open_run(tmp_path, lift, keep_failed=True)
    run.close()
    assert not (tmp_path / RUN_FILE).exists() and not (tmp_path / "failed").exists()


def test_a_run_closed_before_any_commit_writes_what_a_committed_run_compacts_to(tmp_path, lift):
    """Demos that no commit sealed go to demos.hdf5 straight from memory at close: the same objects, values and
    attributes (the run's last progress included) as a run that committed part way and compacted its parts."""
    _, success, failure = lift
    for name, commit_after_first in (("direct", False), ("compacted", True)):
        (tmp_path / name).mkdir()
        run = open_run(tmp_path / name, lift, commit_every_s=3600.0)
        run.write(success, kept=True)
        if commit_after_first:
            run.commit({"attempts": 1})
        run.write(failure, kept=True)
        run.write(success, kept=True)
        run.close({"attempts": 3})
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["demos.hdf5", "lerobot", RUN_FILE]
    assert_same_hdf5(tmp_path / "direct" / "demos.hdf5", tmp_path / "compacted" / "demos.hdf5")
    with h5py.File(tmp_path / "direct" / "demos.hdf5") as file:
        assert json.loads(file["data"].attrs["progress"]) == {"attempts": 3}
        assert file["data"].attrs["total"] == 2 * len(success) + len(failure)
        assert list(file["data"]) == ["demo_0", "demo_1", "demo_2"] and len(file["mask/train"]) == 3
