"""A generated demo's per-step labels (``subtask_index``, ``src_demo_index``) are in its LeRobot copy too,
load through lerobot's own dataset class, and come back when the LeRobot copy is converted to HDF5."""

from __future__ import annotations

import h5py
import numpy as np
import pyarrow.parquet as pq

from recorder.cli import main
from recorder.dataset.writers.lerobot_writer import committed_data_files

LABELS = ("subtask_index", "src_demo_index")


def test_labels_reach_lerobot_and_convert_back(annotated, tmp_path, capsys):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out = tmp_path / "gen"
    assert main(["generate", str(annotated), "--num-trials", "2", "--num-envs", "1", "--out", str(out),
                 "--quiet"]) == 0
    table = pq.read_table(committed_data_files(out / "lerobot"), columns=["episode_index", *LABELS])
    episodes = np.asarray(table["episode_index"])
    with h5py.File(out / "generated.hdf5") as file:
        for i, name in enumerate(["demo_0", "demo_1"]):
            for label in LABELS:
                column = np.stack(table[label].to_numpy(zero_copy_only=False))[episodes == i].reshape(-1)
                np.testing.assert_array_equal(column, file["data"][name][label][()], err_msg=label)
    dataset = LeRobotDataset("mimicrec/test", root=out / "lerobot", video_backend="pyav")
    assert set(LABELS) <= set(dataset.features)
    with h5py.File(out / "generated.hdf5") as file:
        last = len(file["data/demo_0/actions"]) - 1
        for label in LABELS:
            assert int(dataset[last][label]) == int(file["data/demo_0"][label][last])
    back = tmp_path / "back.hdf5"
    assert main(["convert", str(out / "lerobot"), "--to", "hdf5", str(back)]) == 0
    with h5py.File(out / "generated.hdf5") as a, h5py.File(back) as b:
        for name in a["data"]:
            for label in LABELS:
                np.testing.assert_array_equal(a["data"][name][label][()], b["data"][name][label][()])
    capsys.readouterr()
    assert main(["info", str(out / "lerobot")]) == 0
    lerobot_info = capsys.readouterr().out
    assert "task:        mimicrec/StackThree-v0" in lerobot_info
    assert "instruction: Stack the red cube on the blue cube, then the green cube on the red cube." in lerobot_info
    assert main(["info", str(out / "generated.hdf5")]) == 0
    hdf5_info = capsys.readouterr().out
    subtasks = [line.split("mean steps per subtask")[1] for line in (lerobot_info + hdf5_info).splitlines()
                if "mean steps per subtask" in line]
    assert len(subtasks) == 2 and subtasks[0] == subtasks[1] and subtasks[0].count(":") == 4  # four subtasks
