"""Every per-subtask and generation knob of mimic.yaml changes an attempt exactly as documented.

Attempts are run directly (``run_attempt``) on the session's annotated StackThree seeds with
``random`` selection and, where a knob changes a subtask's length, no action noise, so the random
stream, and with it the source segments, do not depend on the knob being varied: the per-subtask
step counts then differ by exactly what the knob adds.
"""

from dataclasses import replace

import numpy as np
import pytest

from augment.generator import run_attempt
from augment.source import load_sources
from augment.spec import load_mimic_spec, with_seed
from augment.waypoints import WaypointSequence, with_settle_steps

TASK = "mimicrec/StackThree-v0"
ATTEMPT = 1


@pytest.fixture(scope="module")
def sources(annotated):
    return load_sources(annotated)


@pytest.fixture(scope="module")
def base_spec():
    spec = with_seed(load_mimic_spec(env_id=TASK), 3)
    eef = spec.eefs["robot0"]
    subtasks = tuple(replace(s, selection_strategy="random", selection_strategy_kwargs={}) for s in eef.subtasks)
    return replace(spec, eefs={"robot0": replace(eef, subtasks=subtasks)})


@pytest.fixture(scope="module")
def quiet_spec(base_spec):
    """``base_spec`` without action noise: no draw then depends on a subtask's length (a longer subtask
    would otherwise shift the stream that picks the next subtask's source, ``select_src_per_subtask``)."""
    return with_subtasks(base_spec, action_noise=0.0)


def with_subtasks(spec, **changes):
    eef = spec.eefs["robot0"]
    return replace(spec, eefs={"robot0": replace(eef, subtasks=tuple(replace(s, **changes) for s in eef.subtasks))})


def with_generation(spec, **changes):
    return replace(spec, generation=replace(spec.generation, **changes))


def attempt(env, sources, spec, index=ATTEMPT):
    return run_attempt(env, sources, spec, index)


def steps_per_subtask(result, num_subtasks=4):
    labels = result.episode.extras["subtask_index"]
    return np.array([(labels == k).sum() for k in range(num_subtasks - 1)])  # the last one also holds at rest


def test_interpolation_and_fixed_steps_lengthen_every_subtask(env, sources, quiet_spec):
    base = steps_per_subtask(attempt(env, sources, quiet_spec))
    more_interp = steps_per_subtask(attempt(env, sources, with_subtasks(quiet_spec, num_interpolation_steps=8)))
    fixed = steps_per_subtask(attempt(env, sources, with_subtasks(quiet_spec, num_fixed_steps=4)))
    np.testing.assert_array_equal(more_interp - base, 3)
    np.testing.assert_array_equal(fixed - base, 4)


def test_settle_steps_hold_before_each_gripper_change(env, sources, base_spec):
    base = attempt(env, sources, base_spec)
    settled = attempt(env, sources, with_subtasks(base_spec, num_settle_steps_before_gripper=4))
    labels, grip = base.episode.extras["subtask_index"], np.sign(base.episode.actions[:, -1])
    flips = [int(np.sum((grip[1:] != grip[:-1]) & (labels[1:] == k) & (labels[:-1] == k))) for k in range(3)]
    assert sum(flips) >= 2  # grasps and releases happen inside the segments
    np.testing.assert_array_equal(steps_per_subtask(settled) - steps_per_subtask(base), 4 * np.array(flips))


def test_with_settle_steps_inserts_noise_free_holds():
    poses = np.repeat(np.eye(4)[None], 5, axis=0)
    poses[:, 0, 3] = np.arange(5)
    grippers = np.array([[-1.0], [-1.0], [1.0], [1.0], [-1.0]])
    seq = with_settle_steps(WaypointSequence(poses, grippers, np.ones(5, dtype=bool)), 2)
    assert seq.poses[:, 0, 3].tolist() == [0, 1, 1, 1, 2, 3, 3, 3, 4]
    assert seq.grippers[:, 0].tolist() == [-1, -1, -1, -1, 1, 1, 1, 1, -1]
    assert seq.noisy.tolist() == [True, True, False, False, True, True, False, False, True]


def test_term_offsets_move_the_boundaries(env, sources, quiet_spec):
    def offsets(low):  # same width, so the same random draws: every offset moves by exactly the low change
        subs = quiet_spec.eefs["robot0"].subtasks
        subs = (*(replace(s, term_offset_range=(low, low + 2)) for s in subs[:-1]), subs[-1])
        return replace(quiet_spec, eefs={"robot0": replace(quiet_spec.eefs["robot0"], subtasks=subs)})

    a = steps_per_subtask(attempt(env, sources, offsets(0)))
    b = steps_per_subtask(attempt(env, sources, offsets(5)))
    assert (b - a).tolist() == [5, 0, 0]


def test_transform_first_robot_pose_adds_the_measured_pose_to_later_segments(env, sources, quiet_spec):
    base = steps_per_subtask(attempt(env, sources, quiet_spec))
    first = steps_per_subtask(attempt(env, sources, with_generation(quiet_spec, transform_first_robot_pose=True)))
    assert (first - base).tolist() == [0, 1, 1]


def test_select_source_per_subtask(env, sources, base_spec):
    single = with_generation(base_spec, select_src_per_subtask=False)
    once = [attempt(env, sources, single, i).episode.attrs["src_demo_inds"] for i in range(3)]
    assert all(len(set(inds.tolist())) == 1 for inds in once)
    per = with_generation(base_spec, select_src_per_subtask=True)
    chosen = [attempt(env, sources, per, i).episode.attrs["src_demo_inds"] for i in range(3)]
    assert any(len(set(inds.tolist())) > 1 for inds in chosen)


def test_interpolate_from_last_target_pose_changes_only_the_bridges(env, sources, base_spec):
    quiet = with_subtasks(base_spec, action_noise=0.0)
    a = attempt(env, sources, quiet)
    b = attempt(env, sources, with_generation(quiet, interpolate_from_last_target_pose=False))
    np.testing.assert_array_equal(steps_per_subtask(a), steps_per_subtask(b))
    start_1 = int(np.argmax(a.episode.extras["subtask_index"] == 1))
    np.testing.assert_array_equal(a.episode.actions[:start_1], b.episode.actions[:start_1])
    assert not np.array_equal(a.episode.actions[start_1], b.episode.actions[start_1])


def test_action_noise_and_noise_during_interpolation(env, sources, base_spec):
    quiet = attempt(env, sources, with_subtasks(base_spec, action_noise=0.0)).episode.actions
    noisy = attempt(env, sources, base_spec).episode.actions
    interp = attempt(env, sources, with_subtasks(base_spec, apply_noise_during_interpolation=True)).episode.actions
    bridge = base_spec.eefs["robot0"].subtasks[0].num_interpolation_steps
    np.testing.assert_array_equal(quiet[:bridge], noisy[:bridge])  # the first bridge is noise-free by default
    assert not np.array_equal(quiet[bridge:bridge + 3], noisy[bridge:bridge + 3])
    assert not np.array_equal(quiet[:bridge], interp[:bridge])


def test_held_object_correction_makes_the_object_not_the_hand_follow_the_source():
    from augment.waypoints import held_object_correction
    from envs.pose import axis_angle_to_mat, make_pose

    rng = np.random.default_rng(0)

    def pose() -> np.ndarray:
        return make_pose(rng.normal(size=3) * 0.1, axis_angle_to_mat(rng.normal(size=3) * 0.3))

    eef_src, held_src, eef_now = pose(), pose(), pose()
    np.testing.assert_allclose(held_object_correction(eef_src, held_src, eef_now, eef_now @ np.linalg.inv(eef_src)
                                                      @ held_src), np.eye(4), atol=1e-12)  # same grip: no change
    held_now, target = pose(), pose()
    corrected = target @ held_object_correction(eef_src, held_src, eef_now, held_now)
    grip_now, grip_src = np.linalg.inv(eef_now) @ held_now, np.linalg.inv(eef_src) @ held_src
    np.testing.assert_allclose(corrected @ grip_now, target @ grip_src, atol=1e-12)  # the object lands as in the source


def test_object_names_in_the_spec_must_be_the_tasks(annotated, tmp_path):
    import yaml

    import envs
    from augment.runner import GenerateOptions, generate
    from envs.errors import ConfigError

    spec = yaml.safe_load(envs.task_config_file("mimicrec/StackThree-v0", "mimic").read_text())
    spec["eefs"]["robot0"]["subtasks"][1]["held_object_ref"] = "peg"
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    refused = r"subtasks\[1\]\.held_object_ref 'peg' is not an object of mimicrec/StackThree-v0"
    with pytest.raises(ConfigError, match=refused):
        generate(GenerateOptions(str(annotated), 1, out=str(tmp_path / "g"), config=str(tmp_path / "spec.yaml")))
