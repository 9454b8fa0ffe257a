"""Generation targets of issue 5, measured in one run: success, throughput, overhead, scaling, replay.

Records 10 scripted seed demos, annotates them, then generates with the task's ``mimic.yaml``:
- success rate and successful demos per hour with 2 workers (state only);
- the same attempts with 1 worker: the worker's wall time inside its attempts (report
  ``worker_time_s``) against a bare pybullet loop stepping as many control steps
  (``bench_env.bare_steps_per_s``: the same scene and substeps, no IK, pose math, observations,
  task logic or generation); also the whole run's wall time, which adds start-up (lerobot's import,
  env builds) and the writer (HDF5 + LeRobot), in the same process when there is one worker;
  2 workers' speed-up over 1 (same seed, so both runs make exactly the same attempts);
- with two 84x84 cameras: success and demos per hour;
- every saved demo replayed from its initial state: fraction that succeeds again.

    python scripts/bench_generate.py [--trials 100] [--camera-trials 30] [--task ...] [--difficulty D0]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from augment.annotate import annotate  # noqa: E402
from augment.runner import GenerateOptions, GenerateReport, generate  # noqa: E402
from recorder.dataset.replay import replay  # noqa: E402
from recorder.record import RecordOptions, record  # noqa: E402
from scripts.bench_env import bare_steps_per_s, verdict  # noqa: E402

TARGETS = {"success": 0.80, "demos_per_hour": 10_000, "overhead": 1.25, "scaling": 1.85, "camera_per_hour": 2_000}
CAMERAS = [{"name": "agentview", "width": 84, "height": 84}, {"name": "robot0_eye_in_hand", "width": 84, "height": 84}]


def seeds(root: Path, task: str, difficulty: str) -> str:
    """Record and annotate 10 scripted seed demos; the annotated file's path."""
    rec = record(RecordOptions(task, num_demos=10, seed=0, out=str(root / "seeds"), difficulty=difficulty))
    out = root / "seeds" / "annotated.hdf5"
    annotate(str(rec.hdf5_path), str(out))
    return str(out)


def run(annotated: str, root: Path, name: str, trials: int, envs: int, cameras=None,
        difficulty: str | None = None, **options) -> GenerateReport:
    """One timed generate run (seed 0), at the seeds' level or at ``difficulty``; ``options``: more
    ``GenerateOptions`` fields (e.g. ``transit``, ``guarantee``)."""
    opts = GenerateOptions(annotated, trials, num_envs=envs, seed=0, out=str(root / name), cameras=cameras,
                           commit_every_s=1e9, difficulty=difficulty, **options)
    return generate(opts)


def replay_rate(hdf5: str) -> float:
    """Fraction of the saved demos that succeed again when replayed from their initial state."""
    results = replay(hdf5)
    return sum(r.replay_success for r in results) / max(len(results), 1)


def main() -> None:
    """Run every measurement and print one line per target."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--camera-trials", type=int, default=30)
    parser.add_argument("--task", default="mimicrec/StackThree-v0")
    parser.add_argument("--difficulty", default="D0")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        annotated = seeds(root, args.task, args.difficulty)
        two = run(annotated, root, "two", args.trials, 2)
        one = run(annotated, root, "one", args.trials, 1)
        start = time.perf_counter()
        bare_rate = bare_steps_per_s(n=one.num_env_steps, task=args.task)
        bare_s = one.num_env_steps / bare_rate
        print(f"(bare loop measured in {time.perf_counter() - start:.1f} s)")
        cams = run(annotated, root, "cams", args.camera_trials, 2, cameras=CAMERAS) if args.camera_trials else None
        replayed = replay_rate(two.output_hdf5)
    per_hour = 60 * two.demos_per_minute
    overhead, scaling = one.worker_time_s / bare_s, one.wall_time_s / two.wall_time_s
    print(f"{args.task} {args.difficulty}, 10 scripted seeds, seed 0")
    print(f"success (2 workers): {two.success_rate:.1%} ({two.num_successes}/{two.num_attempts}); "
          f"target >= {TARGETS['success']:.0%}: {verdict(two.success_rate >= TARGETS['success'])}")
    print(f"throughput (2 workers, state only): {per_hour:,.0f} demos/h ({two.wall_time_s:.1f} s); "
          f"target >= {TARGETS['demos_per_hour']:,}: {verdict(per_hour >= TARGETS['demos_per_hour'])}")
    print(f"overhead (1 worker's attempts vs bare loop, {one.num_env_steps} steps): {overhead:.2f}x "
          f"({one.worker_time_s:.1f} s vs {bare_s:.1f} s); target <= {TARGETS['overhead']}x: "
          f"{verdict(overhead <= TARGETS['overhead'])}")
    print(f"  whole 1-worker run (+ start-up and writing both formats in the same process): "
          f"{one.wall_time_s / bare_s:.2f}x ({one.wall_time_s:.1f} s)")
    print(f"scaling (2 workers vs 1, same attempts): {scaling:.2f}x; target >= {TARGETS['scaling']}x: "
          f"{verdict(scaling >= TARGETS['scaling'])}")
    if cams is not None:
        cam_hour = 60 * cams.demos_per_minute
        print(f"two 84x84 cameras (2 workers): {cams.success_rate:.1%}, {cam_hour:,.0f} demos/h; "
              f"target >= {TARGETS['camera_per_hour']:,}: {verdict(cam_hour >= TARGETS['camera_per_hour'])}")
    print(f"saved demos that replay to success: {replayed:.1%}; target 100%: {verdict(replayed == 1.0)}")


if __name__ == "__main__":
    main()
