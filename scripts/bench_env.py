"""Env speed, measured as ratios in one run: env.step vs a bare pybullet loop, and 2 processes vs 1.

The bare loop steps the same scene (Panda + table + cubes) the same number of substeps per control
step, setting joint targets once per control step, with no IK, observations or task logic.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder.experts import make_expert  # noqa: E402
from recorder.tasks import make_env  # noqa: E402

TASK = "mimicrec/StackThree-v0"
CONTROL_STEPS = 600


def env_steps_per_s(n: int = CONTROL_STEPS) -> float:
    """Control steps per second of the full env driven by its scripted expert."""
    env = make_env(TASK).unwrapped
    done, seed, start = 0, 0, time.perf_counter()
    while done < n:
        env.reset(seed=seed)
        expert = make_expert(TASK, env)
        for _ in range(min(150, n - done)):
            env.step(expert.act())
            done += 1
        seed += 1
    rate = n / (time.perf_counter() - start)
    env.close()
    return rate


def bare_steps_per_s(n: int = CONTROL_STEPS) -> float:
    """Control steps per second of a bare pybullet loop over the same scene and substeps."""
    env = make_env(TASK).unwrapped
    env.reset(seed=0)
    client, robot = env.client, env.robot
    start = time.perf_counter()
    for t in range(n):
        robot.command_joints(np.asarray(robot.arm_qpos()) + 0.001 * np.sin(t / 10))
        for _ in range(env.substeps):
            client.stepSimulation()
    rate = n / (time.perf_counter() - start)
    env.close()
    return rate


def _worker(_: int) -> float:
    return env_steps_per_s()


def main() -> None:
    bare, full = bare_steps_per_s(), env_steps_per_s()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        start = time.perf_counter()
        pool.map(_worker, range(2))
        two = 2 * CONTROL_STEPS / (time.perf_counter() - start)
    start = time.perf_counter()
    env_steps_per_s()
    one = CONTROL_STEPS / (time.perf_counter() - start)
    print(f"bare pybullet loop      : {bare:8.1f} control steps/s")
    print(f"env.step (state only)   : {full:8.1f} control steps/s")
    print(f"env overhead vs bare    : {bare / full:8.2f}x (time ratio)")
    print(f"2 processes vs 1        : {two / one:8.2f}x (throughput ratio, incl. env build)")


if __name__ == "__main__":
    main()
