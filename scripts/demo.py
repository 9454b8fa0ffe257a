"""`make demo`: the whole mimicrec pipeline on Lift, through the real CLI, with a summary.

record 10 scripted seeds -> annotate --auto -> generate 200 successes on 2 envs -> train BC (MLP) for
4,000 gradient steps (10 rollouts every 10 epochs pick model.pth) -> eval by 20 rollouts. Lift with BC
is what learns within minutes on 2 CPU cores (measured: BC 20/20, BC-RNN 4/20 at the same 4,000 steps;
Stack with BC at 6,000 steps 1/20); the summary says what full runs on the harder tasks give.
Everything lands in one numbered folder under the dataset root.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder.dataset.paths import next_run_dir  # noqa: E402

TASK = "mimicrec/Lift-v0"
FULL_RUNS = ("Stack: 98% from 1000 generated demos and 15,000 steps (45 min); StackThree: 82% on 450 rollouts "
             "after 80,000 steps (98 min); from the 10 seeds alone 0-6% (docs/experiments.md)")


def run(cmd: list[str]) -> str:
    """Run one mimicrec command, streaming its progress (stderr) and returning its stdout."""
    print(f"\n$ {shlex.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    out = "\n".join(line for line in proc.stdout.splitlines() if not line.startswith(("pybullet build", "argv[0]")))
    print(out, flush=True)
    if proc.returncode != 0:
        sys.exit(f"demo: step failed with exit code {proc.returncode}: {shlex.join(cmd)}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--num-demos", type=int, default=10)
    parser.add_argument("--num-trials", type=int, default=200)
    parser.add_argument("--num-envs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--num-rollouts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("mimicrec"))
    root = next_run_dir("demo")
    start = time.perf_counter()
    run([exe, "record", "--task", TASK, "--device", "scripted", "--num-demos", str(args.num_demos),
         "--seed", str(args.seed), "--out", str(root / "seeds")])
    annotated = root / "seeds" / "demos_annotated.hdf5"
    run([exe, "annotate", str(root / "seeds" / "demos.hdf5"), "--auto", "--out", str(annotated)])
    run([exe, "generate", str(annotated), "--num-trials", str(args.num_trials), "--num-envs", str(args.num_envs),
         "--seed", str(args.seed), "--out", str(root / "generated")])
    run([exe, "train", str(root / "generated" / "generated.hdf5"), "--algo", "bc", "--epochs", str(args.epochs),
         "--steps-per-epoch", str(args.steps_per_epoch), "--rollouts", "10", "--rollout-every", "10",
         "--out", str(root / "policy")])
    evaluation = run([exe, "eval", str(root / "policy" / "model.pth"), "--num-rollouts", str(args.num_rollouts)])
    summarize(root, args.num_demos, args.num_rollouts, evaluation, time.perf_counter() - start)


def summarize(root: Path, num_seeds: int, num_rollouts: int, evaluation: str, wall: float) -> None:
    """Print the figures of the run."""
    report = json.loads((root / "generated" / "report.json").read_text())
    policy = re.search(r"policy success rate ([\d.]+%)", evaluation)
    rows = [
        ("seeds recorded", num_seeds),
        ("generation attempts", report["num_attempts"]),
        ("generation successes", report["num_successes"]),
        ("generation success rate", f"{report['success_rate']:.1%}"),
        ("generated demos per minute", f"{report['demos_per_minute']:.1f} ({report['num_envs']} envs)"),
        ("policy success rate", f"{policy.group(1) if policy else '?'} ({TASK}, {num_rollouts} rollouts)"),
        ("full runs", FULL_RUNS),
        ("seed demos", f"{root / 'seeds' / 'demos.hdf5'} + {root / 'seeds' / 'lerobot'}"),
        ("generated demos", f"{report['output_hdf5']} + {report['output_lerobot']}"),
        ("policy", root / "policy" / "model.pth"),
        ("total time", f"{wall:.0f} s"),
    ]
    print("\n==== mimicrec demo summary ====")
    for name, value in rows:
        print(f"{name:>28}: {value}")


if __name__ == "__main__":
    main()
