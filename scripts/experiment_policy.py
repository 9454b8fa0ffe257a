"""Issue-6 experiment: does generated data make better policies? BC-RNN on 10 seeds vs 1000 generated demos.

For each task (default Stack and StackThree, D0): record 10 scripted seed demos, annotate them, generate
N demos (default 1000), then train BC-RNN on (a) the 10 seeds and (b) the generated demos with the same
budget (the task's template configs/<Task>/train.yaml unless flags say otherwise: epochs, rollouts
during training, model.pth = the best rollout checkpoint, or with --pick-rollouts N the best of the top three
and the last by N fresh rollouts each), and evaluate model.pth and the last epoch's
last.pth with 50 rollouts each. With --then-epochs N each training goes on for N more epochs from its
last checkpoint (``mimicrec train --init DIR/last.pth``, a fresh learning-rate schedule, --then-set
values on top) and that continuation is evaluated too. Prints one table row per task and training set
(and continuation), with training time and, for generated D1 data, issue 24's target (Stack >= 99%,
StackThree >= 87%) as met or GAP; everything is kept under --out, and a rerun skips what is there
(data, finished trainings and their evaluations).

    python scripts/experiment_policy.py --out datasets/experiment [--tasks Stack StackThree]
        [--difficulty D0 --generate-difficulty D1] [--num-generated 1000] [--epochs E] [--steps-per-epoch S]
        [--eval-rollouts 50] [--sets seeds generated]
        [--set algo.rnn.hidden_dim=400 ...] [--then-epochs 300 --then-set KEY=VALUE ...] [--pick-rollouts 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from envs.config import load_mapping  # noqa: E402
from recorder.dataset.paths import write_atomically  # noqa: E402
from recorder.policy.train import template_path  # noqa: E402
from scripts.demo import run  # noqa: E402

# Issue 24's policy targets (MimicGen's D1 policies from D0 seeds: Stack 99.3%, StackThree 86.7%), in percent.
D1_POLICY_TARGETS = {"Stack": 99.0, "StackThree": 87.0}


def prepare(exe: str, root: Path, task: str, difficulty: str, num_generated: int,
            generate_difficulty: str | None = None) -> dict[str, Path]:
    """Seeds (10 scripted demos at ``difficulty``) and demos generated from them (at ``generate_difficulty``,
    default the seeds' level) of ``task``: {set: (table label, training file)}."""
    seeds, annotated, generated = root / "seeds", root / "seeds" / "demos_annotated.hdf5", root / "generated"
    if not (seeds / "demos.hdf5").exists():
        run([exe, "record", "--task", f"mimicrec/{task}-v0", "--num-demos", "10", "--seed", "0",
             "--difficulty", difficulty, "--out", str(seeds)])
    if not annotated.exists():
        run([exe, "annotate", str(seeds / "demos.hdf5"), "--auto", "--out", str(annotated)])
    if not (generated / "generated.hdf5").exists():
        wider = ["--difficulty", generate_difficulty] if generate_difficulty else []
        run([exe, "generate", str(annotated), "--num-trials", str(num_generated), "--num-envs", "2", "--seed", "0",
             *wider, "--out", str(generated), "--quiet"])
    return {"seeds": ("10 seeds", seeds / "demos.hdf5"),
            "generated": (f"{num_generated} generated", generated / "generated.hdf5")}


def budget_flags(args: argparse.Namespace) -> dict[str, int]:
    """The budget flags given on the command line ({"--epochs": 300, ...}); the rest come from the templates."""
    flags = {"--epochs": args.epochs, "--steps-per-epoch": args.steps_per_epoch, "--rollouts": args.rollouts,
             "--rollout-every": args.rollout_every, "--pick-rollouts": args.pick_rollouts}
    return {flag: value for flag, value in flags.items() if value is not None}


def training_flags(args: argparse.Namespace, init: Path | None) -> list[str]:
    """`mimicrec train` flags of the first training (``init`` None) or of its continuation from ``init``."""
    if init is None:
        flags = [str(part) for flag, value in budget_flags(args).items() for part in (flag, value)]
        return flags + [f"--set={item}" for item in args.overrides]
    pick = ["--pick-rollouts", str(args.pick_rollouts)] if args.pick_rollouts is not None else []
    return ["--epochs", str(args.then_epochs), "--init", str(init), *pick,
            *(f"--set={item}" for item in args.then_overrides)]


def train_and_eval(exe: str, data: Path, out: Path, task: str, flags: list[str], eval_rollouts: int) -> dict:
    """{"eval": eval line, "train_s": training seconds, "budget": ...} for one training, kept in
    out/experiment.json: a rerun with the same budget (flags and the task template's values) reuses it,
    another budget is refused."""
    template = load_mapping(template_path(f"mimicrec/{task}-v0"))
    budget = [f"template={json.dumps(template, sort_keys=True)}", *flags]
    record = out / "experiment.json"
    if record.exists():
        result = json.loads(record.read_text())
        if result["budget"] != budget:
            was, now = (" ".join(b) or "an unrecorded budget" for b in (result["budget"], budget))
            sys.exit(f"experiment: {out} was trained with {was}, not {now}; pass another --out or remove that folder")
        return result
    start = time.perf_counter()
    run([exe, "train", str(data), "--algo", "bc-rnn", "--out", str(out), "--quiet", *flags])
    seconds = time.perf_counter() - start
    result = {"eval": evaluate(exe, out / "model.pth", eval_rollouts), "train_s": round(seconds, 1), "budget": budget}
    if (out / "last.pth").read_bytes() != (out / "model.pth").read_bytes():
        result["eval_last"] = evaluate(exe, out / "last.pth", eval_rollouts)
    write_atomically(record, json.dumps(result) + "\n")
    return result


def evaluate(exe: str, checkpoint: Path, rollouts: int) -> str:
    """`mimicrec eval`'s result line for ``checkpoint``."""
    output = run([exe, "eval", str(checkpoint), "--num-rollouts", str(rollouts), "--quiet"])
    return output.strip().splitlines()[-1]


def table_rows(exe: str, data: Path, out: Path, args: argparse.Namespace, task: str, name: str,
               target: float | None) -> list[str]:
    """The table row of one training set, and of its continuation with --then-epochs, with its last.pth judged
    against ``target`` percent (None: no target)."""
    first = train_and_eval(exe, data, out, task, training_flags(args, None), args.eval_rollouts)
    runs = [(name, first)]
    if args.then_epochs:
        then = train_and_eval(exe, data, out.with_name(f"{out.name}_then{args.then_epochs}"), task,
                              training_flags(args, out / "last.pth"), args.eval_rollouts)
        total = first["train_s"] + then["train_s"]
        runs.append((f"{name}, {args.then_epochs} more epochs", {**then, "train_s": total}))
    return [f"| {task} {args.difficulty} | {label} | {success(result['eval'])} | "
            f"{success(result.get('eval_last', 'the same checkpoint'))} | {result['train_s'] / 60:.1f} | "
            f"{verdict(result.get('eval_last', result['eval']), target)} |"
            for label, result in runs]


def verdict(eval_line: str, target: float | None) -> str:
    """"met" or "GAP" for an eval result line ("policy success rate 88.0% (...") against ``target`` percent;
    "-" without a target."""
    if target is None:
        return "-"
    rate = float(success(eval_line).split("%")[0])
    return f"{'met' if rate >= target else 'GAP'} (>= {target:g}%)"


def success(eval_line: str) -> str:
    """The table cell of an eval result line (its "policy success rate " prefix dropped)."""
    return eval_line.removeprefix("policy success rate ")


def main() -> None:
    """Run the experiment and print its table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="experiment folder (reused: finished steps are skipped)")
    parser.add_argument("--tasks", nargs="+", default=["Stack", "StackThree"])
    parser.add_argument("--difficulty", default="D0", help="the seeds' level")
    parser.add_argument("--generate-difficulty", help="generate (and so train and evaluate the generated set) at "
                        "this level instead, e.g. D1 from D0 seeds as MimicGen (default: --difficulty)")
    parser.add_argument("--num-generated", type=int, default=1000)
    parser.add_argument("--epochs", type=int, help="training epochs (default: the task template)")
    parser.add_argument("--steps-per-epoch", type=int, help="gradient steps per epoch (default: template)")
    parser.add_argument("--rollouts", type=int, help="rollouts per evaluation during training (default: template)")
    parser.add_argument("--rollout-every", type=int, help="epochs between evaluations (default: template)")
    parser.add_argument("--pick-rollouts", type=int,
                        help="model.pth picked among the best rollout checkpoints and the last by this many "
                             "rollouts each (`mimicrec train --pick-rollouts`; default: off)")
    parser.add_argument("--eval-rollouts", type=int, default=50)
    parser.add_argument("--sets", nargs="+", choices=["seeds", "generated"], default=["seeds", "generated"],
                        help="training sets to train and evaluate (default: both)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--then-epochs", type=int, help="continue each training this many epochs from its last.pth")
    parser.add_argument("--then-set", dest="then_overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="robomimic config values of the continuation (e.g. its learning rate)")
    args = parser.parse_args()
    exe = str(Path(sys.executable).with_name("mimicrec"))
    rows = []
    for task in args.tasks:
        wider = f"_to_{args.generate_difficulty}" if args.generate_difficulty else ""
        root = Path(args.out) / f"{task}_{args.difficulty}{wider}"
        training_sets = prepare(exe, root, task, args.difficulty, args.num_generated, args.generate_difficulty)
        from_d0_to_d1 = (args.difficulty, args.generate_difficulty) == ("D0", "D1")
        for key in [key for key in ("seeds", "generated") if key in args.sets]:
            name, data = training_sets[key]
            target = D1_POLICY_TARGETS.get(task) if from_d0_to_d1 and key == "generated" else None
            rows += table_rows(exe, data, root / f"policy_{name.split()[0]}", args, task, name, target)
    given = ", ".join(f"{flag[2:].replace('-', ' ')} {value}" for flag, value in budget_flags(args).items())
    given = given or "the task templates"
    if args.then_epochs:
        given += (f", then {args.then_epochs} more epochs from the last checkpoint with "
                  f"{args.then_overrides or 'no overrides'}")
    picked = f"picked by {args.pick_rollouts} fresh rollouts each" if args.pick_rollouts else "during training"
    print(f"\nBC-RNN, budget: {given}; model.pth = best of the rollouts {picked}, last.pth = last epoch; "
          f"{args.eval_rollouts} eval rollouts; overrides: {args.overrides or 'none'}")
    print("| task | training data | model.pth success | last.pth success | training minutes | D1 target, last.pth |\n"
          "|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
