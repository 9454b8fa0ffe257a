"""generate --difficulty and --set: D0 seeds generate into a wider or changed scene, stored in env_args."""

import json

import h5py
import pytest

from envs.task_config import KWARG_TASK_KEYS
from recorder.cli import main
from recorder.dataset.replay import replay
from recorder.dataset.tasks import make_env, read_env_args, variant_env_kwargs


def env_kwargs(path):
    with h5py.File(path, "r") as f:
        return json.loads(f["data"].attrs["env_args"])["env_kwargs"]


@pytest.mark.slow
def test_d0_seeds_generate_a_changed_d1_scene_that_replays_exactly(annotated, tmp_path):
    assert env_kwargs(annotated)["difficulty"] == "D0"
    out = tmp_path / "d1"
    assert main(["generate", str(annotated), "--num-trials", "2", "--num-envs", "1", "--difficulty", "D1",
                 "--set", "scene.objects.cube_green.rgba=[0.1, 0.6, 0.1, 1.0]",
                 "--set", "randomization.D1.yaw=[-0.5, 0.5]", "--out", str(out), "--quiet"]) == 0
    kwargs = env_kwargs(out / "generated.hdf5")
    assert kwargs["difficulty"] == "D1"
    assert kwargs["task"]["scene"]["objects"]["cube_green"]["rgba"] == [0.1, 0.6, 0.1, 1.0]
    assert kwargs["task"]["randomization"]["D1"]["yaw"] == [-0.5, 0.5]
    assert all(r.states_identical and r.replay_success for r in replay(str(out / "generated.hdf5")))
    run = json.loads((out / "run.json").read_text())
    assert run["difficulty"] == "D1" and len(run["task_settings"]) == 2  # --resume keeps the changed scene


def test_a_setting_of_a_value_the_seeds_also_store_as_an_env_kwarg_wins_over_the_kwarg(annotated):
    """A dataset stores some task-file values as env kwargs too (success_hold_steps, solver_iterations, ...),
    and a kwarg wins over the task definition when the env is built: ``--set`` must change both."""
    with h5py.File(annotated, "r") as f:
        env_id, kwargs = read_env_args(f["data"].attrs["env_args"], str(annotated))
    assert (kwargs["success_hold_steps"], kwargs["solver_iterations"], kwargs["cameras"]) == (5, 20, [])
    settings = {"rollout.success_hold_steps": 2, "scene.solver_iterations": 12, "robot.action_scale.pos": 0.04,
                "sensors.cameras": [{"name": "agentview", "width": 32, "height": 32}]}
    changed = variant_env_kwargs(env_id, kwargs, settings=settings)
    env = make_env(env_id, **changed)
    try:
        assert (env.success_hold_steps, env.solver_iterations, env.action_mode.scale["pos"]) == (2, 12, 0.04)
        assert [(spec.name, spec.width) for spec in env.camera_specs] == [("agentview", 32)]
        assert env.action_mode.scale["rot"] == kwargs["action_scale"]["rot"]  # the mode's own, as before
        # every kwarg an env stores besides its level and definition mirrors a task-file key the table knows
        assert set(env.env_kwargs) - {"difficulty", "task"} == set(KWARG_TASK_KEYS)
    finally:
        env.close()
    untouched = variant_env_kwargs(env_id, kwargs, settings={"randomization.D1.yaw": [-1, 1]})
    assert {k: v for k, v in untouched.items() if k != "task"} == {k: v for k, v in kwargs.items() if k != "task"}


@pytest.mark.parametrize(("flags", "message"), [
    (["--difficulty", "D7"], "--difficulty D7: mimicrec/StackThree-v0 has levels D0, D1, D2"),
    (["--set", "scene.objects.cube_pink.scale=2"], "--set scene.objects.cube_pink.scale: the task has no 'cube_pink'"),
    (["--set", "scene.objects.cube_red.scale=big"], "scene.objects.cube_red.scale: expected a number, got 'big'"),
    (["--set", "rollout"], "--set needs KEY=VALUE"),
])
def test_a_bad_scene_change_is_one_line_and_leaves_nothing(annotated, tmp_path, capsys, flags, message):
    out = tmp_path / "gen"
    assert main(["generate", str(annotated), "--num-trials", "1", *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
