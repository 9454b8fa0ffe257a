"""docs/your-own-task.md end to end: its task files, copied into a temporary folder, record, annotate,
generate, replay, train and evaluate through the real CLI run from that folder; the datasets carry the
whole task, so they replay after the task's files are gone; `mimicrec tasks` lists the folder."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "your-own-task"
pytestmark = pytest.mark.slow


def mimicrec(*args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", *args, "--quiet"], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """The tutorial's files in a temporary folder, and the pipeline run on them from there."""
    work = tmp_path_factory.mktemp("tutorial")
    shutil.copytree(TUTORIAL, work / "plate")
    out = {"record": mimicrec("record", "--task", "plate/gym.yaml", "--num-demos", "3", "--seed", "1000",
                              "--out", "seeds", cwd=work)}
    out["annotate"] = mimicrec("annotate", "seeds/demos.hdf5", cwd=work)
    out["generate"] = mimicrec("generate", "seeds/demos_annotated.hdf5", "--num-trials", "4", "--num-envs", "1",
                               "--out", "gen", cwd=work)
    out["replay"] = mimicrec("replay", "gen/generated.hdf5", cwd=work)
    out["train"] = mimicrec("train", "gen/generated.hdf5", "--algo", "bc", "--epochs", "1", "--steps-per-epoch", "5",
                            "--rollouts", "0", "--out", "policy", cwd=work)
    out["eval"] = mimicrec("eval", "policy/model.pth", "--num-rollouts", "1", cwd=work)
    return work, out


def test_the_tutorial_task_runs_end_to_end_from_its_own_folder(tutorial):
    _, out = tutorial
    assert "the run holds 3 demos" in out["record"]
    assert "annotated 3 demos" in out["annotate"]
    assert "successes 4" in out["generate"]
    assert "4 of 4 demos replay exactly" in out["replay"]
    assert "trained bc for 1 epochs" in out["train"] and "policy success rate" in out["eval"]
    failed = "(0/1," in out["eval"]  # a 1-epoch policy; a failure says where it stopped
    assert failed == ("failures by the first subtask signal never raised: grasp_cylinder" in out["eval"]), out["eval"]


def test_datasets_rebuild_the_task_without_its_files(tutorial, tmp_path):
    work, _ = tutorial
    shutil.copy(work / "gen" / "generated.hdf5", tmp_path / "moved.hdf5")
    shutil.move(work / "plate", tmp_path / "gone")  # the task's files are no longer where they were
    try:
        assert "4 of 4 demos replay exactly" in mimicrec("replay", "moved.hdf5", cwd=tmp_path)
        assert "tutorial/CylinderOnPlate-v0" in mimicrec("info", "moved.hdf5", cwd=tmp_path)
    finally:
        shutil.move(tmp_path / "gone", work / "plate")


def test_tasks_lists_the_builtin_ones_and_a_folders_task_files(tutorial, tmp_path):
    work, _ = tutorial
    listing = mimicrec("tasks", str(work), cwd=tmp_path)
    assert "mimicrec/StackThree-v0  (configs/StackThree)" in listing
    assert "tutorial/CylinderOnPlate-v0" in listing and "objects: plate, cylinder" in listing
    broken = tmp_path / "broken"
    shutil.copytree(TUTORIAL, broken)
    text = (broken / "gym.yaml").read_text().replace("grasped(cylinder)", "grabbed(cylinder)")
    (broken / "gym.yaml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", "tasks", str(broken)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "unknown predicate 'grabbed'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    short = tmp_path / "short"  # a gym.yaml short of a top-level key is reported, not passed over
    short.mkdir()
    (short / "gym.yaml").write_text("task: tutorial/Short-v0\nscene: {objects: {}}\n")
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", "tasks", str(short)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == f"mimicrec tasks: error: {short / 'gym.yaml'}: missing " \
                                                           "required key 'logic'", proc.stderr


def test_a_bad_task_file_is_one_line_and_leaves_nothing(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(TUTORIAL, broken)
    (broken / "gym.yaml").write_text((broken / "gym.yaml").read_text().replace("cylinder_on_plate and", "cylindr and"))
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", "record", "--task", "broken/gym.yaml", "--out", "x"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "broken/gym.yaml: logic.success: 'cylindr' is no flag declared before this one" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_task_finds_moved_task_files_for_the_dataset_commands(tutorial, tmp_path):
    work, _ = tutorial
    shutil.move(work / "plate", tmp_path / "moved")  # mimic.yaml is no longer beside the recorded task file
    seeds = str(work / "seeds" / "demos.hdf5")
    try:
        proc = subprocess.run([sys.executable, "-m", "recorder.cli", "annotate", seeds, "--out", "lost.hdf5"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 2 and "pass it with --config" in proc.stderr
        out = mimicrec("annotate", seeds, "--out", "found.hdf5", "--task", "moved", cwd=tmp_path)
        assert "annotated 3 demos" in out
        proc = subprocess.run([sys.executable, "-m", "recorder.cli", "replay", seeds, "--task", "mimicrec/Lift-v0"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 2 and "holds 'tutorial/CylinderOnPlate-v0'" in proc.stderr
    finally:
        shutil.move(tmp_path / "moved", work / "plate")
