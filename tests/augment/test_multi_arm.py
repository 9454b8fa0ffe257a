"""Generation with two end effectors (BimanualLift): per-arm subtasks, sequential and coordination constraints."""

from dataclasses import replace

import h5py
import numpy as np
import pytest

from augment.constraints import coordination_delta
from augment.generator import run_attempt
from augment.runner import GenerateOptions, generate
from augment.source import load_sources
from augment.spec import ConstraintSpec, load_mimic_spec, with_seed
from envs.errors import ConfigError
from envs.pose import axis_angle_to_mat, make_pose
from recorder.dataset.replay import replay

TASK = "mimicrec/BimanualLift-v0"


@pytest.fixture(scope="module")
def bimanual(tmp_path_factory):
    """Three scripted BimanualLift demos, annotated (path)."""
    from augment.annotate import annotate
    from recorder.record import RecordOptions, record

    root = tmp_path_factory.mktemp("bimanual")
    rec = record(RecordOptions(TASK, 3, seed=0, out=str(root / "rec")))
    annotate(str(rec.hdf5_path), str(root / "ann.hdf5"))
    return root / "ann.hdf5"


@pytest.fixture(scope="module")
def bienv():
    from recorder.dataset.tasks import make_env

    env = make_env(TASK)
    yield env
    env.close()


def spec_with(constraints):
    return replace(with_seed(load_mimic_spec(env_id=TASK), 4), constraints=tuple(constraints))


def lift_heights(result, arm, series="eef_pose"):
    """``arm``'s end-effector (or target) heights from the step it began its lift subtask, and that step."""
    z = getattr(result.episode.datagen_info, series)[f"robot{arm}"][:, 2, 3]
    began = int(np.argmax(result.episode.extras["subtask_index"][:, arm] == 1))
    return z[began:], began


def lift_start(result, arm):
    """First step at which ``arm``'s end effector is 1 cm above where it began its lift subtask."""
    z, began = lift_heights(result, arm)
    return began + int(np.argmax(z > z[0] + 0.01))


def lift_end(result, arm, series="eef_pose"):
    """First step of the lift at which ``arm``'s end effector (or target) is within 5 mm of its highest point."""
    z, began = lift_heights(result, arm, series)
    return began + int(np.argmax(z > z.max() - 0.005))


def test_default_bimanual_spec_generates_demos_that_replay(bimanual, tmp_path):
    rep = generate(GenerateOptions(str(bimanual), 3, num_envs=1, seed=0, out=str(tmp_path / "g")))
    assert rep.num_successes == 3
    with h5py.File(tmp_path / "g" / "generated.hdf5", "r") as f:
        demo = f["data/demo_0"]
        assert demo["subtask_index"].shape == (len(demo["actions"]), 2) and demo["actions"].shape[1] == 14
        assert demo["subtask_index"][-1].tolist() == [1, 1]
        assert len(demo.attrs["src_demo_inds_robot0"]) == 2 and len(demo.attrs["src_demo_inds_robot1"]) == 2
    assert all(r.replay_success and r.states_identical for r in replay(str(tmp_path / "g" / "generated.hdf5")))


def test_sequential_constraint_holds_the_later_subtask(bimanual, bienv):
    sources = load_sources(bimanual)
    free = run_attempt(bienv, sources, spec_with([]), 0)
    waits = run_attempt(bienv, sources, spec_with([ConstraintSpec("sequential", (("robot0", 1), ("robot1", 1)))]), 0)
    assert lift_start(free, 1) < lift_end(free, 0)  # unconstrained, both lift together
    assert lift_start(waits, 1) >= lift_end(waits, 0)  # robot1 starts lifting only once robot0 has finished


def test_sequential_min_time_diff_lets_the_later_subtask_run_ahead(bimanual, bienv):
    sources = load_sources(bimanual)
    strict = ConstraintSpec("sequential", (("robot0", 1), ("robot1", 1)))
    early = replace(strict, min_time_diff=3)
    a = run_attempt(bienv, sources, spec_with([strict]), 0)
    b = run_attempt(bienv, sources, spec_with([early]), 0)
    assert lift_start(b, 1) < lift_start(a, 1)


def test_coordination_shares_source_and_runs_in_lockstep(bimanual, bienv):
    sources = load_sources(bimanual)
    coordinated = ConstraintSpec("coordination", (("robot0", 1), ("robot1", 1)), coordination_scheme="transform",
                                 coordination_synchronize_start=True)
    for index in range(3):
        result = run_attempt(bienv, sources, spec_with([coordinated]), index)
        attrs = result.episode.attrs
        assert attrs["src_demo_inds_robot0"][1] == attrs["src_demo_inds_robot1"][1]
        assert abs(lift_start(result, 0) - lift_start(result, 1)) <= 1
        # each arm's lift segment of the shared source demo ends at its own annotated step (0.1 s apart at most)
        assert abs(lift_end(result, 0, "target_eef_pose") - lift_end(result, 1, "target_eef_pose")) <= 2


def test_coordination_delta_schemes_and_noise():
    rng = np.random.default_rng(0)
    src = make_pose(np.array([0.5, 0.0, 0.6]), np.eye(3))
    now = make_pose(np.array([0.6, 0.1, 0.6]), axis_angle_to_mat(np.array([0.0, 0.0, 0.4])))
    base = ConstraintSpec("coordination", (("robot0", 1), ("robot1", 1)))
    np.testing.assert_allclose(coordination_delta(base, src, now, rng), np.eye(4))
    np.testing.assert_allclose(coordination_delta(replace(base, coordination_scheme="transform"), src, now, rng) @ src,
                               now, atol=1e-12)
    moved = coordination_delta(replace(base, coordination_scheme="translate"), src, now, rng)
    np.testing.assert_allclose(moved[:3, :3], np.eye(3))
    np.testing.assert_allclose(moved[:3, 3], [0.1, 0.1, 0.0], atol=1e-12)
    noisy = [coordination_delta(replace(base, coordination_scheme_pos_noise_scale=0.01), src, now, rng)[:3, 3]
             for _ in range(400)]
    assert 0.008 < np.std(noisy) < 0.012


def test_spec_whose_arms_do_not_match_the_task_is_refused(bimanual, tmp_path):
    config = tmp_path / "one_arm.yaml"
    import yaml

    import envs

    data = yaml.safe_load(open(envs.task_config_file(TASK, "mimic")))
    del data["eefs"]["robot1"]
    data["constraints"] = []
    config.write_text(yaml.safe_dump(data))
    refused = rf"the spec's eefs \['robot0'\] are not those of {TASK} \['robot0', 'robot1'\]"
    with pytest.raises(ConfigError, match=refused):
        generate(GenerateOptions(str(bimanual), 1, out=str(tmp_path / "g"), config=str(config)))
    assert not (tmp_path / "g").exists()
