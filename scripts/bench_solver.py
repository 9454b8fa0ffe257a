"""Speed of the contact solver settings, as ratios measured interleaved in one process.

The envs run every solver iteration (no early exit: exact restores, see README "Exact state").
This compares pybullet's default, 50 iterations that stop early once the residual is below 1e-7
(``early-exit``), with all of N iterations (``all-N``), on the same work, alternating settings
block by block so that a noisy host slows every setting alike:
- ``env.step`` replaying two scripted episodes per task (settings switched on the live env);
- with ``--generate N``, a 1-worker generation run of N demos per setting and round on StackThree D0
  (in this process; the envs are built with the setting), in ms per control step and s per demo.

    python scripts/bench_solver.py [--tasks Stack PickPlace ...] [--iterations 50 20] [--blocks 6]
        [--generate 40 --rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from envs.base import TabletopEnv  # noqa: E402
from recorder.dataset.tasks import make_env  # noqa: E402
from scripts.bench_env import expert_actions  # noqa: E402
from scripts.bench_generate import run, seeds  # noqa: E402

TASKS = ("Lift", "Stack", "StackThree", "PickPlace", "PegInsert", "BimanualLift")
EARLY_EXIT = {"solverResidualThreshold": 1e-7, "numSolverIterations": 50}


def settings(iterations: list[int]) -> dict[str, dict[str, float]]:
    """The compared physics parameters by label, pybullet's default first."""
    return {"early-exit": EARLY_EXIT,
            **{f"all-{n}": {"solverResidualThreshold": 0, "numSolverIterations": n} for n in iterations}}


def step_seconds(task: str, compared: dict[str, dict], blocks: int) -> dict[str, list[float]]:
    """Per setting, the seconds of each block's replay of two expert episodes (settings shuffled per block)."""
    env = make_env(f"mimicrec/{task}-v0")
    episodes = [(seed, expert_actions(env, seed, task=f"mimicrec/{task}-v0")) for seed in range(2)]
    seconds, order = {label: [] for label in compared}, random.Random(0)
    for _ in range(blocks):
        for label in order.sample(list(compared), len(compared)):
            env.client.setPhysicsEngineParameter(**compared[label])
            total = 0.0
            for seed, actions in episodes:
                env.reset(seed=seed)
                start = time.perf_counter()
                for action in actions:
                    env.step(action)
                total += time.perf_counter() - start
            seconds[label].append(total)
    env.close()
    return seconds


def speed_ratios(seconds: dict[str, list[float]]) -> dict[str, float]:
    """Median over blocks of the early exit's time over each setting's (> 1: faster than pybullet's default)."""
    base = seconds["early-exit"]
    return {label: statistics.median(b / t for b, t in zip(base, times, strict=True))
            for label, times in seconds.items()}


def generation_costs(compared: dict[str, dict], demos: int, rounds: int) -> dict[str, list[tuple[float, float, float]]]:
    """Per setting and round: (ms per control step, s per demo, success rate) of a 1-worker StackThree run."""
    connect, costs = TabletopEnv._connect, {label: [] for label in compared}

    def run_with(label: str, annotated: str, out: Path):
        TabletopEnv._connect = staticmethod(lambda gui, iters: _tuned(connect(gui, iters), compared[label]))
        try:
            return run(annotated, out, label, demos, 1)
        finally:
            TabletopEnv._connect = connect

    with tempfile.TemporaryDirectory() as tmp:
        annotated = seeds(Path(tmp), "mimicrec/StackThree-v0", "D0")
        for r in range(rounds):
            for label in list(compared)[:: 1 if r % 2 == 0 else -1]:
                rep = run_with(label, annotated, Path(tmp) / str(r))
                costs[label].append((1e3 * rep.worker_time_s / rep.num_env_steps,
                                     rep.worker_time_s / rep.num_successes, rep.success_rate))
    return costs


def _tuned(client, parameters: dict):
    client.setPhysicsEngineParameter(**parameters)
    return client


def main() -> None:
    """Print the env.step ratios per task, then (with --generate) the generation costs."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--iterations", nargs="+", type=int, default=[50, 20])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--generate", type=int, default=0, metavar="N")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    compared = settings(args.iterations)
    print("env.step speed vs pybullet's default (early exit at 50), median of", args.blocks, "interleaved blocks")
    for task in args.tasks:
        ratios = speed_ratios(step_seconds(task, compared, args.blocks))
        print(f"  {task:14}" + "  ".join(f"{label} {ratio:.2f}x" for label, ratio in ratios.items()), flush=True)
    if args.generate:
        print(f"generation, StackThree D0, 1 worker, {args.generate} demos x {args.rounds} rounds (medians)")
        for label, runs in generation_costs(compared, args.generate, args.rounds).items():
            step, demo, success = (statistics.median(values) for values in zip(*runs, strict=True))
            print(f"  {label:10} {step:.2f} ms/step  {demo:.2f} s/demo  success {success:.1%}", flush=True)


if __name__ == "__main__":
    main()
