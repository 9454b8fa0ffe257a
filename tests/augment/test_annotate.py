"""Annotation: boundary finding, offset checks, exact replay, and demos that are left out with a reason."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from augment.annotate import annotate, check_offsets, subtask_ends
from augment.runner import GenerateOptions, generate
from envs.errors import ConfigError, DatasetError
from tests.conftest import wait_for_line, xdotool

ROOT = Path(__file__).resolve().parents[2]


def test_subtask_ends_first_rising_edge_after_previous():
    signals = {"a": np.array([0, 1, 1, 0, 1, 1, 0, 0]), "b": np.array([1, 0, 0, 0, 0, 1, 1, 1])}
    # "b" is on at t=0 but its first 0->1 edge after a's end (1) is at 5
    assert subtask_ends(signals, ["a", "b"], 8) == [1, 5, 8]


def test_subtask_ends_missing_edge():
    with pytest.raises(ValueError, match="never turns on"):
        subtask_ends({"a": np.zeros(5)}, ["a"], 5)


def test_check_offsets_rejects_possibly_empty_subtask():
    check_offsets([10, 40, 60], [(0, 5), (0, 5), (0, 0)])
    with pytest.raises(ValueError, match="subtask 1 may be empty"):
        check_offsets([10, 12, 60], [(0, 5), (0, 5), (0, 0)])


def test_annotated_file_has_boundaries_and_exact_replay(recorded, annotated):
    with h5py.File(recorded.hdf5_path, "r") as src, h5py.File(annotated, "r") as ann:
        for name in ("demo_0", "demo_1", "demo_2"):
            ends = ann[f"data/{name}/datagen_info/subtask_term_inds/robot0"][()]
            length = ann[f"data/{name}"].attrs["num_samples"]
            assert len(ends) == 4 and ends[-1] == length and np.all(np.diff(ends) > 0)
            # replay from the stored initial state reproduced every recorded state bit for bit
            np.testing.assert_array_equal(ann[f"data/{name}/states"][()], src[f"data/{name}/states"][()])
            signals = ann[f"data/{name}/datagen_info/subtask_term_signals/grasp_red"][()]
            assert signals[ends[0]] == 1 and signals[ends[0] - 1] == 0


def test_demo_that_fails_replay_is_reported_not_silently_dropped(recorded, tmp_path):
    broken = tmp_path / "broken.hdf5"
    with h5py.File(recorded.hdf5_path, "r") as src, h5py.File(broken, "w") as dst:
        src.copy(src["data"], dst, name="data")
        actions = dst["data/demo_1/actions"]
        actions[:, :] = 0.0  # the robot never moves: replay cannot succeed
    result = annotate(str(broken), str(tmp_path / "out.hdf5"))
    assert result.kept == ["demo_0", "demo_1"]
    assert "does not end in success" in result.rejected["demo_1"]
    with h5py.File(tmp_path / "out.hdf5", "r") as out:
        assert out["data/demo_1"].attrs["source_demo"] == "demo_2"


def test_all_demos_failing_is_an_error_and_leaves_no_file(recorded, tmp_path):
    broken = tmp_path / "broken.hdf5"
    with h5py.File(recorded.hdf5_path, "r") as src, h5py.File(broken, "w") as dst:
        src.copy(src["data"], dst, name="data")
        for name in ("demo_0", "demo_1", "demo_2"):
            dst[f"data/{name}/actions"][:, :] = 0.0
    with pytest.raises(DatasetError, match="no demo could be annotated"):
        annotate(str(broken), str(tmp_path / "out.hdf5"))
    assert not (tmp_path / "out.hdf5").exists() and not (tmp_path / "out.hdf5.partial").exists()


@pytest.mark.parametrize(("spec_of", "edit", "message"), [
    ("StackThree", (1, "object_ref", "cube_yellow"), r"StackThree/mimic.yaml: eefs.robot0.subtasks\[1\].object_ref "
                                                     r"'cube_yellow' is not an object of mimicrec/StackThree-v0; use "
                                                     r"one of cube_blue, cube_green, cube_red"),
    ("StackThree", (0, "term_signal", "grasp_blue"), r"subtasks\[0\].term_signal 'grasp_blue' is not a subtask "
                                                     r"signal of mimicrec/StackThree-v0; use one of grasp_green, "),
    ("BimanualLift", None, r"the spec's eefs \['robot0', 'robot1'\] are not those of mimicrec/StackThree-v0"),
])
def test_a_spec_that_does_not_fit_the_task_is_refused_before_any_file(recorded, annotated, tmp_path, spec_of, edit,
                                                                      message):
    """A spec naming a cube the task has not, a signal it never raises, or another task's arms: refused naming the
    file and the key, by annotate and generate alike (both check through one function)."""
    import yaml

    spec = tmp_path / spec_of / "mimic.yaml"
    spec.parent.mkdir()
    text = yaml.safe_load((ROOT / "configs" / spec_of / "mimic.yaml").read_text())
    if edit is not None:
        k, key, value = edit
        text["eefs"]["robot0"]["subtasks"][k][key] = value
    spec.write_text(yaml.safe_dump(text))
    with pytest.raises(ConfigError, match=message):
        annotate(str(recorded.hdf5_path), str(tmp_path / "out.hdf5"), config=str(spec))
    with pytest.raises(ConfigError, match=message):
        generate(GenerateOptions(str(annotated), 1, num_envs=1, config=str(spec), out=str(tmp_path / "gen")))
    assert not (tmp_path / "out.hdf5").exists() and not (tmp_path / "gen").exists()


# ------------------------------------------------------------------ manual annotation
def test_mark_session_steps_plays_marks_and_refuses_bad_marks():
    from augment.annotate_manual import MarkSession

    s = MarkSession(length=30, needed={"robot0": 2, "robot1": 1})
    assert s.press("m") is None and s.marks["robot0"] == [] and "after step 0" in s.message
    for key in ("up", "right", "right"):
        s.press(key)
    assert s.step == 12
    s.press("m")
    s.press("left")
    s.press("m")  # not after the previous mark
    assert s.marks["robot0"] == [12] and "after step 12" in s.message
    assert s.press("enter") is None and "robot0 1 more, robot1 1 more" in s.message
    s.press("space")
    for _ in range(40):  # plays to the last step and stops there
        s.tick()
    assert (s.step, s.playing) == (29, False)
    s.press("m")
    s.press("m")
    assert s.marks["robot0"] == [12, 29] and "already has its 2 marks" in s.message
    s.press("u")
    s.press("m")
    s.press("tab")  # now the second arm
    s.press("down")
    s.press("m")
    assert s.marks == {"robot0": [12, 29], "robot1": [19]}
    s.press("down")
    s.press("down")
    s.press("down")
    assert s.step == 0  # clamped
    assert s.press("enter") == "accept" and s.press("s") == "skip" and s.press("backspace") == "quit"


def test_mark_in_viewer_shows_each_new_step_and_ends_on_skip_or_quit():
    from augment.annotate_manual import MarkSession, QuitAnnotation, SkipDemo, mark_in_viewer

    def run(keys: list[str]):
        shown, lines = [], []
        feed = iter([[k] for k in keys])
        marks = mark_in_viewer(MarkSession(20, {"robot0": 1}), shown.append, lambda: next(feed, []), lines.append, 0)
        return marks, shown, lines

    marks, shown, lines = run(["right", "right", "m", "enter"])
    assert marks == {"robot0": [2]} and shown == [0, 1, 2] and lines[-1].startswith("step 2/19 paused")
    with pytest.raises(SkipDemo, match="skipped by the annotator"):
        run(["s"])
    with pytest.raises(QuitAnnotation):
        run(["up", "backspace"])


def test_manual_annotation_needs_a_display(recorded, tmp_path, monkeypatch):
    from envs.errors import TaskError

    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(TaskError, match="needs a display"):
        annotate(str(recorded.hdf5_path), str(tmp_path / "out.hdf5"), mode="manual")
    assert not list(tmp_path.iterdir())


@pytest.mark.timeout(240, method="signal")  # a stuck viewer fails the test instead of hanging the suite
def test_manual_annotation_in_the_viewer_stores_what_was_typed(xserver, tmp_path):
    """Under a real X server: demo_0 marked by keys (Enter refused before a mark, a mark undone and
    placed again), demo_1 skipped with S, demo_2 never reached (Backspace quits): all reported."""
    from recorder.record import RecordOptions, record

    rec = record(RecordOptions("mimicrec/Lift-v0", num_demos=3, seed=0, out=str(tmp_path / "rec")))
    out, log = tmp_path / "manual.hdf5", tmp_path / "annotate.log"
    with open(log, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "annotate", str(rec.hdf5_path), "--manual",
                                 "--out", str(out)], env={**os.environ, "DISPLAY": xserver},
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        wait_for_line(log, "step 0/", proc)  # demo_0 replayed, shown, keys being read
        xdotool(xserver, "key", "Return")
        wait_for_line(log, "still to mark: robot0 1 more", proc)
        xdotool(xserver, "key", "--delay", "50", "Up", "Up", "Up", "m", "u", "Left", "Left", "Left", "m", "Return")
        wait_for_line(log, "demo_0: accepted", proc)
        wait_for_line(log, "step 0/", proc, count=2)  # demo_1 on screen
        xdotool(xserver, "key", "s")
        wait_for_line(log, "step 0/", proc, count=3)  # demo_2 on screen
        for _ in range(5):  # writing the file is slow on a loaded machine, where an X key event was once lost
            xdotool(xserver, "key", "BackSpace")  # (2026-12-07): pressed again, as a person would
            try:
                proc.wait(timeout=36)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "left out demo_1: skipped by the annotator" in text
    assert "left out demo_2: not annotated: the annotator quit" in text
    with h5py.File(out) as f:
        assert list(f["data"]) == ["demo_0"] and f["data"].attrs["total"] == f["data/demo_0"].attrs["num_samples"]
        np.testing.assert_array_equal(f["data/demo_0/datagen_info/subtask_term_inds/robot0"][()],
                                      [27, f["data/demo_0"].attrs["num_samples"]])
