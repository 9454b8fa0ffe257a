"""Shapes made in code, as ``ObjectSpec.builder`` functions: ``builder(client, position) -> body id``."""

from __future__ import annotations

import pybullet as p


def cylinder_builder(radius: float, height: float, mass: float = 0.1):
    """An ``ObjectSpec.builder`` making an upright cylinder (primitive shape)."""

    def build(client, start: list[float]) -> int:
        shape = client.createCollisionShape(p.GEOM_CYLINDER, radius=radius, height=height)
        visual = client.createVisualShape(p.GEOM_CYLINDER, radius=radius, length=height)
        return client.createMultiBody(mass, shape, visual, basePosition=start)

    return build


def box_builder(half_extents: tuple[float, float, float], rgba: tuple[float, ...], mass: float):
    """An ``ObjectSpec.builder`` making a box."""

    def build(client, start: list[float]) -> int:
        shape = client.createCollisionShape(p.GEOM_BOX, halfExtents=half_extents)
        visual = client.createVisualShape(p.GEOM_BOX, halfExtents=half_extents, rgbaColor=rgba)
        return client.createMultiBody(mass, shape, visual, basePosition=start)

    return build


def socket_builder(inner_half: float, wall: float, height: float, rgba: tuple[float, ...]):
    """An ``ObjectSpec.builder`` making a static square socket: four walls around a square hole."""
    offset = inner_half + wall / 2
    long_half, short_half = (inner_half + wall, wall / 2, height / 2), (wall / 2, inner_half, height / 2)
    walls = [(long_half, (0, offset, 0)), (long_half, (0, -offset, 0)),
             (short_half, (offset, 0, 0)), (short_half, (-offset, 0, 0))]

    def build(client, start: list[float]) -> int:
        halves, positions = [w[0] for w in walls], [w[1] for w in walls]
        shape = client.createCollisionShapeArray([p.GEOM_BOX] * 4, halfExtents=halves,
                                                 collisionFramePositions=positions)
        visual = client.createVisualShapeArray([p.GEOM_BOX] * 4, halfExtents=halves, visualFramePositions=positions,
                                               rgbaColors=[rgba] * 4)
        return client.createMultiBody(0, shape, visual, basePosition=start)

    return build
