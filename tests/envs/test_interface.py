"""Every task meets the typed interface the recorder and the generator use (``envs.interface``)."""

import numpy as np
import pytest

import envs
from envs.interface import MimicEnv, TaskEnv
from recorder.dataset.tasks import make_env


@pytest.mark.parametrize("task", sorted(envs.TASKS))
def test_every_task_is_a_mimic_env(task):
    env = make_env(task)
    try:
        assert isinstance(env, TaskEnv) and isinstance(env, MimicEnv)
        obs, _ = env.reset(seed=0)
        again = env.observe()  # the observation without stepping: what reset returned
        assert obs.keys() == again.keys() and all(np.array_equal(obs[k], again[k]) for k in obs)
        assert env.viewer_open
    finally:
        env.close()
    assert not env.viewer_open


def test_an_object_missing_a_mimic_method_is_no_mimic_env():
    class OnlyRecords:
        config = control_freq = camera_specs = action_mode = gui = action_space = success_hold_steps = None
        env_kwargs = eef_names = viewer_open = None

        def reset(self, *, seed=None, options=None): ...
        def step(self, action): ...
        def evaluate(self): ...
        def observe(self): ...
        def get_state(self): ...
        def set_state(self, state): ...
        def get_flat_state(self): ...
        def show_flat_state(self, flat): ...
        def show_text_lines(self, lines): ...
        def render_camera(self, width, height, name="agentview"): ...
        def close(self): ...

    assert isinstance(OnlyRecords(), TaskEnv) and not isinstance(OnlyRecords(), MimicEnv)
