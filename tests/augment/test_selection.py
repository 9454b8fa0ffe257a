"""Source selection: each strategy really picks what its name says, from a rng it is given."""

import numpy as np
import pytest

from augment.selection import Candidate, SelectionContext, pose_distance, select_source
from envs.errors import ConfigError
from envs.pose import axis_angle_to_mat, make_pose


def pose(x: float, yaw: float = 0.0) -> np.ndarray:
    return make_pose(np.array([x, 0.0, 0.0]), axis_angle_to_mat(np.array([0.0, 0.0, yaw])))


# Candidate i's object started at x = i/10 and its first target sits at x = 1 - i/10: the nearest
# object and the nearest target are different demos.
CANDIDATES = [Candidate(index=10 + i, object_pose_at_start=pose(i / 10), first_target_pose=pose(1 - i / 10))
              for i in range(6)]


def picks(strategy: str, ctx: SelectionContext, draws: int = 200, **kwargs) -> set[int]:
    rng = np.random.default_rng(0)
    return {select_source(strategy, CANDIDATES, ctx, rng, kwargs) for _ in range(draws)}


def test_nearest_object_picks_the_demo_whose_object_started_closest():
    ctx = SelectionContext(object_pose=pose(0.31), eef_pose=pose(0.0))
    assert picks("nearest_neighbor_object", ctx, nn_k=1) == {13}
    assert picks("nearest_neighbor_object", ctx, nn_k=2) == {13, 14}  # 0.3 and 0.4 are nearest to 0.31
    assert picks("nearest_neighbor_object", ctx) == {12, 13, 14}  # nn_k defaults to 3


def test_nearest_robot_distance_picks_the_demo_whose_first_target_is_closest_to_the_eef():
    ctx = SelectionContext(object_pose=pose(0.31), eef_pose=pose(0.79))
    assert picks("nearest_neighbor_robot_distance", ctx, nn_k=1) == {12}  # its first target: x = 0.8
    assert picks("nearest_neighbor_robot_distance", ctx, nn_k=2) == {12, 13}  # 0.8 and 0.7


def test_rotation_weight_can_decide_the_nearest():
    candidates = [Candidate(0, pose(0.0, yaw=1.0), pose(0.0)), Candidate(1, pose(0.05), pose(0.0))]
    ctx = SelectionContext(object_pose=pose(0.0), eef_pose=pose(0.0))
    rng = np.random.default_rng(0)
    by_rotation = {"nn_k": 1, "pos_weight": 1.0, "rot_weight": 1.0}
    by_position = {"nn_k": 1, "pos_weight": 1.0, "rot_weight": 0.0}
    assert select_source("nearest_neighbor_object", candidates, ctx, rng, by_rotation) == 1
    assert select_source("nearest_neighbor_object", candidates, ctx, rng, by_position) == 0
    assert pose_distance(pose(0.0, yaw=1.0), pose(0.1), 2.0, 0.5) == pytest.approx(2.0 * 0.1 + 0.5 * 1.0)


def test_random_covers_every_candidate_and_follows_the_rng():
    ctx = SelectionContext(object_pose=None, eef_pose=pose(0.0))
    assert picks("random", ctx) == {c.index for c in CANDIDATES}
    first = [select_source("random", CANDIDATES, ctx, np.random.default_rng(7), {}) for _ in range(3)]
    assert len(set(first)) == 1  # the same rng state gives the same pick


def test_unknown_strategy_lists_the_known_ones():
    ctx = SelectionContext(object_pose=None, eef_pose=pose(0.0))
    with pytest.raises(ConfigError, match="unknown selection_strategy 'best'; use one of random, nearest_neighbor"):
        select_source("best", CANDIDATES, ctx, np.random.default_rng(0), {})


def test_nearest_object_compares_each_candidate_with_the_pose_it_sees_the_object_in():
    """A symmetric object (a cube turned a quarter) is seen by each candidate in its own equivalent pose."""
    quarter = np.pi / 2
    candidates = [Candidate(0, pose(0.08, yaw=0.0), pose(0.0), object_pose_now=pose(0.1, yaw=0.0)),
                  Candidate(1, pose(0.0, yaw=quarter), pose(0.0), object_pose_now=pose(0.1, yaw=quarter))]
    ctx = SelectionContext(object_pose=pose(0.1, yaw=quarter), eef_pose=pose(0.0))
    rng = np.random.default_rng(0)
    assert {select_source("nearest_neighbor_object", candidates, ctx, rng, {"nn_k": 1}) for _ in range(20)} == {0}
    plain = [Candidate(c.index, c.object_pose_at_start, c.first_target_pose) for c in candidates]
    assert {select_source("nearest_neighbor_object", plain, ctx, rng, {"nn_k": 1}) for _ in range(20)} == {1}
