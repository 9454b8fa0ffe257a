"""Writing frames as an MP4 video (replays, evaluation rollouts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


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
