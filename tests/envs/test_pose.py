import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from envs import pose

RNG = np.random.default_rng(0)
ROTS = Rotation.random(64, random_state=1)


def test_quat_to_mat_matches_scipy():
    np.testing.assert_allclose(pose.quat_to_mat(ROTS.as_quat()), ROTS.as_matrix(), atol=1e-12)


def test_mat_to_quat_matches_scipy_up_to_sign():
    ours = pose.mat_to_quat(ROTS.as_matrix())
    ref = ROTS.as_quat()
    ref = ref * np.where(ref[:, 3:4] < 0, -1, 1)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    assert np.all(ours[:, 3] >= 0)


@pytest.mark.parametrize("angle", [0.0, 1e-9, 0.3, np.pi - 1e-6, np.pi])
def test_axis_angle_round_trip_and_scipy(angle):
    axis = RNG.normal(size=3)
    rotvec = axis / np.linalg.norm(axis) * angle
    mat = pose.axis_angle_to_mat(rotvec)
    np.testing.assert_allclose(mat, Rotation.from_rotvec(rotvec).as_matrix(), atol=1e-9)
    back = pose.axis_angle_to_mat(pose.mat_to_axis_angle(mat))
    np.testing.assert_allclose(back, mat, atol=1e-6)


def test_mat_to_axis_angle_matches_scipy_batch():
    ours = pose.mat_to_axis_angle(ROTS.as_matrix())
    np.testing.assert_allclose(pose.axis_angle_to_mat(ours), ROTS.as_matrix(), atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), ROTS.magnitude(), atol=1e-9)


def test_pose_inverse_and_transform():
    poses = pose.make_pose(RNG.normal(size=(64, 3)), ROTS.as_matrix())
    np.testing.assert_allclose(poses @ pose.pose_inv(poses), np.broadcast_to(np.eye(4), poses.shape), atol=1e-12)
    frame_src, frame_new = poses[0], poses[1]
    moved = pose.transform_poses_to_new_frame(poses[2:], frame_src, frame_new)
    # relative pose to the frame is preserved
    np.testing.assert_allclose(pose.pose_inv(frame_new) @ moved, pose.pose_inv(frame_src) @ poses[2:], atol=1e-10)


def test_interpolate_poses_is_evenly_spaced_geodesic():
    start = pose.make_pose(np.zeros(3), np.eye(3))
    end = pose.make_pose(np.array([0.4, 0.0, 0.0]), Rotation.from_euler("z", 0.8).as_matrix())
    mids = pose.interpolate_poses(start, end, 3)
    assert mids.shape == (3, 4, 4)
    np.testing.assert_allclose(mids[:, 0, 3], [0.1, 0.2, 0.3])
    yaws = Rotation.from_matrix(mids[:, :3, :3]).as_euler("xyz")[:, 2]
    np.testing.assert_allclose(yaws, [0.2, 0.4, 0.6], atol=1e-12)


def test_rotation_angle_between():
    a, b = ROTS[:10].as_matrix(), ROTS[10:20].as_matrix()
    expected = (ROTS[:10].inv() * ROTS[10:20]).magnitude()
    np.testing.assert_allclose(pose.rotation_angle_between(a, b), expected, atol=1e-7)


@pytest.mark.parametrize("yaw", [-3.0, -0.7, 0.0, 0.4, 2.9])
def test_yaw_quat_and_yaw_of_match_scipy(yaw):
    np.testing.assert_allclose(pose.yaw_quat(yaw), Rotation.from_euler("z", yaw).as_quat(), atol=1e-12)
    rot = Rotation.from_euler("z", yaw).as_matrix() @ np.diag([1.0, -1.0, -1.0])  # gripper down, turned by yaw
    assert pose.yaw_of(rot) == pytest.approx(yaw)


def test_wrap_angle_folds_into_half_open_period():
    assert pose.wrap_angle(np.pi / 2 + 0.1, np.pi / 2) == pytest.approx(0.1)
    assert pose.wrap_angle(-np.pi / 4, np.pi / 2) == pytest.approx(-np.pi / 4)
    assert pose.wrap_angle(np.pi / 4, np.pi / 2) == pytest.approx(-np.pi / 4)
    assert pose.wrap_angle(3.0, np.pi) == pytest.approx(3.0 - np.pi)


def test_nearest_symmetric_pose_turns_about_the_objects_own_z_to_the_reference():
    rng = np.random.default_rng(4)
    tilt = Rotation.from_euler("x", 0.3).as_matrix()  # an object lying tilted: its own z is not the world's
    for _ in range(20):
        yaw, ref_yaw = rng.uniform(-np.pi, np.pi, 2)
        obj = pose.make_pose(rng.uniform(-1, 1, 3), tilt @ Rotation.from_euler("z", yaw).as_matrix())
        ref = pose.make_pose(np.zeros(3), tilt @ Rotation.from_euler("z", ref_yaw).as_matrix())
        seen = pose.nearest_symmetric_pose(obj, ref, np.pi / 2)
        turn = pose.mat_to_axis_angle(obj[:3, :3].T @ seen[:3, :3])  # in the object's own frame
        assert np.allclose(seen[:3, 3], obj[:3, 3]) and np.allclose(turn[:2], 0, atol=1e-9)
        assert np.isclose(np.remainder(turn[2] + 1e-9, np.pi / 2), 0, atol=1e-6) or np.isclose(
            np.remainder(turn[2], np.pi / 2), np.pi / 2, atol=1e-6)  # a whole number of quarter turns
        assert pose.rotation_angle_between(seen[:3, :3], ref[:3, :3]) <= np.pi / 4 + 1e-9
    obj = pose.make_pose(np.ones(3), Rotation.from_euler("z", 2.0).as_matrix())
    assert pose.nearest_symmetric_pose(obj, np.eye(4), 0.0) is obj  # no symmetry: the pose itself
    assert pose.nearest_symmetric_pose(obj, obj, np.pi / 2) is obj  # already nearest: itself, bit for bit


def test_one_pose_from_plain_floats_is_bit_identical_to_the_batched_form():
    rng = np.random.default_rng(0)
    pos, quat = rng.normal(size=(50, 3)), rng.normal(size=(50, 4))  # not normalized: both normalize
    batched = pose.pose_from_pos_quat(pos, quat)
    for i in range(50):
        from_tuples = pose.pose_from_pos_quat(tuple(pos[i].tolist()), tuple(quat[i].tolist()))
        assert np.array_equal(from_tuples, pose.pose_from_pos_quat(pos[i], quat[i]))
        assert np.array_equal(from_tuples, pose.make_pose(pos[i], pose.quat_to_mat(quat[i])))
        assert np.allclose(from_tuples, batched[i], atol=1e-15)
    assert np.array_equal(pose.make_pose(pos, pose.quat_to_mat(quat)), batched)
