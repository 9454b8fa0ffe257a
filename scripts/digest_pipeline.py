"""Prove that a code change leaves the data unchanged: digest what record, annotate and generate write for
every task, with whatever mimicrec code is first on the path, and compare two such digests.

    python scripts/digest_pipeline.py --out new.json
    PYTHONPATH=/path/to/older/checkout python scripts/digest_pipeline.py --out old.json
    python scripts/digest_pipeline.py --compare old.json new.json

Per task: 3 scripted seeds (seed 5), annotated, 8 generation attempts on one worker (seed 2); every HDF5
dataset and attribute and every LeRobot column is hashed (tests/digest.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(2, str(Path(__file__).resolve().parent.parent))  # after PYTHONPATH: an older checkout wins
from tests.digest import hdf5_digest, run_digest  # noqa: E402

TASKS = ("Lift", "Stack", "StackThree", "PickPlace", "PegInsert", "BimanualLift")


def digest_task(task: str, folder: Path) -> dict:
    """Run the small pipeline for ``task`` in ``folder``; its counts and digests."""
    from augment.annotate import annotate
    from augment.runner import GenerateOptions, generate
    from recorder.record import RecordOptions, record

    rec = record(RecordOptions(f"mimicrec/{task}-v0", num_demos=3, seed=5, out=str(folder / "rec")))
    annotate(str(rec.hdf5_path), str(folder / "ann.hdf5"))
    rep = generate(GenerateOptions(str(folder / "ann.hdf5"), 8, num_envs=1, seed=2, out=str(folder / "gen"),
                                   guarantee=False))
    generated = run_digest(folder / "gen" / "generated.hdf5", folder / "gen" / "lerobot")
    digest = {**run_digest(rec.hdf5_path, rec.lerobot_path),
              **{f"ann:{k}": v for k, v in hdf5_digest(folder / "ann.hdf5").items()},
              **{f"gen:{k}": v for k, v in generated.items()}}
    return {"attempts": rep.num_attempts, "successes": rep.num_successes, "digest": digest}


def compare(old: dict, new: dict) -> int:
    """Print per task whether the digests agree; the number of tasks that differ."""
    bad = 0
    for task in sorted(set(old) | set(new)):
        a, b = old.get(task, {}).get("digest", {}), new.get(task, {}).get("digest", {})
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        bad += bool(differ)
        print(f"{task}: {len(a)} entries, {'identical' if not differ else f'{len(differ)} differ, e.g. {differ[:3]}'}")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the digests of this code here (JSON)")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two digest files")
    args = parser.parse_args()
    if args.compare:
        old, new = (json.loads(Path(p).read_text()) for p in args.compare)
        sys.exit(1 if compare(old, new) else 0)
    with tempfile.TemporaryDirectory() as tmp:
        result = {task: digest_task(task, Path(tmp) / task) for task in args.tasks}
    Path(args.out).write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"{len(result)} tasks digested: {args.out}")


if __name__ == "__main__":
    main()
