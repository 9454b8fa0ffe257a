"""Robot transfer: seeds recorded and annotated on the Panda generate demos on other arms.

For each task: record 10 scripted Panda seeds (seed 0, D0), annotate them (--auto), then generate N
successes on every robot with ``--robot`` (2 workers, generation seed 0, the task's mimic.yaml) and
replay every saved demo from its initial state. Prints one row per (task, robot): the success rate
over the attempts, demos per minute of the whole generate call, and how many demos replay with
identical states and success.

    python scripts/bench_transfer.py [--trials 200] [--tasks Stack StackThree] [--robots panda iiwa xarm6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from augment.runner import GenerateOptions, generate  # noqa: E402
from recorder.dataset.replay import replay  # noqa: E402
from scripts.bench_generate import seeds  # noqa: E402


def main() -> None:
    """Measure and print one row per (task, robot)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--tasks", nargs="+", default=["Stack", "StackThree"])
    parser.add_argument("--robots", nargs="+", default=["panda", "iiwa", "xarm6"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"| task | robot | success ({args.trials} successes asked) | demos/min ({args.workers} workers, "
          "whole command) | replayed exactly |")
    print("|---|---|---|---|---|")
    for task in args.tasks:
        with tempfile.TemporaryDirectory() as tmp:
            annotated = seeds(Path(tmp), f"mimicrec/{task}-v0", "D0")
            for robot in args.robots:
                opts = GenerateOptions(annotated, args.trials, num_envs=args.workers, seed=0,
                                       out=str(Path(tmp) / Path(robot).stem), commit_every_s=1e9, robot=robot)
                rep = generate(opts)
                replays = replay(rep.output_hdf5)
                exact = sum(r.states_identical and r.replay_success for r in replays)
                print(f"| {task} | {robot} | {rep.success_rate:.1%} ({rep.num_successes}/{rep.num_attempts}) | "
                      f"{rep.demos_per_minute:.0f} | {exact}/{len(replays)} |", flush=True)


if __name__ == "__main__":
    main()
