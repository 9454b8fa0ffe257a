"""The CLI's error paths (one line, exit 2, nothing left behind) and its help text."""

import os
import shutil
import signal
import subprocess
import sys

import pytest

from recorder.cli import build_parser

COMMANDS = ("record", "annotate", "generate", "train", "eval", "replay", "info", "convert", "tasks")


def run_cli(*args, cwd, env_root):
    env = {"MIMICREC_DATASET_ROOT": str(env_root), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "recorder.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def root(tmp_path):
    out = tmp_path / "datasets"
    out.mkdir()
    return out


def test_missing_input(tmp_path, root):
    proc = run_cli("generate", str(tmp_path / "nope.hdf5"), "--num-trials", "3", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "no such file")
    assert not any(root.iterdir())


def test_not_hdf5(tmp_path, root):
    bad = tmp_path / "bad.hdf5"
    bad.write_text("not an hdf5 file")
    for cmd in (["annotate", str(bad), "--auto"], ["generate", str(bad), "--num-trials", "2"], ["train", str(bad)]):
        assert_one_line_error(run_cli(*cmd, cwd=tmp_path, env_root=root), "not an HDF5 file")
    assert not any(root.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.hdf5", "datasets"]


def test_generate_without_annotations(recorded, tmp_path, root):
    proc = run_cli("generate", str(recorded.hdf5_path), "--num-trials", "2", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "no subtask annotations", "mimicrec annotate")
    assert not any(root.iterdir())


def test_unknown_task(tmp_path, root):
    proc = run_cli("record", "--task", "mimicrec/StackThre-v0", "--num-demos", "1", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "unknown task", "StackThree-v0")
    assert not any(root.iterdir())


@pytest.mark.parametrize("args", [
    ["record", "--num-demos", "-1"],
    ["record", "--num-demos", "0"],
    ["generate", "x.hdf5", "--num-trials", "-3"],
    ["generate", "x.hdf5", "--num-trials", "3", "--num-envs", "0"],
    ["train", "x.hdf5", "--epochs", "-1"],
    ["eval", "x.pth", "--num-rollouts", "-2"],
    ["eval", "x.pth", "--horizon", "0"],
])
def test_negative_counts(tmp_path, root, args):
    assert_one_line_error(run_cli(*args, cwd=tmp_path, env_root=root), "positive integer")
    assert not any(root.iterdir())


@pytest.mark.parametrize("args", [
    ["record", "--seed", "-1"],
    ["generate", "x.hdf5", "--num-trials", "3", "--seed", "4294967296"],
    ["train", "x.hdf5", "--seed", "-7"],
    ["eval", "x.pth", "--seed", "one"],
])
def test_seeds_outside_numpys_range_are_one_line(tmp_path, root, args):
    seed = args[-1]
    assert_one_line_error(run_cli(*args, cwd=tmp_path, env_root=root),
                          f"argument --seed: '{seed}' is not a seed; pass an integer from 0 to 4294967295")
    assert not any(root.iterdir())


def test_a_sensitivity_that_is_not_positive_is_one_line(tmp_path, root):
    proc = run_cli("record", "--device", "keyboard", "--sensitivity", "-1", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "--sensitivity must be > 0")
    assert not any(root.iterdir())


def test_argparse_errors_are_one_line(tmp_path, root):
    assert_one_line_error(run_cli("generate", "--num-trials", cwd=tmp_path, env_root=root), "expected one argument")
    assert_one_line_error(run_cli("generate", cwd=tmp_path, env_root=root), "pass the annotated INPUT file")
    assert_one_line_error(run_cli("frobnicate", cwd=tmp_path, env_root=root), "invalid choice")


def test_replay_demo_takes_a_number_or_a_name():
    parser = build_parser()
    assert parser.parse_args(["replay", "x.hdf5", "--demo", "7"]).demo == 7
    assert parser.parse_args(["replay", "x.hdf5", "--demo", "demo_7"]).demo == 7


def test_replay_demo_that_is_no_demo_is_one_line(tmp_path, root):
    proc = run_cli("replay", "x.hdf5", "--demo", "demo_x", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "argument --demo: 'demo_x' is not a demo", "demo_K")


def test_replay_of_a_demo_the_dataset_has_not_names_what_it_has(recorded):
    from envs.errors import DatasetError
    from recorder.dataset.replay import replay

    with pytest.raises(DatasetError, match="no demo_7; it has demo_0 .. demo_2"):
        replay(str(recorded.hdf5_path), demo=7)
    with pytest.raises(DatasetError, match="no episode 7; it has episodes 0 .. 2"):
        replay(str(recorded.lerobot_path), demo=7)


def test_output_whose_reader_left_ends_quietly(tmp_path, root):
    """``mimicrec tasks | head -1``: once the reader is gone, the command stops with no error of its own."""
    env = {"MIMICREC_DATASET_ROOT": str(root), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
           "PYTHONUNBUFFERED": "1"}  # each print writes at once (buffered, a short output is written at the exit)
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "tasks"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # the reader leaves before the command writes: its first write meets a broken pipe
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""


def test_replay_prints_each_demo_as_it_goes_and_ctrl_c_sums_up_those_done(recorded, tmp_path):
    args = [sys.executable, "-m", "recorder.cli", "replay", str(recorded.hdf5_path), "--video", str(tmp_path / "r.mp4"),
            "--size", "512"]  # a 512 px video: seconds per demo, time to interrupt after the first
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()  # printed when demo_0 is done, not at the end
        os.killpg(proc.pid, signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    lines = [first, *rest.splitlines()]
    assert first.startswith("demo_0: ") and "states identical" in first, (first, err)
    assert proc.returncode == 130 and len(lines) < 3, (lines, err)
    assert err.strip().splitlines()[-1] == (f"mimicrec replay: interrupted; {len(lines)} of the {len(lines)} demos "
                                            "replayed replay exactly"), err
    assert not (tmp_path / "r.mp4").exists()


def test_a_folder_where_a_file_is_read_names_the_file_to_pass(recorded, tmp_path, root):
    run = recorded.out_dir  # a record run: demos.hdf5, lerobot/, run.json
    for folder in (run, run / "lerobot"):
        proc = run_cli("train", str(folder), cwd=tmp_path, env_root=root)
        assert_one_line_error(proc, f"{folder}: a ", "where this command reads an HDF5 file; "
                                                     f"pass {run / 'demos.hdf5'}")
    assert not any(root.iterdir())


def test_an_output_file_in_a_missing_folder_gets_its_folder_as_convert_and_annotate_do(recorded, tmp_path, root):
    for flag, name in (("--video", "v.mp4"), ("--sheet", "s.png")):
        out = tmp_path / "new" / flag.strip("-") / name
        proc = run_cli("replay", str(recorded.hdf5_path), "--demo", "0", flag, str(out), cwd=tmp_path, env_root=root)
        assert proc.returncode == 0 and out.stat().st_size > 0, proc.stderr
    blocked = tmp_path / "file"
    blocked.write_text("")  # a folder that cannot be made: refused at once, before any replay
    proc = run_cli("replay", str(recorded.hdf5_path), "--video", str(blocked / "v.mp4"), cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, f"cannot create the folder {blocked}: part of its path is a file")
    assert "demo_0" not in proc.stdout


def test_a_ctrl_c_dropped_in_a_weakref_callback_is_raised_again(monkeypatch):
    """Python drops a KeyboardInterrupt raised in a finalizer or weakref callback (the command would run to its
    end); the console script's unraisable hook sends it again, to the code that runs next."""
    import time
    import weakref

    from recorder.cli import _interrupts_kept

    class Thing:
        pass

    def on_death(_ref):
        raise KeyboardInterrupt

    monkeypatch.setattr(sys, "unraisablehook", _interrupts_kept)
    thing = Thing()
    ref = weakref.ref(thing, on_death)
    with pytest.raises(KeyboardInterrupt):
        del thing  # the callback runs here, its KeyboardInterrupt dropped
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pass
    assert ref() is None


def test_eval_missing_checkpoint(tmp_path, root):
    assert_one_line_error(run_cli("eval", str(tmp_path / "m.pth"), cwd=tmp_path, env_root=root), "not found")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_option(command, capsys):
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        for flag in action.option_strings:
            assert flag in text


@pytest.mark.parametrize("command", [["record", "--num-demos", "1"], ["generate", "x.hdf5", "--num-trials", "1"]])
def test_an_image_size_without_cameras_is_a_clear_error(command, tmp_path, root):
    proc = run_cli(*command, "--image-size", "64", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "--image-size 64 sizes the images of --cameras", "--cameras agentview")
    assert not any(root.iterdir())


@pytest.mark.parametrize(("flags", "fragment"), [
    (["--cameras", "agentview", "topview"], "--cameras: unknown camera topview; use agentview and/or robot0_eye"),
    (["--cameras", "agentview", "--image-size", "16"], "--image-size must be 32 to 1024 px, got 16"),
])
def test_a_camera_flag_out_of_range_names_the_flag(tmp_path, root, flags, fragment):
    proc = run_cli("record", "--num-demos", "1", *flags, cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, fragment)
    assert not any(root.iterdir())


def test_image_size_help_names_the_default():
    from recorder.dataset.tasks import DEFAULT_IMAGE_SIZE, camera_kwargs

    assert camera_kwargs(["agentview"], None) == [{"name": "agentview", "width": 84, "height": 84}]
    assert camera_kwargs(None, None) is None
    record = build_parser()._subparsers._group_actions[0].choices["record"]
    (size,) = [action for action in record._actions if "--image-size" in action.option_strings]
    assert size.default is None and f"(default: {DEFAULT_IMAGE_SIZE})" in size.help


def test_record_gui_without_display_is_a_clear_error(tmp_path, root):
    proc = run_cli("record", "--gui", "--num-demos", "1", cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, "the viewer (--gui, --preview, --manual, --device keyboard) needs a display")
    assert not any(root.iterdir())


def test_a_viewer_session_prints_only_its_summary(tmp_path, root, xserver):
    """pybullet's GUI prints connection lines at once and two ``ven = ...`` lines from its render thread
    later (with the user's environment: a bare one prints no ``ven`` lines); none reaches the terminal."""
    env = {**os.environ, "MIMICREC_DATASET_ROOT": str(root), "DISPLAY": xserver}
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", "record", "--task", "mimicrec/Lift-v0", "--gui",
                           "--num-demos", "1", "--no-save", "--quiet"], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("1 successful episode of 1 attempt"), lines


def test_generate_choices_are_the_ones_augment_knows():
    """The CLI spells generate's choices out (it keeps augment's imports out of its start-up): they must stay
    those augment accepts."""
    from augment.executors import EXECUTORS
    from augment.transit import TRANSIT_MODES
    from recorder.cli import build_parser

    generate = build_parser()._subparsers._group_actions[0].choices["generate"]
    choices = {action.dest: tuple(action.choices) for action in generate._actions if action.choices}
    assert choices["executor"] == EXECUTORS and choices["transit"] == TRANSIT_MODES
    from recorder.dataset.writers.lerobot_writer import DEFAULT_VIDEO_CODEC, VIDEO_CODECS, LeRobotSchema

    assert choices["video_codec"] == tuple(VIDEO_CODECS)
    assert generate.get_default("video_codec") == DEFAULT_VIDEO_CODEC == LeRobotSchema.video_codec


def test_no_save_runs_the_episodes_and_writes_nothing(tmp_path, root):
    """`record --no-save` (what checks an action bank: 20 seeds at a level) says how many succeeded, saves none."""
    proc = run_cli("record", "--task", "mimicrec/Lift-v0", "--num-demos", "2", "--seed", "1000", "--no-save",
                   "--quiet", cwd=tmp_path, env_root=root)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("2 successful episodes of 2 attempts") and "nothing saved" in proc.stdout
    assert not any(root.iterdir()) and sorted(p.name for p in tmp_path.iterdir()) == ["datasets"]


@pytest.mark.parametrize("flags", [("--out", "x"), ("--keep-failed",), ("--resume", "x")])
def test_no_save_with_a_flag_that_writes_is_refused(tmp_path, root, flags):
    proc = run_cli("record", "--task", "mimicrec/Lift-v0", "--no-save", *flags, cwd=tmp_path, env_root=root)
    assert_one_line_error(proc, f"--preview / --no-save write nothing; drop {flags[0]}")
    assert not any(root.iterdir()) and not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["record", "generate", "annotate", "convert"])
def test_an_output_path_through_a_file_is_a_one_line_error(tmp_path, root, annotated, command):
    (tmp_path / "taken").write_text("a file")
    args = {"record": ["--num-demos", "1", "--out", "taken"],
            "generate": [str(annotated), "--num-trials", "1", "--out", "taken/run"],
            "annotate": [str(annotated), "--auto", "--out", "taken/a.hdf5"],
            "convert": [str(annotated), "--to", "lerobot", "taken/lerobot"]}[command]
    proc = run_cli(command, *args, cwd=tmp_path, env_root=root)
    expected = ("--out taken is a file, not a folder; pass a folder's path" if command == "record" else
                "cannot create the folder taken")
    assert_one_line_error(proc, expected)
    assert (tmp_path / "taken").read_text() == "a file" and not any(root.iterdir())


def test_a_node_out_of_reach_fails_its_episode_and_the_budget_names_it(tmp_path, root):
    from envs.task_config import CONFIG_ROOT

    shutil.copytree(CONFIG_ROOT / "Lift", tmp_path / "Far")
    bank = tmp_path / "Far" / "action_bank.yaml"
    bank.write_text(bank.read_text().replace("{offset: [0, 0, 0.10]}]}", "{offset: [0, 0, 1.5]}]}", 1))
    gym = tmp_path / "Far" / "gym.yaml"
    gym.write_text(gym.read_text().replace("mimicrec/Lift-v0", "mine/FarLift-v0"))
    proc = run_cli("record", "--task", str(tmp_path / "Far"), "--num-demos", "1", "--max-attempts", "2", "--no-save",
                   "--quiet", cwd=tmp_path, env_root=root)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "only 0 of 1 demo succeeded in 2 attempts (the last gave up: " in proc.stderr
    assert "node 'above_red': pose [" in proc.stderr and "is unreachable for robot0" in proc.stderr


def test_max_attempts_bounds_a_scripted_run_and_must_be_positive(tmp_path, root):
    proc = run_cli("record", "--task", "mimicrec/Lift-v0", "--num-demos", "2", "--max-attempts", "1", "--no-save",
                   "--quiet", cwd=tmp_path, env_root=root)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert "only 1 of 2 demos succeeded in 1 attempt;" in proc.stderr
    assert "allow more with --max-attempts" in proc.stderr
    assert_one_line_error(run_cli("record", "--max-attempts", "0", cwd=tmp_path, env_root=root),
                          "--max-attempts must be a positive integer, got 0")
