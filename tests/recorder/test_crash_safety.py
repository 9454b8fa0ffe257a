"""Interrupted runs: kill -9 keeps every committed episode readable in both formats; --resume finishes the run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from recorder.dataset.writers.lerobot_writer import JOURNAL, rollback
from recorder.policy.train import LOW_DIM_KEYS

ROOT = Path(__file__).resolve().parents[2]
TASK = "mimicrec/Lift-v0"


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recorder.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, **kwargs)


def wait_for_demos(index: Path, count: int, proc: subprocess.Popen, timeout_s: float = 180) -> None:
    """Poll the HDF5 index (replaced atomically: it must open whenever it exists) until it links ``count`` demos."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        if index.exists():
            with h5py.File(index, "r") as file:
                if len(file["data"]) >= count:
                    return
        time.sleep(0.02)
    pytest.fail(f"no {count} demos in {index} after {timeout_s} s")


def demo_arrays(path: Path, key: str) -> list[np.ndarray]:
    with h5py.File(path, "r") as file:
        return [file["data"][f"demo_{i}"][key][()] for i in range(len(file["data"]))]


def load_robomimic(path: Path):
    import robomimic.utils.obs_utils as obs_utils
    from robomimic.utils.dataset import SequenceDataset

    obs_utils.initialize_obs_modality_mapping_from_dict({"low_dim": list(LOW_DIM_KEYS)})
    return SequenceDataset(hdf5_path=str(path), obs_keys=LOW_DIM_KEYS, dataset_keys=("actions",), seq_length=1,
                           hdf5_cache_mode=None, hdf5_use_swmr=True)


def load_lerobot(root: Path):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset("mimicrec/test", root=root, video_backend="pyav")


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A scripted Lift recording killed with SIGKILL after it committed at least 3 demos."""
    out = tmp_path_factory.mktemp("crash") / "run"
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "record", "--task", TASK, "--num-demos", "40",
                             "--out", str(out), "--quiet"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_demos(out / "demos.hdf5", 3, proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return out


def test_after_kill_9_both_formats_hold_the_committed_demos(killed_run):
    index = killed_run / "demos.hdf5"
    actions = demo_arrays(index, "actions")
    assert len(actions) >= 3
    assert len(load_robomimic(index)) == sum(len(a) for a in actions)  # robomimic reads through the links
    info = cli("info", str(killed_run))
    assert info.returncode == 0, info.stderr
    assert "interrupted run" in info.stdout
    lerobot = killed_run / "lerobot"
    assert rollback(lerobot)  # what --resume does first: back to the last commit (a no-op unless killed mid-commit)
    dataset = load_lerobot(lerobot)
    assert dataset.num_episodes in (len(actions) - 1, len(actions))  # HDF5 commits first
    np.testing.assert_array_equal(dataset[0]["action"].numpy(), actions[0][0])


def test_record_ctrl_c_says_how_to_go_on_and_resume_goes_to_the_runs_own_total(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "record", "--task", TASK, "--num-demos", "12",
                             "--out", str(out), "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        wait_for_demos(out / "demos.hdf5", 3, proc)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    kept = len(demo_arrays(out / "demos.hdf5", "actions"))
    assert proc.returncode == 0 and 3 <= kept < 12, stderr
    assert f"the run holds {kept} demos" in stdout
    assert f"(stopped early: `mimicrec record --resume {out}` records the rest)" in stdout, stdout
    done = cli("record", "--resume", str(out), "--quiet")  # no --num-demos: the 12 it was started with
    assert done.returncode == 0 and "the run holds 12 demos" in done.stdout, done.stderr
    assert len(demo_arrays(out / "demos.hdf5", "actions")) == 12
    assert json.loads((out / "run.json").read_text())["num_demos"] == 12
    info = cli("info", str(out))
    assert re.search(r"run: +record: \d+ attempts; 12 demos asked for", info.stdout), info.stdout


def test_a_run_folder_given_to_the_wrong_command_or_as_a_new_out_names_the_resume(killed_run):
    wrong = cli("generate", "--resume", str(killed_run), "--quiet")
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        f"mimicrec generate: error: {killed_run} holds a `mimicrec record` run; continue it with "
        f"`mimicrec record --resume {killed_run}`"), wrong.stderr
    again = cli("record", "--task", TASK, "--num-demos", "2", "--out", str(killed_run), "--quiet")
    assert again.returncode == 2 and again.stderr.strip() == (
        f"mimicrec record: error: {killed_run} holds a `mimicrec record` run already; continue it with "
        f"`mimicrec record --resume {killed_run}`, or pass a new --out"), again.stderr


def test_resume_finishes_the_run_without_losing_or_repeating_a_demo(killed_run):
    before = demo_arrays(killed_run / "demos.hdf5", "actions")
    target = len(before) + 2
    done = cli("record", "--resume", str(killed_run), "--num-demos", str(target), "--quiet")
    assert done.returncode == 0, done.stderr
    hdf5 = killed_run / "demos.hdf5"
    after = demo_arrays(hdf5, "actions")
    assert len(after) == target
    for old, new in zip(before, after, strict=False):
        np.testing.assert_array_equal(old, new)
    with h5py.File(hdf5, "r") as file:
        seeds = [int(file["data"][f"demo_{i}"].attrs["seed"]) for i in range(target)]
        assert not any(isinstance(file["data"].get(n, getlink=True), h5py.ExternalLink) for n in file["data"])
    assert len(set(seeds)) == target
    assert not (killed_run / "demos.hdf5.parts").exists() and not (killed_run / "lerobot" / JOURNAL).exists()
    dataset = load_lerobot(killed_run / "lerobot")
    assert dataset.num_episodes == target
    np.testing.assert_array_equal(dataset[len(dataset) - 1]["action"].numpy(), after[-1][-1])
    replayed = cli("replay", str(hdf5))
    assert replayed.returncode == 0 and f"{target} of {target} demos replay exactly" in replayed.stdout


def test_resume_needs_a_record_run_folder(tmp_path):
    done = cli("record", "--resume", str(tmp_path), "--num-demos", "2")
    assert done.returncode == 2
    assert "no run.json" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_uncommitted_episodes_are_dropped_and_committed_ones_kept(tmp_path, recorded):
    from recorder.dataset.tasks import lerobot_schema, make_env
    from recorder.dataset.writers import dataset_writers
    from recorder.dataset.writers.robomimic_hdf5 import read_episodes

    episodes = list(read_episodes(recorded.hdf5_path))
    env = make_env("mimicrec/StackThree-v0")
    writers = dataset_writers(str(tmp_path / "d.hdf5"), str(tmp_path / "lr"), {"env_name": "x"},
                              lerobot_schema("mimicrec/StackThree-v0", env))
    env.close()
    writers.write(episodes[0])
    writers.commit()
    writers.write(episodes[1])
    writers.abort()  # e.g. an exception while the second episode was being written
    assert len(demo_arrays(tmp_path / "d.hdf5", "actions")) == 1
    assert load_lerobot(tmp_path / "lr").num_episodes == 1


@pytest.fixture(scope="module")
def lift_seeds(tmp_path_factory):
    """Three annotated scripted Lift demos."""
    from augment.annotate import annotate
    from recorder.record import RecordOptions, record

    base = tmp_path_factory.mktemp("lift")
    rec = record(RecordOptions(TASK, num_demos=3, seed=0, out=str(base / "rec")))
    annotate(str(rec.hdf5_path), str(base / "seeds.hdf5"))
    return base / "seeds.hdf5"


def generate_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "recorder.cli", "generate", *args, "--num-envs", "1", "--commit-every", "0.3",
            "--seed", "7", "--quiet"]


def test_generate_killed_and_resumed_equals_an_uninterrupted_run(lift_seeds, tmp_path):
    whole = subprocess.run(generate_cli(str(lift_seeds), "--num-trials", "100", "--out", str(tmp_path / "whole")),
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "killed"
    proc = subprocess.Popen(generate_cli(str(lift_seeds), "--num-trials", "100", "--out", str(out)), cwd=ROOT,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_demos(out / "generated.hdf5", 5, proc)
        workers = worker_pids(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed_at = len(demo_arrays(out / "generated.hdf5", "actions"))
    assert 5 <= killed_at < 100
    assert len(workers) == 1, workers  # --num-envs 1: one worker process, which ends with the killed run
    deadline = time.monotonic() + 30
    while Path(f"/proc/{workers[0]}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{workers[0]}").exists() or "Z" in Path(f"/proc/{workers[0]}/stat").read_text().split()[2]
    resumed = subprocess.run(generate_cli("--resume", str(out), "--num-trials", "100"), cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    expected, got = demo_arrays(tmp_path / "whole" / "generated.hdf5", "actions"), demo_arrays(out / "generated.hdf5",
                                                                                                "actions")
    assert len(got) == 100
    for a, b in zip(expected, got, strict=True):  # the same demos, in the same order: none lost, none repeated
        np.testing.assert_array_equal(a, b)
    report = json.loads((out / "report.json").read_text())
    assert report["num_successes"] == 100 and report["resumed_successes"] == killed_at
    info = cli("info", str(out)).stdout
    assert f"run:         generate: 100 successes of {report['num_attempts']} attempts" in info, info
    assert report["demos_per_minute"] == pytest.approx(60 * (100 - killed_at) / report["wall_time_s"])
    assert f"successes 100 ({100 - killed_at} made now)" in resumed.stdout
    assert report["num_attempts"] == json.loads((tmp_path / "whole" / "report.json").read_text())["num_attempts"]
    assert load_lerobot(out / "lerobot").num_episodes == 100
    reports = {name: (out / name).read_bytes() for name in ("report.json", "report.png")}
    again = subprocess.run(generate_cli("--resume", str(out)), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "successes 100, success rate" in again.stdout, again.stderr
    assert "nothing left to make for a total of 100" in again.stdout, again.stdout
    assert {name: (out / name).read_bytes() for name in reports} == reports  # the sessions that made the demos
    assert len(demo_arrays(out / "generated.hdf5", "actions")) == load_lerobot(out / "lerobot").num_episodes == 100
    smaller = subprocess.run(generate_cli("--resume", str(out), "--num-trials", "40"), cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
    assert smaller.returncode == 0 and "nothing left to make for a total of 40" in smaller.stdout, smaller.stderr
    assert json.loads((out / "run.json").read_text())["num_trials"] == 100  # a smaller total leaves the run's own


def test_ctrl_c_keeps_what_the_run_made_and_says_how_to_finish_it(lift_seeds, tmp_path):
    out = tmp_path / "run"
    args = [str(lift_seeds), "--num-trials", "5000", "--num-envs", "2", "--out", str(out), "--commit-every", "0.5",
            "--quiet"]  # more trials than the run gets through before Ctrl-C
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "generate", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    try:
        wait_for_demos(out / "generated.hdf5", 3, proc)
        meanwhile = cli("generate", "--resume", str(out), "--quiet")  # a second run into the folder: refused
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group: the workers too
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert meanwhile.returncode == 2 and meanwhile.stderr.strip() == (
        f"mimicrec generate: error: {out} is in use by another `mimicrec generate` run; let it end (or stop it with "
        f"Ctrl-C), then `mimicrec generate --resume {out}`"), meanwhile.stderr
    kept = len(demo_arrays(out / "generated.hdf5", "actions"))
    assert proc.returncode == 130, err
    assert err.strip() == (f"mimicrec generate: interrupted; the {kept} demos made are kept: "
                           f"`mimicrec generate --resume {out}` finishes the run"), err
    assert load_lerobot(out / "lerobot").num_episodes == kept >= 3
    done = cli("generate", "--resume", str(out), "--num-trials", str(kept + 2), "--quiet")  # what the line says
    assert done.returncode == 0 and len(demo_arrays(out / "generated.hdf5", "actions")) == kept + 2, done.stderr


def worker_pids(pid: int) -> list[int]:
    """The generation worker processes of ``pid`` (its children; not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    commands = {int(c): Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace") for c in children}
    return [c for c, command in commands.items() if "resource_tracker" not in command]


def test_a_worker_killed_mid_attempt_ends_the_run_cleanly_and_it_resumes(lift_seeds, tmp_path):
    out = tmp_path / "run"
    args = [str(lift_seeds), "--num-trials", "5000", "--num-envs", "2", "--seed", "5", "--out", str(out),
            "--commit-every", "0.5", "--quiet"]  # more trials than the run gets through before the kill
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "generate", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_demos(out / "generated.hdf5", 3, proc)
        workers = worker_pids(proc.pid)
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert len(err.strip().splitlines()) == 1 and "a generation worker process died" in err, err
    assert f"--resume {out}" in err, err
    kept = len(demo_arrays(out / "generated.hdf5", "actions"))
    assert 3 <= kept < 5000
    assert load_lerobot(out / "lerobot").num_episodes == kept  # the run committed and closed both formats
    done = cli("generate", "--resume", str(out), "--num-trials", str(kept + 5), "--quiet")
    assert done.returncode == 0, done.stderr
    assert len(demo_arrays(out / "generated.hdf5", "actions")) == kept + 5
    assert load_lerobot(out / "lerobot").num_episodes == kept + 5


# Runs `mimicrec record` with a SIGKILL at one point inside the LeRobot writer's third commit: with info.json
# half rewritten in place (lerobot's write_info), while lerobot finalizes (its data file closed, its episode
# metadata not), after it finalized but before the commit journal is written, and with the new journal written
# to its temporary file but not renamed into place.
KILL_INSIDE_COMMIT = """
import json, os, signal, sys
from pathlib import Path
from lerobot.datasets.lerobot_dataset import LeRobotDatasetMetadata
from recorder.cli import main
from recorder.dataset.writers import lerobot_writer as writer
point, state = sys.argv[1], {"commit": 0}
def die():
    if state["commit"] == 3:
        os.kill(os.getpid(), signal.SIGKILL)
def counted(commit):
    def run(self, *args, **kwargs):
        state["commit"] += bool(self.pending)
        return commit(self, *args, **kwargs)
    return run
def before(function, hook):
    def run(*args, **kwargs):
        hook(*args, **kwargs)
        return function(*args, **kwargs)
    return run
def half_written_journal(path, data):
    if Path(path).name == "mimicrec_commit.json" and state["commit"] == 3:
        Path(str(path) + ".partial").write_bytes(data[: len(data) // 2])
        die()
def half_written_info(write_info):
    def run(info, root):
        if state["commit"] == 3:
            (Path(root) / "meta" / "info.json").write_text(json.dumps(info)[:100])
            die()
        return write_info(info, root)
    return run
writer.LeRobotWriter.commit = counted(writer.LeRobotWriter.commit)
if point == "info":
    import lerobot.datasets.utils as utils
    utils.write_info = half_written_info(utils.write_info)
elif point == "finalizing":
    LeRobotDatasetMetadata._close_writer = before(LeRobotDatasetMetadata._close_writer, lambda *a: die())
elif point == "finalized":
    writer._write_journal = before(writer._write_journal, lambda *a: die())
else:
    writer.write_atomically = before(writer.write_atomically, half_written_journal)
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("point", ["info", "finalizing", "finalized", "journal"])
def test_kill_9_inside_a_lerobot_commit_rolls_back_to_the_last_commit_and_resumes(tmp_path, point):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", KILL_INSIDE_COMMIT, point, "record", "--task", TASK,
                           "--num-demos", "8", "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (out / "lerobot" / JOURNAL).exists()  # killed inside the commit: the journal of the last one is there
    info = cli("info", str(out / "lerobot"))  # read-only, before any rollback: the last commit's view
    assert info.returncode == 0 and "interrupted run" in info.stdout, info.stderr
    assert re.search(r"episodes:\s+2 ", info.stdout), info.stdout  # the two commits before the killed one
    assert rollback(out / "lerobot")  # what --resume does first
    assert load_lerobot(out / "lerobot").num_episodes == 2  # the two commits before the killed one
    assert cli("convert", str(out / "lerobot"), "--to", "hdf5", str(tmp_path / "back.hdf5")).returncode == 0
    assert len(demo_arrays(out / "demos.hdf5", "actions")) >= 2  # HDF5 commits first: it may hold the third
    done = cli("record", "--resume", str(out), "--num-demos", "8", "--quiet")
    assert done.returncode == 0, done.stderr
    assert len(demo_arrays(out / "demos.hdf5", "actions")) == 8 and load_lerobot(out / "lerobot").num_episodes == 8
    np.testing.assert_array_equal(demo_arrays(out / "demos.hdf5", "actions")[2],
                                  load_lerobot_actions(out / "lerobot", 2))


def load_lerobot_actions(root: Path, episode: int) -> np.ndarray:
    """The actions of one episode of a LeRobot dataset, read with lerobot."""
    dataset = load_lerobot(root)
    start, stop = (dataset.meta.episodes[episode][k] for k in ("dataset_from_index", "dataset_to_index"))
    return np.stack([dataset.hf_dataset[i]["action"].numpy() for i in range(start, stop)])
