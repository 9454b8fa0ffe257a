"""Both writers, read back by their real consumers: robomimic's SequenceDataset and lerobot's LeRobotDataset."""

import json

import gymnasium as gym
import h5py
import numpy as np
import pytest

from recorder.policy.train import LOW_DIM_KEYS


def test_robomimic_sequence_dataset_loads(recorded):
    import robomimic.utils.obs_utils as obs_utils
    from robomimic.utils.dataset import SequenceDataset

    obs_utils.initialize_obs_modality_mapping_from_dict({"low_dim": list(LOW_DIM_KEYS)})
    dataset = SequenceDataset(
        hdf5_path=str(recorded.hdf5_path), obs_keys=LOW_DIM_KEYS, dataset_keys=("actions", "rewards", "dones"),
        seq_length=10, hdf5_cache_mode="all", hdf5_use_swmr=True, load_next_obs=True,
    )
    with h5py.File(recorded.hdf5_path, "r") as f:
        total = f["data"].attrs["total"]
        assert total == sum(f["data"][d].attrs["num_samples"] for d in f["data"])
        first = f["data/demo_0/actions"][()]
    assert len(dataset) == total
    item = dataset[0]
    assert item["actions"].shape == (10, 7)
    np.testing.assert_array_equal(item["actions"], first[:10])
    assert set(item["obs"]) == set(LOW_DIM_KEYS)


def test_hdf5_metadata_rebuilds_env_and_scene(recorded):
    with h5py.File(recorded.hdf5_path, "r") as f:
        meta = json.loads(f["data"].attrs["env_args"])
        demo = f["data/demo_1"]
        seed, obs0 = int(demo.attrs["seed"]), demo["obs/object"][0]
        assert demo.attrs["success"]
        assert set(demo["datagen_info"]) >= {"eef_pose", "target_eef_pose", "object_poses", "subtask_term_signals"}
        assert demo["datagen_info/eef_pose/robot0"].shape == (demo.attrs["num_samples"], 4, 4)
        assert f["mask/train"].shape[0] + f["mask/valid"].shape[0] == 3
    assert "env_name" not in meta["env_kwargs"]
    env = gym.make(meta["env_name"], **meta["env_kwargs"])
    obs, _ = env.reset(seed=seed)
    np.testing.assert_array_equal(obs["object"], obs0)
    env.close()


def test_lerobot_dataset_loads_and_matches_hdf5(recorded):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    ds = LeRobotDataset("mimicrec/test", root=recorded.lerobot_path, video_backend="pyav")
    with h5py.File(recorded.hdf5_path, "r") as f:
        actions = np.concatenate([f[f"data/demo_{i}/actions"][()] for i in range(3)])
        state = np.concatenate([f[f"data/demo_0/obs/{k}"][0] for k in
                                ("robot0_joint_pos", "robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")])
    assert ds.meta.total_episodes == 3 and len(ds) == len(actions)
    assert ds.meta.info["codebase_version"] == "v3.0"
    assert ds.meta.robot_type == "franka_panda" and ds.fps == 20
    loaded = np.stack([ds[i]["action"].numpy() for i in range(len(ds))])
    np.testing.assert_array_equal(loaded, actions)
    frame = ds[0]
    np.testing.assert_array_equal(frame["observation.state"].numpy(), state)
    assert frame["task"].startswith("Stack the red cube")
    assert frame["observation.environment_state"].shape == (36,)  # 3 cubes: pose, from the eef, heading
    last = ds[len(ds) - 1]
    assert bool(last["next.done"]) and bool(last["next.success"])


def test_recording_metadata_from_the_task_config_in_both_formats(recorded):
    from envs.task_config import load_task_config

    config = load_task_config("StackThree").recording
    with h5py.File(recorded.hdf5_path, "r") as f:
        stored = json.loads(f["data"].attrs["recording"])
    lerobot = json.loads((recorded.lerobot_path / "meta" / "mimicrec.json").read_text())
    for meta in (stored, lerobot["recording"]):
        assert meta == {"instruction": config.instruction, "robot_type": "franka_panda", "extra": config.extra}
    assert lerobot["env_args"]["env_name"] == "mimicrec/StackThree-v0"


def _with_cameras_and_attrs(episode, index: int, cameras: tuple[str, ...]):
    """``episode`` cut to 12 steps, with per-episode attributes of every kind, per-step labels and (with
    ``cameras``) random 32x32 frames."""
    from dataclasses import replace

    rng, length = np.random.default_rng(index), 12
    obs = {key: value[:length] for key, value in episode.obs.items()}
    obs.update({f"{cam}_image": rng.integers(0, 255, (length, 32, 32, 3), dtype=np.uint8) for cam in cameras})
    return replace(episode, obs=obs, actions=episode.actions[:length], rewards=episode.rewards[:length],
                   dones=episode.dones[:length], successes=episode.successes[:length],
                   attrs={"source": f"demo_{index}", "attempt_index": index, "src_demo_inds": np.array([index, 1])},
                   extras={"subtask_index": np.arange(length) // 4}, subtask_ends={"robot0": np.array([4, 8, 12])})


@pytest.mark.parametrize("cameras", [(), ("agentview", "robot0_eye_in_hand")], ids=["state", "cameras"])
def test_the_lean_lerobot_save_writes_what_lerobot_writes(recorded, tmp_path, cameras):
    """mimicrec's savings in lerobot's save_episode (whole episodes handed over at once instead of frame by
    frame, random table names, info/stats written once per commit, task indices looked up once) leave every
    data, metadata and video file as lerobot itself writes them, per-episode columns and cameras included."""
    import pyarrow.parquet as pq

    from recorder.dataset.tasks import lerobot_schema, make_env
    from recorder.dataset.writers import lerobot_writer
    from recorder.dataset.writers.robomimic_hdf5 import read_episodes

    episodes = [_with_cameras_and_attrs(e, i, cameras) for i, e in enumerate(read_episodes(recorded.hdf5_path))]
    env = make_env("mimicrec/StackThree-v0", cameras=[{"name": cam, "width": 32, "height": 32} for cam in cameras])
    schema = lerobot_schema("mimicrec/StackThree-v0", env)
    env.close()
    for name in ("lean", "shipped"):
        writer = lerobot_writer.LeRobotWriter(str(tmp_path / name), schema, lean=name == "lean")
        for episode in episodes:
            writer.write(episode)
        writer.close()
    from datasets import arrow_dataset
    from lerobot.datasets import compute_stats, lerobot_dataset

    assert arrow_dataset.generate_fingerprint.__module__ == "datasets.fingerprint"  # restored after each save
    assert lerobot_dataset.write_info.__module__ == "lerobot.datasets.utils"
    assert vars(arrow_dataset.Dataset)["from_dict"].__func__.__module__ == "datasets.arrow_dataset"
    assert compute_stats.RunningQuantileStats.__module__ == "lerobot.datasets.compute_stats"
    assert compute_stats.get_feature_stats.__module__ == "lerobot.datasets.compute_stats"
    assert vars(lerobot_dataset.LeRobotDataset)["hf_features"].fget.__module__ == "lerobot.datasets.lerobot_dataset"
    for meta in ("meta/info.json", "meta/tasks.parquet", "meta/mimicrec.json"):
        assert (tmp_path / "lean" / meta).read_bytes() == (tmp_path / "shipped" / meta).read_bytes(), meta
    lean, shipped = (json.loads((tmp_path / name / "meta/stats.json").read_text()) for name in ("lean", "shipped"))
    assert lean == shipped  # the same statistics; ours in the features' order (lerobot's: a set's, per process)
    features = json.loads((tmp_path / "lean" / "meta/info.json").read_text())["features"]
    assert list(lean) == [key for key in features if key in lean]
    videos = sorted(p.relative_to(tmp_path / "lean") for p in (tmp_path / "lean").rglob("*.mp4"))
    assert len(videos) == len(cameras)
    for video in videos:
        assert (tmp_path / "lean" / video).read_bytes() == (tmp_path / "shipped" / video).read_bytes(), video
    for part in ("data", "meta/episodes"):
        files = sorted(p.relative_to(tmp_path / "lean") for p in (tmp_path / "lean" / part).rglob("*.parquet"))
        assert files and files == sorted(p.relative_to(tmp_path / "shipped")
                                         for p in (tmp_path / "shipped" / part).rglob("*.parquet"))
        for file in files:
            assert pq.read_table(tmp_path / "lean" / file).equals(pq.read_table(tmp_path / "shipped" / file)), file


def test_lerobot_statistics_file_is_the_same_from_run_to_run(recorded, tmp_path):
    """Two processes with different string hashing write the same stats.json (lerobot orders it by a set)."""
    import os
    import subprocess
    import sys

    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, "-m", "recorder.cli", "convert", str(recorded.hdf5_path), "--to", "lerobot",
                        str(tmp_path / seed)], check=True, capture_output=True, env=env, timeout=300)
    assert (tmp_path / "1/meta/stats.json").read_bytes() == (tmp_path / "2/meta/stats.json").read_bytes()
