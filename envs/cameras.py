"""Cameras: a fixed front view (``agentview``) and a wrist view (``robot0_eye_in_hand``).

Images are rendered with pybullet's CPU tiny renderer by default, or through the EGL plugin
(``renderer="egl"``; hardware-accelerated where a GPU driver is present). Observation keys follow
robomimic: ``<camera>_image`` ``[H, W, 3]`` uint8 and, if asked for, ``<camera>_depth`` ``[H, W, 1]``
float32 in metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet as p

from envs.errors import TaskError

CAMERA_NAMES = ("agentview", "robot0_eye_in_hand")
RENDERERS = ("tiny", "egl")
NEAR, FAR = 0.01, 3.0
MIN_SIZE = 32  # LeRobot's default video codec fails on frames of 24 px or less
MAX_SIZE = 1024  # pybullet's renderer aborts the process (std::bad_alloc) on sizes far beyond; demos hold every frame


@dataclass(frozen=True)
class CameraSpec:
    """One camera: which view, its size in pixels, and whether depth is rendered too."""

    name: str
    width: int = 84
    height: int = 84
    depth: bool = False


def parse_cameras(raw: list[dict[str, Any]] | None) -> tuple[CameraSpec, ...]:
    """Validate the ``cameras`` env kwarg (a list of dicts) into specs; errors name the entry."""
    specs = []
    for i, entry in enumerate(raw or []):
        unknown = set(entry) - {"name", "width", "height", "depth"}
        if unknown or entry.get("name") not in CAMERA_NAMES:
            raise TaskError(f"cameras[{i}] = {entry!r}: needs name in {CAMERA_NAMES} and only the keys "
                            "name, width, height, depth")
        spec = CameraSpec(**entry)
        if min(spec.width, spec.height) < MIN_SIZE:
            raise TaskError(f"cameras[{i}]: {spec.width}x{spec.height} is too small; use at least {MIN_SIZE} px")
        if max(spec.width, spec.height) > MAX_SIZE:
            raise TaskError(f"cameras[{i}]: {spec.width}x{spec.height} is too large; use at most {MAX_SIZE} px")
        specs.append(spec)
    if len({s.name for s in specs}) != len(specs):
        raise TaskError("cameras: each camera may appear only once")
    return tuple(specs)


class CameraRig:
    """Renders the configured cameras of one pybullet client."""

    def __init__(self, client, specs: tuple[CameraSpec, ...], renderer: str = "tiny") -> None:
        if renderer not in RENDERERS:
            raise TaskError(f"unknown renderer {renderer!r}; use one of {', '.join(RENDERERS)}")
        self.client, self.specs = client, specs
        self.renderer = p.ER_TINY_RENDERER
        if renderer == "egl" and specs:
            self._load_egl()

    def _load_egl(self) -> None:
        import pkgutil

        egl = pkgutil.get_loader("eglRenderer")
        plugin = self.client.loadPlugin(egl.get_filename(), "_eglRendererPlugin") if egl else -1
        if plugin < 0:
            raise TaskError("the EGL renderer plugin could not be loaded; use renderer='tiny'")
        self.renderer = p.ER_BULLET_HARDWARE_OPENGL

    def observe(self, robot_body: int, hand_link: int, table_z: float) -> dict[str, np.ndarray]:
        """Images (and depths) of every configured camera, keyed as documented in the module."""
        return {k: v for spec in self.specs for k, v in self.render(spec, robot_body, hand_link, table_z).items()}

    def render(self, spec: CameraSpec, robot_body: int, hand_link: int, table_z: float) -> dict[str, np.ndarray]:
        """``<name>_image`` (and ``<name>_depth``) of one camera, configured or not."""
        view, fov = self._view(spec.name, robot_body, hand_link, table_z)
        proj = self.client.computeProjectionMatrixFOV(fov, spec.width / spec.height, NEAR, FAR)
        flags = 0 if spec.depth else p.ER_NO_SEGMENTATION_MASK
        _, _, rgba, depth, _ = self.client.getCameraImage(spec.width, spec.height, view, proj,
                                                          renderer=self.renderer, flags=flags)
        out = {f"{spec.name}_image": np.asarray(rgba, dtype=np.uint8).reshape(spec.height, spec.width, 4)[..., :3]}
        if spec.depth:
            buf = np.asarray(depth, dtype=np.float32).reshape(spec.height, spec.width, 1)
            out[f"{spec.name}_depth"] = (FAR * NEAR / (FAR - (FAR - NEAR) * buf)).astype(np.float32)
        return out

    def _view(self, name: str, robot_body: int, hand_link: int, table_z: float) -> tuple[list[float], float]:
        if name == "agentview":
            eye, target = [1.4, 0.0, table_z + 0.75], [0.35, 0.0, table_z + 0.12]
            return self.client.computeViewMatrix(eye, target, [0, 0, 1]), 45.0
        pos, quat = self.client.getLinkState(robot_body, hand_link, computeForwardKinematics=1)[4:6]
        rot = np.asarray(self.client.getMatrixFromQuaternion(quat)).reshape(3, 3)
        eye = np.asarray(pos) + rot @ np.array([0.05, 0.0, 0.02])
        return self.client.computeViewMatrix(eye, eye + rot[:, 2], rot[:, 0]), 75.0


def observation_spaces(specs: tuple[CameraSpec, ...]):
    """Gymnasium spaces of the camera observation keys."""
    from gymnasium import spaces

    out = {}
    for spec in specs:
        out[f"{spec.name}_image"] = spaces.Box(0, 255, (spec.height, spec.width, 3), np.uint8)
        if spec.depth:
            out[f"{spec.name}_depth"] = spaces.Box(0.0, np.inf, (spec.height, spec.width, 1), np.float32)
    return out
