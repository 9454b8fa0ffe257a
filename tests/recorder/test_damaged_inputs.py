"""Damaged datasets (issue 25, item 6): every command that reads one says what is wrong in one line,
exits 2 and writes nothing: a truncated or partly copied HDF5, one with a corrupted header, one whose
demo groups another tool named, and LeRobot folders with a broken info.json, a data file that is not
parquet, or a missing data file."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from recorder.cli import main


def truncated(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])


def header_corrupted(src, dst):
    data = bytearray(src.read_bytes())
    data[2048:6144] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))


def foreign_names(src, dst):
    shutil.copy(src, dst)
    with h5py.File(dst, "a") as file:
        for i, name in enumerate(sorted(file["data"])):
            file["data"].move(name, f"episode{i}")


HDF5_DAMAGES = {
    "truncated": (truncated, "HDF5 cannot read it (truncated file"),
    "header": (header_corrupted, "cannot be read"),
    "foreign names": (foreign_names, "has no data/demo_* groups"),
}
HDF5_COMMANDS = {
    "info": lambda f, out: ["info", f],
    "annotate": lambda f, out: ["annotate", f, "--out", out],
    "replay": lambda f, out: ["replay", f, "--video", out],
    "convert": lambda f, out: ["convert", f, "--to", "lerobot", out],
    "generate": lambda f, out: ["generate", f, "--num-trials", "1", "--num-envs", "1", "--out", out],
    "train": lambda f, out: ["train", f, "--epochs", "1", "--out", out],
}


def assert_one_line(code: int, capsys, fragment: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and fragment in err and "Traceback" not in err, err


@pytest.mark.parametrize("damage", sorted(HDF5_DAMAGES))
@pytest.mark.parametrize("command", sorted(HDF5_COMMANDS))
def test_a_damaged_hdf5_is_one_line_in_every_command(recorded, tmp_path, capsys, damage, command):
    make, fragment = HDF5_DAMAGES[damage]
    bad = tmp_path / "bad.hdf5"
    make(recorded.hdf5_path, bad)
    out = tmp_path / "out"
    assert_one_line(main(HDF5_COMMANDS[command](str(bad), str(out))), capsys, fragment)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.hdf5"]


def broken_info(root):
    (root / "meta" / "info.json").write_text("{not json")


def not_parquet(root):
    first = sorted((root / "data").glob("*/*.parquet"))[0]
    first.write_bytes(first.read_bytes()[:100])


def missing_data_file(root):
    sorted((root / "data").glob("*/*.parquet"))[-1].unlink()


LEROBOT_DAMAGES = {
    "info.json": (broken_info, "not a LeRobot info.json"),
    "parquet": (not_parquet, "a data file cannot be read"),
    "missing file": (missing_data_file, "data files are missing"),
}


@pytest.mark.parametrize("damage", sorted(LEROBOT_DAMAGES))
@pytest.mark.parametrize("command", ["info", "convert"])
def test_a_damaged_lerobot_folder_is_one_line(recorded, tmp_path, capsys, damage, command):
    damage_fn, fragment = LEROBOT_DAMAGES[damage]
    root = tmp_path / "lerobot"
    shutil.copytree(recorded.lerobot_path, root)
    damage_fn(root)
    out = tmp_path / "out.hdf5"
    args = ["info", str(root)] if command == "info" else ["convert", str(root), "--to", "hdf5", str(out)]
    assert_one_line(main(args), capsys, fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lerobot"]
