"""Pure-numpy pose math: quaternions (x, y, z, w), rotation matrices, axis-angle, 4x4 poses.

Every function accepts a single item or a leading batch dimension, e.g. ``quat_to_mat`` maps
``[..., 4]`` to ``[..., 3, 3]``. Quaternions follow pybullet's and scipy's ``(x, y, z, w)`` order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_EPS = 1e-12


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """Unit quaternion(s) ``[..., 4]`` (x, y, z, w) -> rotation matrices ``[..., 3, 3]``."""
    q = np.asarray(quat, dtype=np.float64)
    if q.ndim == 1:  # one quaternion: scalar math is ~10x faster than the batched form (hot in every step)
        return _quat_to_mat_one(*q.tolist())
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = np.moveaxis(q, -1, 0)
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _quat_to_mat_one(x: float, y: float, z: float, w: float) -> np.ndarray:
    return np.array(_rotation_rows(x, y, z, w))


def _rotation_rows(x: float, y: float, z: float, w: float) -> tuple[tuple[float, float, float], ...]:
    """The rotation matrix's rows of one quaternion (normalized first), as plain floats."""
    norm = math.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x / norm, y / norm, z / norm, w / norm
    return ((1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)),
            (2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)),
            (2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)))


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> unit quaternions ``[..., 4]`` (x, y, z, w), w >= 0."""
    m = np.asarray(mat, dtype=np.float64)
    if m.ndim == 2:
        return _mat_to_quat_one(m.tolist())
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    trace = np.trace(m, axis1=1, axis2=2)
    # Four candidate formulas; pick per item the numerically largest denominator.
    cands = np.stack(
        [
            1 + trace,
            1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2],
            1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2],
            1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2],
        ],
        axis=1,
    )
    choice = np.argmax(cands, axis=1)
    quat = np.empty((m.shape[0], 4))
    for k in range(4):
        sel = choice == k
        if np.any(sel):
            quat[sel] = _quat_from_case(m[sel], cands[sel, k], k)
    quat *= np.where(quat[:, 3:4] < 0, -1.0, 1.0)
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    return quat.reshape(*batch, 4)


def _mat_to_quat_one(m: list[list[float]]) -> np.ndarray:
    """Shepperd's method on one matrix, the same branch choice as the batched form."""
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = m
    cands = (1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22)
    case = max(range(4), key=cands.__getitem__)
    t = cands[case]
    s = 0.5 / math.sqrt(t)
    if case == 0:
        q = [(m21 - m12) * s, (m02 - m20) * s, (m10 - m01) * s, t * s]
    elif case == 1:
        q = [t * s, (m01 + m10) * s, (m02 + m20) * s, (m21 - m12) * s]
    elif case == 2:
        q = [(m01 + m10) * s, t * s, (m12 + m21) * s, (m02 - m20) * s]
    else:
        q = [(m02 + m20) * s, (m12 + m21) * s, t * s, (m10 - m01) * s]
    sign = -1.0 if q[3] < 0 else 1.0
    norm = math.sqrt(sum(c * c for c in q))
    return np.array([sign * c / norm for c in q])


def _quat_from_case(m: np.ndarray, t: np.ndarray, case: int) -> np.ndarray:
    """One branch of the matrix-to-quaternion conversion (Shepperd's method)."""
    s = 0.5 / np.sqrt(t)
    if case == 0:
        comps = [(m[:, 2, 1] - m[:, 1, 2]) * s, (m[:, 0, 2] - m[:, 2, 0]) * s,
                 (m[:, 1, 0] - m[:, 0, 1]) * s, t * s]
    elif case == 1:
        comps = [t * s, (m[:, 0, 1] + m[:, 1, 0]) * s, (m[:, 0, 2] + m[:, 2, 0]) * s,
                 (m[:, 2, 1] - m[:, 1, 2]) * s]
    elif case == 2:
        comps = [(m[:, 0, 1] + m[:, 1, 0]) * s, t * s, (m[:, 1, 2] + m[:, 2, 1]) * s,
                 (m[:, 0, 2] - m[:, 2, 0]) * s]
    else:
        comps = [(m[:, 0, 2] + m[:, 2, 0]) * s, (m[:, 1, 2] + m[:, 2, 1]) * s, t * s,
                 (m[:, 1, 0] - m[:, 0, 1]) * s]
    return np.stack(comps, axis=1)


def axis_angle_to_mat(rotvec: np.ndarray) -> np.ndarray:
    """Rotation vectors ``[..., 3]`` (axis * angle, radians) -> matrices ``[..., 3, 3]`` (Rodrigues)."""
    v = np.asarray(rotvec, dtype=np.float64)
    if v.ndim == 1:
        return _axis_angle_to_mat_one(*v.tolist())
    angle = np.linalg.norm(v, axis=-1)[..., None, None]
    axis = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), _EPS)
    x, y, z = np.moveaxis(axis, -1, 0)
    zero = np.zeros_like(x)
    skew = np.stack(
        [np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1), np.stack([-y, x, zero], -1)],
        axis=-2,
    )
    eye = np.broadcast_to(np.eye(3), skew.shape)
    return eye + np.sin(angle) * skew + (1 - np.cos(angle)) * (skew @ skew)


def _axis_angle_to_mat_one(vx: float, vy: float, vz: float) -> np.ndarray:
    angle = math.sqrt(vx * vx + vy * vy + vz * vz)
    scale = max(angle, _EPS)
    x, y, z = vx / scale, vy / scale, vz / scale
    s, c = math.sin(angle), 1.0 - math.cos(angle)
    # I + s K + c K^2 with K the skew matrix of the unit axis (K^2 = a a^T - I)
    return np.array([[1 + c * (x * x - 1), -s * z + c * x * y, s * y + c * x * z],
                     [s * z + c * x * y, 1 + c * (y * y - 1), -s * x + c * y * z],
                     [-s * y + c * x * z, s * x + c * y * z, 1 + c * (z * z - 1)]])


def mat_to_axis_angle(mat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> rotation vectors ``[..., 3]`` with angle in [0, pi]."""
    quat = mat_to_quat(mat)
    if quat.ndim == 1:
        x, y, z, w = quat.tolist()
        sin_half = math.sqrt(x * x + y * y + z * z)
        scale = 2.0 * math.atan2(sin_half, min(max(w, -1.0), 1.0)) / sin_half if sin_half > _EPS else 2.0
        return np.array([x * scale, y * scale, z * scale])
    xyz, w = quat[..., :3], np.clip(quat[..., 3], -1.0, 1.0)
    sin_half = np.linalg.norm(xyz, axis=-1)
    angle = 2.0 * np.arctan2(sin_half, w)
    scale = np.where(sin_half > _EPS, angle / np.maximum(sin_half, _EPS), 2.0)
    return xyz * scale[..., None]


def make_pose(pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Position ``[..., 3]`` and rotation matrix ``[..., 3, 3]`` -> homogeneous pose ``[..., 4, 4]``."""
    pos = np.asarray(pos, dtype=np.float64)
    if pos.ndim == 1:  # one pose (hot in every step): plain indexing is ~2x faster than the batched form
        pose = np.zeros((4, 4))
        pose[:3, :3] = rot
        pose[:3, 3] = pos
        pose[3, 3] = 1.0
        return pose
    pose = np.zeros((*pos.shape[:-1], 4, 4))
    pose[..., :3, :3] = rot
    pose[..., :3, 3] = pos
    pose[..., 3, 3] = 1.0
    return pose


def pose_from_pos_quat(pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """Position ``[..., 3]`` and quaternion ``[..., 4]`` (x, y, z, w) -> pose ``[..., 4, 4]``; one pose may
    also be given as plain sequences (pybullet's tuples)."""
    if isinstance(quat, np.ndarray):
        if quat.ndim != 1:
            return make_pose(pos, quat_to_mat(quat))
        quat = quat.tolist()
    return _pose_one(pos.tolist() if isinstance(pos, np.ndarray) else pos, quat)


def _pose_one(pos, quat) -> np.ndarray:
    """One pose from plain floats, built as one array (hot in every step)."""
    (px, py, pz), (row0, row1, row2) = pos, _rotation_rows(*quat)
    return np.array([[*row0, px], [*row1, py], [*row2, pz], [0.0, 0.0, 0.0, 1.0]], dtype=np.float64)


def pose_inv(pose: np.ndarray) -> np.ndarray:
    """Inverse of rigid poses ``[..., 4, 4]`` using the transpose of the rotation."""
    rot_t = np.swapaxes(pose[..., :3, :3], -1, -2)
    return make_pose(-(rot_t @ pose[..., :3, 3:4])[..., 0], rot_t)


def transform_poses_to_new_frame(
    src_poses: np.ndarray, frame_src: np.ndarray, frame_new: np.ndarray
) -> np.ndarray:
    """Re-target poses ``[T, 4, 4]`` defined relative to ``frame_src`` ``[4, 4]`` onto ``frame_new``.

    Returns ``frame_new @ inv(frame_src) @ src_poses[t]`` for each ``t``: the poses keep their
    relation to the reference frame (an object's pose) when that frame moves.
    """
    return frame_new @ pose_inv(frame_src) @ src_poses


def interpolate_poses(start: np.ndarray, end: np.ndarray, num_steps: int) -> np.ndarray:
    """``num_steps`` poses ``[num_steps, 4, 4]`` strictly between ``start`` and ``end`` ``[4, 4]``.

    Positions are interpolated linearly; rotations along the geodesic (axis-angle slerp).
    """
    fracs = np.arange(1, num_steps + 1, dtype=np.float64) / (num_steps + 1)
    pos = start[:3, 3] + fracs[:, None] * (end[:3, 3] - start[:3, 3])
    delta = mat_to_axis_angle(end[:3, :3] @ start[:3, :3].T)
    rots = axis_angle_to_mat(fracs[:, None] * delta) @ start[:3, :3]
    return make_pose(pos, rots)


def rotation_angle_between(rot_a: np.ndarray, rot_b: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between rotation matrices ``[..., 3, 3]``."""
    rel = np.swapaxes(rot_a, -1, -2) @ rot_b
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.arccos(np.clip(cos, -1.0, 1.0))


def nearest_symmetric_pose(pose: np.ndarray, reference: np.ndarray, period: float) -> np.ndarray:
    """Of the poses ``pose @ Rz(k * period)`` (how an object that looks the same after turning by ``period``
    radians about its own z axis can equally be said to sit), the one whose rotation is nearest
    ``reference``'s (both ``[4, 4]``); ``pose`` itself when ``period`` is 0 or already nearest."""
    if period <= 0:
        return pose
    turns = yaw_turns(period)
    angles = rotation_angle_between(pose[:3, :3] @ turns, reference[:3, :3])
    best = int(np.argmin(angles))
    return pose if best == 0 else make_pose(pose[:3, 3], pose[:3, :3] @ turns[best])


def yaw_turns(period: float) -> np.ndarray:
    """Rotations ``[n, 3, 3]`` about z by ``0, period, 2 * period, ...`` (``n = 2 pi / period``, rounded)."""
    angles = period * np.arange(max(1, round(2 * math.pi / period)))
    cos, sin, zero, one = np.cos(angles), np.sin(angles), np.zeros_like(angles), np.ones_like(angles)
    return np.stack([np.stack([cos, -sin, zero], -1), np.stack([sin, cos, zero], -1),
                     np.stack([zero, zero, one], -1)], -2)


def yaw_quat(yaw: float) -> np.ndarray:
    """Quaternion ``[4]`` (x, y, z, w) of a rotation by ``yaw`` about world z."""
    return np.array([0.0, 0.0, np.sin(yaw / 2), np.cos(yaw / 2)])


def yaw_of(rot: np.ndarray) -> float:
    """Heading (rotation about world z, radians) of the x axis of rotation matrix ``rot`` ``[3, 3]``."""
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


def wrap_angle(angle: float, period: float) -> float:
    """``angle`` folded into ``[-period / 2, period / 2)`` (e.g. period pi/2 for a square's symmetry)."""
    return (angle + period / 2) % period - period / 2


def quat_heading(quat: Sequence[float]) -> float:
    """Heading (rotation about world z, radians) of the x axis of quaternion ``quat``'s rotation (x, y, z, w):
    ``yaw_of`` without building the matrix (the observation calls it every step)."""
    x, y, z, w = quat
    return math.atan2(2.0 * (x * y + w * z), 1.0 - 2.0 * (y * y + z * z))


def turned_near_heading(poses: list[tuple], turns: list[tuple[int, float]], reference_quat: Sequence[float]) -> list:
    """``poses`` (``(pos, quat)`` pairs) with each ``(index, period)`` of ``turns`` turned about its own z by the
    multiple of ``period`` that brings its heading within half a period of ``reference_quat``'s."""
    poses, heading = list(poses), quat_heading(reference_quat)
    for index, period in turns:
        pos, quat = poses[index]
        offset = quat_heading(quat) - heading
        turn = wrap_angle(offset, period) - offset  # a multiple of period
        if abs(turn) > 1e-9:
            poses[index] = (pos, tuple(_quat_times(quat, yaw_quat(turn))))
    return poses


def headings_to(poses: list[tuple], reference_quat: Sequence[float]) -> list[float]:
    """Each of ``poses``' heading minus ``reference_quat``'s as ``[sin, cos]`` pairs, in order (continuous where
    the angle wraps)."""
    heading = quat_heading(reference_quat)
    offsets = [quat_heading(quat) - heading for _, quat in poses]
    return [v for offset in offsets for v in (math.sin(offset), math.cos(offset))]


def _quat_times(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    """Hamilton product ``a * b`` of two quaternions (x, y, z, w): ``b``'s rotation in ``a``'s frame."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by, aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw, aw * bw - ax * bx - ay * by - az * bz])
