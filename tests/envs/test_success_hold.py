"""Success is held, not glimpsed: the task's success must hold for ``success_hold_steps`` consecutive steps
with every robot at rest, in the env (hence generation and evaluation), in recording and in exact restores."""

import numpy as np

from recorder.dataset.tasks import make_env
from recorder.devices.scripted import ScriptedDevice
from recorder.record import reached_success, run_episode

HOLD = np.array([0, 0, 0, 0, 0, 0, -1.0], dtype=np.float32)  # delta_eef: stay, gripper open


def stack_red_on_blue(env, offset_x: float = 0.0) -> None:
    """Put the red cube on the blue one, both at rest (the arm at home, open, far above)."""
    x, y, z = env.object_position("cube_blue")
    env.client.resetBasePositionAndOrientation(env.bodies["cube_red"], [x + offset_x, y, z + 0.05], [0, 0, 0, 1])
    env.client.resetBaseVelocity(env.bodies["cube_red"], [0, 0, 0], [0, 0, 0])


def steps_until_success(env, limit: int, push_at: int | None = None) -> int | None:
    """Hold still; at step ``push_at`` knock the red cube off sideways. The step success came at, or None."""
    for t in range(limit):
        if t == push_at:
            env.client.resetBaseVelocity(env.bodies["cube_red"], [1.5, 0, 0], [0, 0, 0])
        if env.step(HOLD)[4]["success"]:
            return t
    return None


def test_a_stable_end_is_kept_once_held():
    first = {}
    for hold in (1, 5):
        env = make_env("mimicrec/Stack-v0", success_hold_steps=hold)
        try:
            env.reset(seed=0)
            stack_red_on_blue(env)
            first[hold] = steps_until_success(env, 40)
        finally:
            env.close()
    assert first[1] is not None and first[5] == first[1] + 4  # the same end, judged after 5 steps at rest


def test_an_end_that_slides_off_a_step_later_is_rejected():
    glimpse, held = (make_env("mimicrec/Stack-v0", success_hold_steps=n) for n in (1, 5))
    try:
        for env in (glimpse, held):
            env.reset(seed=0)
            stack_red_on_blue(env)
        settle = steps_until_success(glimpse, 40)  # the first frame at which the stack looks solved
        for _ in range(settle):
            held.step(HOLD)
        assert held.step(HOLD)[4]["success"] is False and held._logic()["success"]
        assert steps_until_success(held, 60, push_at=1) is None  # knocked off one step later: never success
    finally:
        glimpse.close()
        held.close()


def test_the_streak_is_part_of_the_exact_state():
    env = make_env("mimicrec/Stack-v0")
    try:
        env.reset(seed=0)
        stack_red_on_blue(env)
        first = steps_until_success(env, 40)
        env.reset(seed=0)
        stack_red_on_blue(env)
        for _ in range(first - 2):
            env.step(HOLD)
        state = env.get_state()
        assert [env.step(HOLD)[4]["success"] for _ in range(3)] == [False, False, True]
        env.reset(seed=7)
        env.set_state(state)  # restored mid-streak: success comes at the same step
        assert [env.step(HOLD)[4]["success"] for _ in range(3)] == [False, False, True]
    finally:
        env.close()


class KnockOffAfterSuccess(ScriptedDevice):
    """The task's action bank; once the task is solved, the next step knocks the top cube away."""

    def step(self, env):  # noqa: D102
        if env.evaluate()["success"]:
            env.client.resetBaseVelocity(env.bodies["cube_red"], [1.5, 0, 0], [0, 0, 0])
        return super().step(env)


def test_steps_after_success_never_save_a_demo_whose_stored_success_is_false():
    env = make_env("mimicrec/Stack-v0")
    try:
        kept = run_episode(env, ScriptedDevice("mimicrec/Stack-v0"), 0, 250, steps_after_success=10).episode
        lost = run_episode(env, KnockOffAfterSuccess("mimicrec/Stack-v0"), 0, 250, steps_after_success=10).episode
    finally:
        env.close()
    assert reached_success(kept) and kept.successes[-1]
    assert lost.successes.any() and not lost.successes[-1] and not reached_success(lost)
