"""The Mimic per-step fields (``datagen_info``): recorded before each step from the env's Mimic interface,
and written to and read back from HDF5 unchanged."""

import h5py
import numpy as np
import pytest

from recorder.dataset.datagen_info import FIELDS, DatagenInfo
from recorder.dataset.episode import EpisodeBuilder


@pytest.fixture
def lift_episode(make_task_env):
    """Six random steps of Lift, with what the env said before each step."""
    env = make_task_env("mimicrec/Lift-v0")
    obs, _ = env.reset(seed=4)
    builder = EpisodeBuilder(env, 4, obs)
    rng = np.random.default_rng(0)
    before = []
    for _ in range(6):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        before.append((env.get_robot_eef_pose("robot0"), env.action_to_target_eef_pose(action, "robot0"),
                       env.get_object_poses(), env.get_subtask_term_signals()))
        builder.step(action)
    return builder.build(), before


def test_fields_hold_the_readings_before_each_step(lift_episode):
    episode, before = lift_episode
    info = episode.datagen_info
    assert len(info) == len(episode) == 6
    for t, (eef, target, objects, signals) in enumerate(before):
        np.testing.assert_array_equal(info.eef_pose["robot0"][t], eef)
        np.testing.assert_array_equal(info.target_eef_pose["robot0"][t], target)
        np.testing.assert_array_equal(info.object_poses["cube_red"][t], objects["cube_red"])
        assert {k: int(v[t]) for k, v in info.subtask_term_signals.items()} == signals
    np.testing.assert_array_equal(info.gripper_action["robot0"], episode.actions[:, -1:])
    assert info.eef_pose["robot0"].shape == (6, 4, 4)
    assert all(v.dtype == np.int8 for v in info.subtask_term_signals.values())


def test_signals_are_the_tasks_subtask_signals(lift_episode, make_task_env):
    episode, _ = lift_episode
    assert tuple(episode.datagen_info.subtask_term_signals) == make_task_env("mimicrec/Lift-v0").subtask_signal_names


def test_write_and_read_round_trip(lift_episode, tmp_path):
    info = lift_episode[0].datagen_info
    with h5py.File(tmp_path / "d.hdf5", "w") as file:
        info.write(file.create_group("datagen_info"))
    with h5py.File(tmp_path / "d.hdf5", "r") as file:
        assert sorted(file["datagen_info"]) == sorted(FIELDS)
        back = DatagenInfo.read(file["datagen_info"])
    for name in FIELDS:
        original, read = getattr(info, name), getattr(back, name)
        assert sorted(original) == sorted(read)
        for key in original:
            np.testing.assert_array_equal(original[key], read[key])
            assert original[key].dtype == read[key].dtype


def test_an_episode_without_mimic_fields_when_asked(make_task_env):
    env = make_task_env("mimicrec/Lift-v0")
    obs, _ = env.reset(seed=1)
    builder = EpisodeBuilder(env, 1, obs, with_datagen_info=False)
    builder.step(np.zeros(env.action_space.shape, dtype=np.float32))
    assert builder.build().datagen_info is None
