"""`mimicrec convert`: HDF5 -> LeRobot -> HDF5 round trips exactly; every refusal is one clear line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from envs.errors import DatasetError, UsageError

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recorder.cli", "convert", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and fragment in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def round_trip(recorded, tmp_path_factory):
    """The recorded StackThree file converted to LeRobot, and that back to HDF5."""
    base = tmp_path_factory.mktemp("convert")
    there = cli(str(recorded.hdf5_path), "--to", "lerobot", str(base / "lr"))
    assert there.returncode == 0, there.stderr
    back = cli(str(base / "lr"), "--to", "hdf5", str(base / "back.hdf5"))
    assert back.returncode == 0, back.stderr
    return base


def test_round_trip_rebuilds_exact_states_and_mimic_fields(recorded, round_trip):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    assert LeRobotDataset("mimicrec/test", root=round_trip / "lr", video_backend="pyav").num_episodes == 3
    with h5py.File(recorded.hdf5_path) as a, h5py.File(round_trip / "back.hdf5") as b:
        assert json.loads(a["data"].attrs["env_args"]) == json.loads(b["data"].attrs["env_args"])
        for name in a["data"]:
            for key in ("actions", "states", "initial_state", "successes", "obs/object", "next_obs/robot0_eef_pos",
                        "datagen_info/eef_pose/robot0"):
                np.testing.assert_array_equal(a["data"][name][key][()], b["data"][name][key][()], err_msg=key)
            assert b["data"][name].attrs["seed"] == a["data"][name].attrs["seed"]


def test_refusals(recorded, round_trip, tmp_path):
    one_line_error(cli(str(recorded.hdf5_path), "--to", "hdf5", str(tmp_path / "x.hdf5")), "already a hdf5")
    one_line_error(cli(str(recorded.hdf5_path), "--to", "lerobot", str(round_trip / "lr")), "already exists")
    one_line_error(cli(str(tmp_path / "missing"), "--to", "lerobot", str(tmp_path / "y")), "neither an HDF5")
    foreign = tmp_path / "foreign"
    shutil.copytree(round_trip / "lr", foreign)
    (foreign / "meta" / "mimicrec.json").unlink()
    info = json.loads((foreign / "meta" / "info.json").read_text())
    del info["features"]["seed"]["mimicrec"]
    (foreign / "meta" / "info.json").write_text(json.dumps(info))
    one_line_error(cli(str(foreign), "--to", "hdf5", str(tmp_path / "z.hdf5")), "has no mimicrec metadata")
    assert not (tmp_path / "z.hdf5").exists()


def test_an_episode_that_does_not_replay_is_refused(round_trip, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(round_trip / "lr", tampered)
    path = sorted((tampered / "data").glob("*/*.parquet"))[0]
    table = pq.read_table(path)
    actions = np.stack(table["action"].to_numpy(zero_copy_only=False))
    actions[5:, 0] += 0.5
    column = table.schema.get_field_index("action")
    import pyarrow as pa

    values = pa.array(list(actions), type=table.schema.field("action").type)
    table = table.set_column(column, table.schema.field("action"), values)
    pq.write_table(table, path)
    proc = cli(str(tampered), "--to", "hdf5", str(tmp_path / "t.hdf5"))
    one_line_error(proc, "does not replay exactly")
    assert not (tmp_path / "t.hdf5").exists() and not (tmp_path / "t.hdf5.parts").exists()


# ---------------------------------------------------------------- the library functions, directly
def test_dataset_format_tells_files_from_lerobot_folders(recorded, tmp_path):
    from recorder.dataset.reading import dataset_format

    assert dataset_format(recorded.hdf5_path) == "hdf5"
    assert dataset_format(recorded.lerobot_path) == "lerobot"
    with pytest.raises(DatasetError, match="neither an HDF5 file nor a LeRobot dataset folder"):
        dataset_format(tmp_path)


def test_convert_refuses_an_unknown_format(recorded, tmp_path):
    from recorder.dataset.convert import convert

    with pytest.raises(UsageError, match="--to must be one of lerobot, hdf5, got 'zarr'"):
        convert(str(recorded.hdf5_path), "zarr", str(tmp_path / "out"))


def test_hdf5_to_lerobot_copies_every_episode(recorded, tmp_path):
    from recorder.dataset.convert import convert
    from recorder.dataset.info import lerobot_info

    assert convert(str(recorded.hdf5_path), "lerobot", str(tmp_path / "lr")) == 3
    info = lerobot_info(tmp_path / "lr")
    assert info.episodes == 3 and info.successes == 3
    with h5py.File(recorded.hdf5_path) as file:
        assert info.lengths == [len(file["data"][f"demo_{i}"]["actions"]) for i in range(3)]


def test_a_failed_conversion_leaves_nothing(recorded, tmp_path):
    from recorder.dataset.convert import convert

    broken = tmp_path / "broken.hdf5"
    shutil.copy(recorded.hdf5_path, broken)
    with h5py.File(broken, "a") as file:
        del file["data/demo_1/obs/object"]  # the second demo lacks what observation.environment_state needs
    with pytest.raises(DatasetError, match="lack the observation keys"):
        convert(str(broken), "lerobot", str(tmp_path / "lr"))
    assert not (tmp_path / "lr").exists() and not (tmp_path / "lr.partial").exists()


@pytest.mark.parametrize("to", ["hdf5", "lerobot"])
def test_a_killed_conversion_leaves_no_output_and_reruns(recorded, round_trip, tmp_path, to):
    import signal
    import time

    src = round_trip / "lr" if to == "hdf5" else recorded.hdf5_path
    out = tmp_path / ("out.hdf5" if to == "hdf5" else "out")
    staging = tmp_path / f"{out.name}.partial"
    proc = subprocess.Popen([sys.executable, "-m", "recorder.cli", "convert", str(src), "--to", to, str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (staging.exists() or Path(f"{staging}.parts").exists()) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()  # only the staging copy, which the rerun starts over
    rerun = cli(str(src), "--to", to, str(out))
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
