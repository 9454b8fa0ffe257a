"""Shapes made in code, as builder functions ``builder(client, position) -> body id`` (see ``envs.objects``)."""

from __future__ import annotations

import pybullet as p


def cylinder_builder(radius: float, height: float, mass: float, rgba: tuple[float, ...]):
    """A builder making an upright cylinder (primitive shape)."""

    def build(client, start: list[float]) -> int:
        shape = client.createCollisionShape(p.GEOM_CYLINDER, radius=radius, height=height)
        visual = client.createVisualShape(p.GEOM_CYLINDER, radius=radius, length=height, rgbaColor=rgba)
        return client.createMultiBody(mass, shape, visual, basePosition=start)

    return build


def sphere_builder(radius: float, mass: float, rgba: tuple[float, ...]):
    """A builder making a sphere (primitive shape)."""

    def build(client, start: list[float]) -> int:
        shape = client.createCollisionShape(p.GEOM_SPHERE, radius=radius)
        visual = client.createVisualShape(p.GEOM_SPHERE, radius=radius, rgbaColor=rgba)
        return client.createMultiBody(mass, shape, visual, basePosition=start)

    return build


def box_builder(half_extents: tuple[float, float, float], rgba: tuple[float, ...], mass: float):
    """A builder making a box."""

    def build(client, start: list[float]) -> int:
        shape = client.createCollisionShape(p.GEOM_BOX, halfExtents=half_extents)
        visual = client.createVisualShape(p.GEOM_BOX, halfExtents=half_extents, rgbaColor=rgba)
        return client.createMultiBody(mass, shape, visual, basePosition=start)

    return build


Box = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
"""A box part: half extents, centre position and roll/pitch/yaw in the body frame (m, rad)."""


def fixed_parts_builder(boxes: list[Box], rgba: tuple[float, ...], visual_mesh: tuple[str, float] | None = None):
    """A builder making a static body from boxes, each box a link of its own.

    One collision object per box, not one compound: pybullet restores at most one contact manifold
    per pair of collision objects, so a compound touched by an object at two boxes at once (a peg
    between two socket walls, a cube against a bin's floor and wall) would not come back bit for bit
    from ``set_state``. ``visual_mesh`` (obj path, scale) replaces the boxes' own visuals.
    """

    def build(client, start: list[float]) -> int:
        shapes = [client.createCollisionShape(p.GEOM_BOX, halfExtents=half) for half, _, _ in boxes]
        if visual_mesh is None:
            visuals = [client.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba) for half, _, _ in boxes]
            base_visual = -1
        else:
            visuals = [-1] * len(boxes)
            base_visual = client.createVisualShape(p.GEOM_MESH, fileName=visual_mesh[0], meshScale=[visual_mesh[1]] * 3,
                                                   rgbaColor=rgba)
        count = len(boxes)
        return client.createMultiBody(
            0, -1, base_visual, basePosition=start, linkMasses=[0.0] * count, linkCollisionShapeIndices=shapes,
            linkVisualShapeIndices=visuals, linkPositions=[pos for _, pos, _ in boxes],
            linkOrientations=[p.getQuaternionFromEuler(rpy) for _, _, rpy in boxes],
            linkInertialFramePositions=[(0, 0, 0)] * count, linkInertialFrameOrientations=[(0, 0, 0, 1)] * count,
            linkParentIndices=[0] * count, linkJointTypes=[p.JOINT_FIXED] * count, linkJointAxis=[(0, 0, 1)] * count)

    return build


def socket_builder(inner_half: float, wall: float, height: float, rgba: tuple[float, ...]):
    """A builder making a static square socket: four walls around a square hole."""
    offset = inner_half + wall / 2
    long_half, short_half = (inner_half + wall, wall / 2, height / 2), (wall / 2, inner_half, height / 2)
    upright = (0.0, 0.0, 0.0)
    walls = [(long_half, (0, offset, 0), upright), (long_half, (0, -offset, 0), upright),
             (short_half, (offset, 0, 0), upright), (short_half, (-offset, 0, 0), upright)]
    return fixed_parts_builder(walls, rgba)


def tray_builder(scale: float, rgba: tuple[float, ...]):
    """A builder making pybullet_data's ``tray/traybox.urdf`` at ``scale``, one link per box."""
    import pybullet_data

    tilt = 0.575469961  # the tray's wall slope (rad), from the URDF

    def part(size, pos, rpy):
        return tuple(scale * s / 2 for s in size), tuple(scale * c for c in pos), rpy

    boxes = [part((0.6, 0.6, 0.02), (0, 0, 0.005), (0, 0, 0)),
             part((0.02, 0.6, 0.15), (0.25, 0, 0.059), (0, tilt, 0)),
             part((0.02, 0.6, 0.15), (-0.25, 0, 0.059), (0, -tilt, 0)),
             part((0.6, 0.02, 0.15), (0, -0.25, 0.059), (tilt, 0, 0)),
             part((0.6, 0.02, 0.15), (0, 0.25, 0.059), (-tilt, 0, 0))]
    mesh = f"{pybullet_data.getDataPath()}/tray/tray_textured.obj"
    return fixed_parts_builder(boxes, rgba, visual_mesh=(mesh, 0.5 * scale))
