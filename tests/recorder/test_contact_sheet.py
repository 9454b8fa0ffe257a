"""`mimicrec replay --sheet`: a contact sheet of a dataset (each demo's first and last frame, captioned),
drawn headless from an HDF5 file and from a LeRobot dataset alike."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from recorder.cli import main


@pytest.mark.parametrize("fmt", ["hdf5", "lerobot"])
def test_contact_sheet_shows_every_demo(recorded, tmp_path, capsys, fmt):
    dataset = recorded.hdf5_path if fmt == "hdf5" else recorded.lerobot_path
    sheet = tmp_path / "sheet.png"
    assert main(["replay", str(dataset), "--sheet", str(sheet), "--size", "96"]) == 0
    assert f"3 of 3 demos replay exactly; contact sheet: {sheet}" in capsys.readouterr().out
    image = imread(sheet)[..., :3]
    assert image.shape[:2] == (210, 1080)  # three cells side by side at 100 dpi
    cells = np.split(image[:, :1080], 3, axis=1)
    for cell in cells:  # each cell holds two rendered frames (table, robot, cubes), not a blank
        assert cell.std() > 0.1 and len(np.unique(cell.reshape(-1, 3), axis=0)) > 200
    assert not (tmp_path / "sheet.png.partial.png").exists()


def test_a_bad_frame_size_is_one_line(recorded, tmp_path, capsys):
    assert main(["replay", str(recorded.hdf5_path), "--sheet", str(tmp_path / "s.png"), "--size", "4"]) == 2
    assert "--size must be between 16 and 1024" in capsys.readouterr().err
    assert not (tmp_path / "s.png").exists()
