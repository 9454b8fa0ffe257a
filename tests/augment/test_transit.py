"""Planned transit (``transit: plan``): collision-free in the real simulation step by step, deterministic,
around the other arm, configurable, and reported.

StackWall's D1 puts the red cube behind a 12 cm wall from the blue one; seeds are recorded at D0 (both
cubes in front of it), so every generated D1 demo must carry the red cube across the wall.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from augment.generator import run_attempt
from augment.source import load_sources
from augment.spec import PlannerSettings, load_mimic_spec, with_seed, with_transit
from augment.transit import CollisionCheck, plan_transit, straight_collides
from envs.errors import ConfigError
from envs.pose import interpolate_poses
from recorder.cli import main
from recorder.dataset.tasks import make_env, variant_env_kwargs

TASK = "mimicrec/StackWall-v0"


@pytest.fixture(scope="module")
def wall_seeds(tmp_path_factory):
    """Three scripted StackWall seeds at D0, annotated (path to the HDF5)."""
    from augment.annotate import annotate
    from recorder.record import RecordOptions, record

    rec = record(RecordOptions(TASK, num_demos=3, seed=0, out=str(tmp_path_factory.mktemp("wall") / "run")))
    out = rec.hdf5_path.parent / "annotated.hdf5"
    annotate(str(rec.hdf5_path), str(out))
    return load_sources(str(out))


@pytest.fixture(scope="module")
def wall_env(wall_seeds):
    """A StackWall env at D1 built from the seeds' stored task, with a check after every step of whether a
    robot or the red cube touches the wall (``env.wall_contacts``: one bool per step)."""
    kwargs = variant_env_kwargs(wall_seeds.env_id, wall_seeds.env_kwargs, None, "D1", {})
    env = make_env(wall_seeds.env_id, **kwargs)
    env.wall_contacts = []
    step = env.step

    def step_and_check(action):
        out = step(action)
        env.wall_contacts.append(env.robot_touches("wall") or env.in_contact("cube_red", "wall"))
        return out

    env.step = step_and_check
    yield env
    env.close()


def spec_with(transit: str, seed: int = 3):
    return with_transit(with_seed(load_mimic_spec(None, TASK), seed), transit)


@pytest.mark.slow
def test_planned_transit_never_touches_the_wall_where_interpolation_drives_through_it(wall_env, wall_seeds):
    results = {}
    for transit in ("interpolate", "plan"):
        results[transit] = []
        for index in range(4):
            wall_env.wall_contacts.clear()
            result = run_attempt(wall_env, wall_seeds, spec_with(transit), index)
            results[transit].append((result.success, any(wall_env.wall_contacts), result.num_plans))
    assert all(success and not touched and plans == 2 for success, touched, plans in results["plan"]), results
    assert sum(touched for _, touched, _ in results["interpolate"]) >= 2, results
    assert all(plans == 0 for _, _, plans in results["interpolate"])


@pytest.mark.slow
def test_auto_plans_only_where_the_straight_bridge_would_collide(wall_env, wall_seeds):
    plans = []
    for index in range(4):  # D1: the red cube behind the wall (interpolation touches it in most attempts)
        wall_env.wall_contacts.clear()
        result = run_attempt(wall_env, wall_seeds, spec_with("auto"), index)
        assert result.success and not any(wall_env.wall_contacts) and result.planning_s > 0, index
        plans.append(result.num_plans)
    assert 0 < sum(plans) < 2 * len(plans), plans  # planned where needed, not every transit as `plan` does
    at_d0 = make_env(wall_seeds.env_id, **wall_seeds.env_kwargs)  # both cubes in front of the wall
    try:
        auto, straight = (run_attempt(at_d0, wall_seeds, spec_with(transit), 0) for transit in ("auto", "interpolate"))
    finally:
        at_d0.close()
    assert auto.num_plans == 0 and auto.planning_s > 0  # checked, nothing to plan around: the straight data
    assert np.array_equal(auto.episode.actions, straight.episode.actions)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_planned_data(wall_env, wall_seeds):
    first = run_attempt(wall_env, wall_seeds, spec_with("plan"), 1)
    again = run_attempt(wall_env, wall_seeds, spec_with("plan"), 1)
    other = make_env(wall_seeds.env_id, **wall_env.env_kwargs)  # a fresh env and collision copy
    try:
        fresh = run_attempt(other, wall_seeds, spec_with("plan"), 1)
    finally:
        other.close()
    for result in (again, fresh):
        assert np.array_equal(result.episode.actions, first.episode.actions)
        assert np.array_equal(result.episode.states, first.episode.states)
    assert first.planning_s > 0 and first.num_plans == 2 and first.num_plans_failed == 0


def test_a_plan_keeps_its_margin_and_leaves_the_simulation_untouched(wall_env):
    wall_env.reset(seed=5)
    state = wall_env.get_state()
    world = wall_env.collision_world()
    world.sync()
    poses = wall_env.get_object_poses()
    start = world.arm_qpos(0)
    goal_pose = wall_env.get_robot_eef_pose().copy()  # across the wall, 4 cm above the table
    goal_pose[:3, 3] = poses["cube_blue"][:3, 3] + [0.0, 0.0, 0.04]
    first = plan_transit(world, 0, goal_pose, (), PlannerSettings(), seed=11)
    again = plan_transit(world, 0, goal_pose, (), PlannerSettings(), seed=11)
    assert first.poses is not None and np.array_equal(first.qpos, again.qpos)
    assert np.allclose(world.arm_qpos(0), start)  # the copy's arm is put back
    check = CollisionCheck(world, 0, [], PlannerSettings(margin=0.009), (start, first.qpos[-1]))
    assert not any(check(q) for q in first.qpos)  # every control step clear of the scene by ~1 cm
    assert np.linalg.norm(first.poses[-1][:3, 3] - goal_pose[:3, 3]) < 2e-3
    steps = np.linalg.norm(np.diff(first.poses[:, :3, 3], axis=0), axis=1)
    assert steps.max() <= PlannerSettings().step_m + 1e-6
    assert np.array_equal(wall_env.get_state(), state)  # planning never touches the simulation


def test_a_straight_bridge_is_checked_against_the_wall_and_the_copy_is_put_back(wall_env):
    wall_env.reset(seed=5)
    world = wall_env.collision_world()
    world.sync()
    poses, hand = wall_env.get_object_poses(), wall_env.get_robot_eef_pose()
    above_red, above_blue, higher = hand.copy(), hand.copy(), hand.copy()
    above_red[:3, 3] = poses["cube_red"][:3, 3] + [0.0, 0.0, 0.04]
    above_blue[:3, 3] = poses["cube_blue"][:3, 3] + [0.0, 0.0, 0.04]
    higher[:3, 3] = above_red[:3, 3] + [0.0, 0.0, 0.1]
    world.set_arm(0, world.solve_ik_along(0, above_red, world.arm_qpos(0)))
    start = world.arm_qpos(0)

    def line(a, b):
        return np.concatenate([interpolate_poses(a, b, 5), b[None]])

    assert straight_collides(world, 0, line(above_red, above_blue), (), PlannerSettings())  # through the wall
    assert np.allclose(world.arm_qpos(0), start)
    assert not straight_collides(world, 0, line(above_red, higher), (), PlannerSettings())  # straight up
    assert np.allclose(world.arm_qpos(0), start)


def test_the_other_arm_is_an_obstacle(make_task_env):
    env = make_task_env("mimicrec/BimanualLift-v0")
    env.reset(seed=0)
    world = env.collision_world()
    world.sync()
    start = world.arm_qpos(0)
    meet = env.get_robot_eef_pose("robot0").copy()
    meet[:3, 3] = [0.5, 0.0, 0.8]  # between the two arms
    there = world.solve_ik(0, meet, start)
    check = CollisionCheck(world, 0, [], PlannerSettings(), (start, start))
    assert check.blocked_end == "" and not check(there)  # free while robot1 is at home
    world.set_arm(1, world.solve_ik(1, meet, world.arm_qpos(1)))
    assert check(there)  # robot1's hand there: robot0 may not go
    world.set_arm(0, start)
    plan = plan_transit(world, 0, meet, (), PlannerSettings(), seed=0)
    assert plan.poses is None and plan.reason == "the goal is in collision"


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(transit="fly"), "transit 'fly' is unknown"),
    (lambda d: d.update(planner={"step_m": 0}), "planner.step_m must be > 0"),
    (lambda d: d.update(planner={"max_iterations": 0}), "planner.max_iterations must be > 0"),
    (lambda d: d.update(planner={"straight_margin": -0.01}), "straight_margin must be >= 0"),
    (lambda d: d["eefs"]["robot0"]["subtasks"][0].update(transit="around"), "use one of interpolate, plan, auto"),
    (lambda d: d.update(planner={"margins": 0.1}), "margins"),
])
def test_a_bad_transit_setting_is_a_clear_error(tmp_path, mutate, message):
    import yaml

    import envs

    data = yaml.safe_load(envs.task_config_file(TASK, "mimic").read_text())
    mutate(data)
    path = tmp_path / "mimic.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message):
        load_mimic_spec(path)


@pytest.mark.slow
def test_generate_transit_flag_is_kept_and_planning_time_is_reported(wall_seeds, tmp_path):
    out = tmp_path / "gen"
    assert main(["generate", str(wall_seeds.path), "--num-trials", "2", "--num-envs", "1",  # D0: no wall between
                 "--transit", "interpolate", "--no-guarantee", "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["num_plans"] == 0 and report["planning_time_s"] == 0.0
    assert {sub["transit"] for sub in report["spec"]["eefs"]["robot0"]["subtasks"]} == {"interpolate"}
    assert json.loads((out / "run.json").read_text())["transit"] == "interpolate"  # --resume keeps it
    planned = tmp_path / "planned"
    assert main(["generate", str(wall_seeds.path), "--num-trials", "1", "--num-envs", "1", "--difficulty", "D1",
                 "--no-guarantee", "--out", str(planned), "--quiet"]) == 0  # StackWall's spec plans by default
    report = json.loads((planned / "report.json").read_text())
    assert report["num_plans"] == 2 and report["planning_s_per_attempt"] > 0
    assert report["max_planning_s"] >= report["planning_s_per_attempt"]


@pytest.mark.slow
def test_two_arms_plan_around_each_other(tmp_path):
    from augment.annotate import annotate
    from recorder.record import RecordOptions, record

    rec = record(RecordOptions("mimicrec/BimanualLift-v0", num_demos=2, seed=0, out=str(tmp_path / "run")))
    annotate(str(rec.hdf5_path), str(tmp_path / "annotated.hdf5"))
    sources = load_sources(str(tmp_path / "annotated.hdf5"))
    env = make_env(sources.env_id, **sources.env_kwargs)
    try:
        touches = []
        step = env.step

        def step_and_check(action):
            out = step(action)
            touches.append(bool(env.client.getContactPoints(env.robots[0].body, env.robots[1].body)))
            return out

        env.step = step_and_check
        spec = with_transit(with_seed(load_mimic_spec(None, sources.env_id), 0), "plan")
        results = [run_attempt(env, sources, spec, index) for index in range(2)]
    finally:
        env.close()
    assert all(r.success for r in results) and not any(touches)
    assert all(r.num_plans == 4 and r.num_plans_failed <= 2 for r in results)  # each arm: approach, lift


def test_a_plans_goal_is_where_the_controller_ends_along_the_straight_line(make_task_env):
    from envs.pose import axis_angle_to_mat, make_pose

    env = make_task_env("mimicrec/Stack-v0")
    for seed, yaw in [(0, 2.5), (1, -2.5), (2, 1.5), (3, 3.0)]:  # large turns: one IK solve may land elsewhere
        env.reset(seed=seed)
        world = env.collision_world()
        world.sync()
        hand = env.get_robot_eef_pose()
        goal = make_pose(hand[:3, 3] + [0.1, -0.15, -0.05], axis_angle_to_mat(np.array([0.0, 0.0, yaw])) @ hand[:3, :3])
        along = world.solve_ik_along(0, goal, world.arm_qpos(0))
        for pose in [*interpolate_poses(hand, goal, 30), *[goal] * 30]:  # the env's controller on the same line
            env.step(env.target_eef_pose_to_action(pose, np.array([-1.0])))
        assert np.linalg.norm(world.eef_pose(0, along)[:3, 3] - goal[:3, 3]) < 1e-3
        assert np.abs(along - env.robot.arm_qpos()).max() < 0.07, seed
