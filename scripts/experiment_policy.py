"""Issue-6 experiment: does generated data make better policies? BC-RNN on 10 seeds vs 1000 generated demos.

For each task (default Stack and StackThree, D0): record 10 scripted seed demos, annotate them,
generate N demos (default 1000), then train BC-RNN on (a) the 10 seeds and (b) the generated demos
with the same budget (epochs x steps per epoch, the same rollouts during training, model.pth = the
best rollout checkpoint), and evaluate each with 50 rollouts. Prints one table row per task and
training set, with training time; everything is kept under --out.

    python scripts/experiment_policy.py --out datasets/experiment [--tasks Stack StackThree]
        [--num-generated 1000] [--epochs 100] [--steps-per-epoch 100] [--eval-rollouts 50]
        [--set algo.rnn.hidden_dim=400 ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.demo import run  # noqa: E402


def prepare(exe: str, root: Path, task: str, difficulty: str, num_generated: int) -> dict[str, Path]:
    """Seeds (10 scripted demos) and generated demos of ``task``; the two training files."""
    seeds, annotated, generated = root / "seeds", root / "seeds" / "demos_annotated.hdf5", root / "generated"
    if not (seeds / "demos.hdf5").exists():
        run([exe, "record", "--task", f"mimicrec/{task}-v0", "--num-demos", "10", "--seed", "0",
             "--difficulty", difficulty, "--out", str(seeds)])
    if not annotated.exists():
        run([exe, "annotate", str(seeds / "demos.hdf5"), "--auto", "--out", str(annotated)])
    if not (generated / "generated.hdf5").exists():
        run([exe, "generate", str(annotated), "--num-trials", str(num_generated), "--num-envs", "2", "--seed", "0",
             "--out", str(generated), "--quiet"])
    return {"10 seeds": seeds / "demos.hdf5", f"{num_generated} generated": generated / "generated.hdf5"}


def train_and_eval(exe: str, data: Path, out: Path, args: argparse.Namespace) -> tuple[str, float]:
    """(eval line, training seconds) for one training set."""
    start = time.perf_counter()
    run([exe, "train", str(data), "--algo", "bc-rnn", "--epochs", str(args.epochs), "--steps-per-epoch",
         str(args.steps_per_epoch), "--rollouts", str(args.rollouts), "--rollout-every", str(args.rollout_every),
         "--out", str(out), "--quiet", *[f"--set={item}" for item in args.overrides]])
    seconds = time.perf_counter() - start
    evaluation = run([exe, "eval", str(out / "model.pth"), "--num-rollouts", str(args.eval_rollouts), "--quiet"])
    return evaluation.strip().splitlines()[-1], seconds


def main() -> None:
    """Run the experiment and print its table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="experiment folder (reused: finished steps are skipped)")
    parser.add_argument("--tasks", nargs="+", default=["Stack", "StackThree"])
    parser.add_argument("--difficulty", default="D0")
    parser.add_argument("--num-generated", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--rollouts", type=int, default=10, help="rollouts per evaluation during training")
    parser.add_argument("--rollout-every", type=int, default=10)
    parser.add_argument("--eval-rollouts", type=int, default=50)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("mimicrec"))
    rows = []
    for task in args.tasks:
        root = Path(args.out) / f"{task}_{args.difficulty}"
        for name, data in prepare(exe, root, task, args.difficulty, args.num_generated).items():
            line, seconds = train_and_eval(exe, data, root / f"policy_{name.split()[0]}", args)
            result = line.removeprefix("policy success rate ")
            rows.append(f"| {task} {args.difficulty} | {name} | {result} | {seconds / 60:.1f} |")
    print(f"\nBC-RNN, {args.epochs} epochs x {args.steps_per_epoch} steps, model.pth = best of rollouts "
          f"({args.rollouts} every {args.rollout_every} epochs), {args.eval_rollouts} eval rollouts; "
          f"overrides: {args.overrides or 'none'}")
    print("| task | training data | policy success | training minutes |\n|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
