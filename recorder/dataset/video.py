"""Writing frames as an MP4 video (replays, evaluation rollouts), and a dataset's contact sheet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recorder.imports import import_pyplot


def write_video(path: str, frames: list[np.ndarray], fps: int) -> None:
    """Write RGB frames ``[H, W, 3]`` uint8 to an MP4 (PyAV, MPEG-4), atomically."""
    import av

    partial = f"{path}.partial.mp4"
    with av.open(partial, "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 4_000_000
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        container.mux(stream.encode())
    Path(partial).replace(path)


SHEET_MAX = 24  # demos on one contact sheet (the first ones)


@dataclass
class ReplayViews:
    """What ``mimicrec replay`` shows: every frame for ``video``, and each demo's first and last frame for a
    contact sheet ``sheet`` (the first ``SHEET_MAX`` demos), rendered at ``size`` pixels."""

    video: str | None = None
    sheet: str | None = None
    size: int = 256
    frames: list[np.ndarray] = field(default_factory=list)
    tiles: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def hook(self, render: Callable[[int, int], np.ndarray], steps: int) -> Callable[[], None] | None:
        """The per-step callback for the next demo of ``steps`` steps (None when nothing is to be drawn)."""
        on_sheet = self.sheet is not None and len(self.tiles) < SHEET_MAX
        if self.video is None and not on_sheet:
            return None
        count, first = [0], []

        def on_step() -> None:
            count[0] += 1
            ends = count[0] in (1, steps)
            image = render(self.size, self.size) if self.video is not None or (on_sheet and ends) else None
            if self.video is not None:
                self.frames.append(image)
            if on_sheet and count[0] == 1:
                first.append(image)
            if on_sheet and count[0] == steps:
                self.tiles.append((first[0], image))

        return on_step

    def write(self, fps: int, labels: list[tuple[str, bool]]) -> None:
        """Write the video and the contact sheet (``labels``: each demo's caption, and whether it succeeds exactly)."""
        if self.video is not None and self.frames:
            write_video(self.video, self.frames, fps)
        if self.sheet is not None and self.tiles:
            write_contact_sheet(self.sheet, self.tiles, labels[:len(self.tiles)])


def write_contact_sheet(path: str, tiles: list[tuple[np.ndarray, np.ndarray]], labels: list[tuple[str, bool]]) -> None:
    """A PNG grid, one cell per demo: its first and last frame side by side under its caption (green when good,
    red when not), written atomically."""
    plt = import_pyplot()
    cols = min(4, len(tiles))
    rows = -(-len(tiles) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (first, last), (caption, good) in zip(axes.flat, tiles, labels, strict=False):
        gap = np.full((first.shape[0], 4, 3), 255, dtype=np.uint8)
        ax.imshow(np.concatenate([first, gap, last], axis=1))
        ax.set_title(caption, fontsize=8, color="tab:green" if good else "tab:red")
    fig.tight_layout()
    partial = f"{path}.partial.png"
    fig.savefig(partial, dpi=100)
    plt.close(fig)
    Path(partial).replace(path)
