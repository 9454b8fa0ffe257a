"""Exactness probe: how often a restore, or a replay from a demo's initial state, differs from the original run.

Two counts per task (printed, not asserted: the tests assert a few fixed cases):
- continuation: in one long-lived env, run the expert 45 steps from ``reset(seed=1)``, save, take 15
  random actions; restore the saved state after unrelated episodes and restores, repeat the
  actions; count the runs whose observations differ.
- replay: after random episodes in the recording env, record a scripted episode from reset and
  replay its actions from its initial state in a second env with its own history; count mismatches.

Usage: ``python scripts/check_exactness.py [TASK ...] [--runs N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import envs  # noqa: E402
from recorder.dataset.tasks import make_env  # noqa: E402
from recorder.devices.scripted import make_expert  # noqa: E402


def expert_run(env, task: str, seed: int, steps: int) -> list[dict]:
    """Observations of ``steps`` expert steps from ``reset(seed)``."""
    env.reset(seed=seed)
    expert = make_expert(task, env)
    return [env.step(expert.act())[0] for _ in range(steps)]


def same(a: list[dict], b: list[dict]) -> bool:
    """Whether two observation traces are bit-identical."""
    return all(np.array_equal(x[k], y[k]) for x, y in zip(a, b, strict=True) for k in x)


def continuation_mismatches(task: str, runs: int) -> int:
    """Runs whose random continuation differs between the original run and after a restore."""
    env, bad = make_env(task), 0
    for run in range(runs):
        expert_run(env, task, seed=1, steps=45)
        saved = env.get_state()
        env.action_space.seed(run)
        actions = [env.action_space.sample() for _ in range(15)]
        original = [env.step(a)[0] for a in actions]
        expert_run(env, task, seed=2, steps=30)
        expert_run(env, task, seed=5, steps=10)
        env.set_state(env.get_state())
        env.set_state(saved)
        bad += not same(original, [env.step(a)[0] for a in actions])
    return bad


def replays_exactly(env, replayer, task: str, run: int, steps: int = 200) -> bool:
    """Whether a scripted episode, recorded in ``env`` after two random episodes, replays bit for bit
    in ``replayer`` from its initial state after an expert episode there."""
    env.action_space.seed(run)
    for seed in (100 * run, 100 * run + 1):
        env.reset(seed=seed)
        for _ in range(25):
            env.step(env.action_space.sample())
    env.reset(seed=run)
    initial, expert = env.get_state(), make_expert(task, env)
    actions, recorded = [], []
    for _ in range(steps):
        actions.append(expert.act())
        recorded.append(env.step(actions[-1])[0])
    expert_run(replayer, task, seed=run + 50, steps=20)
    replayer.set_state(initial)
    return same(recorded, [replayer.step(a)[0] for a in actions])


def replay_mismatches(task: str, runs: int, steps: int = 200) -> int:
    """Scripted episodes, recorded after random episodes, that do not replay bit for bit."""
    env, replayer = make_env(task), make_env(task)
    return sum(not replays_exactly(env, replayer, task, run, steps) for run in range(runs))


def main() -> None:
    """Print both mismatch counts for each task."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=sorted(envs.TASKS))
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(f"{'task':24} {'continuation':>14} {'replay':>10}")
    for task in args.tasks:
        cont, rep = continuation_mismatches(task, args.runs), replay_mismatches(task, args.runs)
        print(f"{task:24} {cont:>6} of {args.runs:<5} {rep:>3} of {args.runs}")


if __name__ == "__main__":
    main()
