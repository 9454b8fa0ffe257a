"""Generation success per task and difficulty, from 10 scripted seeds each (one table, one run).

For every task and level: record 10 scripted seed demos, annotate them (--auto), generate N
successes with 2 workers (seed 0, the task's mimic.yaml), print the success rate, attempts, demos
per minute and where failures happened.

    python scripts/bench_success.py [--trials 50] [--tasks Lift Stack ...] [--difficulties D0 D1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.bench_generate import run, seeds  # noqa: E402

TASKS = ("Lift", "Stack", "StackThree", "PickPlace", "PegInsert", "BimanualLift")


def main() -> None:
    """Measure and print one row per (task, difficulty)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--difficulties", nargs="+", default=["D0"])
    args = parser.parse_args()
    print("| task | level | success | attempts | demos/min (2 workers) | failures per subtask |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        for level in args.difficulties:
            with tempfile.TemporaryDirectory() as tmp:
                annotated = seeds(Path(tmp), f"mimicrec/{task}-v0", level)
                rep = run(annotated, Path(tmp), "gen", args.trials, 2)
            print(f"| {task} | {level} | {rep.success_rate:.1%} ({rep.num_successes}/{rep.num_attempts}) | "
                  f"{rep.num_attempts} | {rep.demos_per_minute:.0f} | {rep.failures_per_subtask or '-'} |", flush=True)


if __name__ == "__main__":
    main()
