"""Nothing the generator knows is lost in the LeRobot copy: labels, per-episode provenance, failures,
annotations, subtask descriptions and cameras survive HDF5 -> LeRobot -> HDF5 object for object, and
survive lerobot's own editing tools (delete_episodes, split, remove_feature): an edited dataset still
converts back and replays."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import yaml

import envs
from recorder.cli import main
from tests.recorder.hdf5_compare import assert_same_hdf5

# initial_state is Bullet's serialized world: a fresh env writes a few history bytes (contact caches) differently;
# its state is the same (the conversion replays every step bit for bit from it). progress is a run's counters.
REBUILT = ("initial_state",)


@pytest.fixture(scope="module")
def mixed_run(annotated, tmp_path_factory):
    """A generate run of StackThree that keeps 2 successes and 3 failures (seed 3, noisy last subtask)."""
    spec = yaml.safe_load(open(envs.task_config_file("mimicrec/StackThree-v0", "mimic")))
    spec["eefs"]["robot0"]["subtasks"][-1]["action_noise"] = 0.1
    spec["generation"].update(guarantee=False, keep_failed=True)
    base = tmp_path_factory.mktemp("mixed")
    (base / "mixed.yaml").write_text(yaml.safe_dump(spec))
    assert main(["generate", str(annotated), "--num-trials", "5", "--num-envs", "1", "--seed", "3", "--config",
                 str(base / "mixed.yaml"), "--out", str(base / "run"), "--quiet"]) == 0
    return base / "run"


def lerobot_dataset(root):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset("mimicrec/test", root=root, video_backend="pyav")


def test_generated_kept_and_failed_demos_convert_back_object_for_object(mixed_run, tmp_path):
    for sub in ("", "failed"):
        folder = mixed_run / sub
        assert main(["convert", str(folder / "lerobot"), "--to", "hdf5", str(tmp_path / f"back{sub}.hdf5")]) == 0
        assert_same_hdf5(folder / "generated.hdf5", tmp_path / f"back{sub}.hdf5", ("progress",), REBUILT)
        assert main(["replay", str(tmp_path / f"back{sub}.hdf5")]) == 0
    with h5py.File(tmp_path / "backfailed.hdf5") as file:
        assert [file["data"][d].attrs["failed_subtask"] for d in ("demo_0", "demo_1", "demo_2")] == [3, 3, 3]


def test_provenance_failures_and_subtask_descriptions_are_lerobot_features(mixed_run):
    kept, failed = lerobot_dataset(mixed_run / "lerobot"), lerobot_dataset(mixed_run / "failed" / "lerobot")
    with h5py.File(mixed_run / "generated.hdf5") as file:
        demo = file["data/demo_1"]
        frame = kept[kept.meta.episodes[1]["dataset_from_index"]]
        assert int(frame["attempt_index"]) == demo.attrs["attempt_index"]
        assert frame["source"] == "generated"
        assert frame["src_demo_inds"].tolist() == demo.attrs["src_demo_inds"].tolist()
        assert int(frame["seed"]) == demo.attrs["seed"]
        spec_digest = file["data"].attrs["spec_digest"]
        assert frame["spec_digest"] == demo.attrs["spec_digest"] == spec_digest  # per episode too
    assert {int(failed[i]["failed_subtask"]) for i in range(len(failed))} == {3}
    meta = kept.meta.features["seed"]["mimicrec"]
    assert meta["attrs"]["spec_digest"] == spec_digest and len(spec_digest) == 16
    assert json.loads(meta["attrs"]["subtasks"])["robot0"][0] == "grasp the red cube"
    assert meta["labels"] == ["subtask_index", "src_demo_index"]


def test_annotations_survive_the_round_trip(annotated, tmp_path):
    assert main(["convert", str(annotated), "--to", "lerobot", str(tmp_path / "lr")]) == 0
    dataset = lerobot_dataset(tmp_path / "lr")
    with h5py.File(annotated) as file:
        ends = file["data/demo_2/datagen_info/subtask_term_inds/robot0"][()]
    assert dataset[dataset.meta.episodes[2]["dataset_from_index"]]["subtask_term_inds.robot0"].tolist() == list(ends)
    assert main(["convert", str(tmp_path / "lr"), "--to", "hdf5", str(tmp_path / "back.hdf5")]) == 0
    assert_same_hdf5(annotated, tmp_path / "back.hdf5", (), REBUILT)


def test_camera_images_and_recording_metadata_survive_the_round_trip(tmp_path):
    assert main(["record", "--task", "mimicrec/Lift-v0", "--num-demos", "2", "--seed", "4", "--cameras", "agentview",
                 "--image-size", "32", "--out", str(tmp_path / "rec"), "--quiet"]) == 0
    assert main(["convert", str(tmp_path / "rec" / "lerobot"), "--to", "hdf5", str(tmp_path / "back.hdf5")]) == 0
    assert_same_hdf5(tmp_path / "rec" / "demos.hdf5", tmp_path / "back.hdf5", (), REBUILT)
    with h5py.File(tmp_path / "back.hdf5") as file:
        assert file["data/demo_1/obs/agentview_image"].shape[1:] == (32, 32, 3)
        assert json.loads(file["data"].attrs["recording"])["instruction"]


@pytest.mark.parametrize("operation", ["delete_episodes", "split", "remove_feature"])
def test_datasets_edited_by_lerobots_tools_still_convert_and_replay(mixed_run, tmp_path, operation, capsys):
    from lerobot.datasets import dataset_tools

    source = lerobot_dataset(mixed_run / "failed" / "lerobot")
    if operation == "delete_episodes":
        edited = dataset_tools.delete_episodes(source, [0], output_dir=tmp_path / "edited", repo_id="t/edited")
    elif operation == "split":
        edited = dataset_tools.split_dataset(source, {"a": [0], "b": [1, 2]}, output_dir=tmp_path / "edited")["b"]
    else:
        edited = dataset_tools.remove_feature(source, "src_demo_index", output_dir=tmp_path / "edited",
                                              repo_id="t/edited")
    root = edited.root
    assert not (root / "meta" / "mimicrec.json").exists()  # lerobot's tools drop it; the features keep the rest
    back = tmp_path / "back.hdf5"
    assert main(["convert", str(root), "--to", "hdf5", str(back)]) == 0
    kept = [1, 2] if operation != "remove_feature" else [0, 1, 2]
    with h5py.File(mixed_run / "failed" / "generated.hdf5") as a, h5py.File(back) as b:
        assert len(b["data"]) == len(kept)
        for new, old in enumerate(kept):
            x, y = a["data"][f"demo_{old}"], b["data"][f"demo_{new}"]
            for key in ("actions", "states", "obs/object", "subtask_index", "datagen_info/eef_pose/robot0"):
                np.testing.assert_array_equal(x[key][()], y[key][()], err_msg=key)
            assert y.attrs["failed_subtask"] == x.attrs["failed_subtask"]
            assert y.attrs["src_demo_inds"].tolist() == x.attrs["src_demo_inds"].tolist()
            assert ("src_demo_index" in y) == (operation != "remove_feature")
        assert b["data"].attrs["spec_digest"] == a["data"].attrs["spec_digest"]
    capsys.readouterr()
    assert main(["replay", str(root)]) == 0
    assert f"{len(kept)} of {len(kept)} demos replay exactly" in capsys.readouterr().out


def test_replay_of_a_lerobot_dataset_reports_a_tampered_episode(mixed_run, tmp_path, capsys):
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.copytree(mixed_run / "lerobot", tmp_path / "lr")
    path = sorted((tmp_path / "lr" / "data").glob("*/*.parquet"))[0]
    table = pq.read_table(path)
    state = np.stack(table["observation.state"].to_numpy(zero_copy_only=False))
    state[-1, 0] += 1e-3  # the last frame of episode 1
    column = table.schema.get_field_index("observation.state")
    field = table.schema.field("observation.state")
    pq.write_table(table.set_column(column, field, pa.array(list(state), type=field.type)), path)
    os.sync()
    capsys.readouterr()
    assert main(["replay", str(tmp_path / "lr")]) == 1
    out = capsys.readouterr().out
    assert "episode_0:" in out and "episode_1:" in out and "STATES DIFFER" in out and "1 of 2 demos" in out
    assert main(["replay", str(tmp_path / "lr"), "--demo", "0"]) == 0
