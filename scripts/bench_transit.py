"""Generation success with straight (interpolated) and planned transits, from the same 10 D0 seeds.

For each task: record and annotate 10 scripted seeds at D0, then run ``--trials`` attempts at D1
(``--no-guarantee``, 2 workers, seed 0) once with each ``--transit`` (interpolate, plan, auto: planned
only where the straight bridge would collide), and print success, planning seconds per attempt and
throughput for each, in one run. Targets (issue 24): on StackWall (a wall between the cubes at D1)
planned success >= 2x the interpolated one; StackThree's D1 success >= 80% with the better transit.
Both print met or GAP.

    python scripts/bench_transit.py [--trials 100] [--tasks StackWall StackThree] [--transits plan auto]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.bench_generate import run, seeds  # noqa: E402

TRANSITS = ("interpolate", "plan", "auto")


def measure(task: str, trials: int, transits: list[str]) -> dict[str, object]:
    """Transit -> the generate report of ``trials`` attempts at D1 from 10 D0 seeds of ``task``."""
    reports = {}
    with tempfile.TemporaryDirectory() as tmp:
        annotated = seeds(Path(tmp), f"mimicrec/{task}-v0", "D0")
        for transit in transits:
            reports[transit] = run(annotated, Path(tmp), transit, trials, 2, difficulty="D1", transit=transit,
                                   guarantee=False)
    return reports


def main() -> None:
    """Print one row per (task, transit), then the targets."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--tasks", nargs="+", default=["StackWall", "StackThree"])
    parser.add_argument("--transits", nargs="+", choices=TRANSITS, default=list(TRANSITS))
    args = parser.parse_args()
    print("| task | transit | D1 success | planning s/attempt (max) | plans without a path | demos/min "
          "(2 workers, whole run) | failures per subtask |")
    print("|---|---|---|---|---|---|---|")
    rates = {}
    for task in args.tasks:
        reports = measure(task, args.trials, args.transits)
        for transit, rep in reports.items():
            rates[task, transit] = rep.success_rate
            print(f"| {task} | {transit} | {rep.success_rate:.1%} ({rep.num_successes}/{rep.num_attempts}) | "
                  f"{rep.planning_s_per_attempt:.3f} ({rep.max_planning_s:.3f}) | "
                  f"{rep.num_plans_failed}/{rep.num_plans} | {rep.demos_per_minute:.0f} | "
                  f"{rep.failures_per_subtask or '-'} |", flush=True)
    if ("StackWall", "plan") in rates and ("StackWall", "interpolate") in rates:
        ratio = rates["StackWall", "plan"] / max(rates["StackWall", "interpolate"], 1e-9)
        print(f"StackWall D1: planned / interpolated success = {ratio:.2f}x (target >= 2x): "
              f"{'met' if ratio >= 2 else 'GAP'}")
    if any(task == "StackThree" for task, _ in rates):
        best = max(rate for (task, _), rate in rates.items() if task == "StackThree")
        print(f"StackThree D1 from D0 seeds, better transit: {best:.1%} (target >= 80%): "
              f"{'met' if best >= 0.8 else 'GAP'}")


if __name__ == "__main__":
    main()
