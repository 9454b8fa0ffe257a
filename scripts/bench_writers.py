"""Per-demo cost of writing, measured in one run (issue 26, item 1): the LeRobot writer as mimicrec runs it
against lerobot's ``add_frame``/``save_episode`` as shipped, and the robomimic HDF5 writer, on the same
generated demos; then what the generation loop itself spends per demo now that a writer thread writes.

Each writer gets the same episodes (read once from a generated file) and is timed from its second episode
to its last commit; lerobot's import and the dataset's creation are outside the timing. Rounds alternate
the writers so that load on the machine falls on all alike; the median round counts.

    python scripts/bench_writers.py [--source generated.hdf5] [--demos 100] [--rounds 3]

Without ``--source`` it records 10 scripted Stack seeds, annotates them and generates ``--demos`` demos.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recorder.dataset.episode import Episode  # noqa: E402
from recorder.dataset.reading import dataset_env, open_dataset  # noqa: E402
from recorder.dataset.tasks import env_args, lerobot_schema, make_env  # noqa: E402
from recorder.dataset.writer_thread import WriterThread  # noqa: E402
from recorder.dataset.writers import lerobot_writer  # noqa: E402
from recorder.dataset.writers.robomimic_hdf5 import RobomimicHDF5Writer, read_episodes  # noqa: E402
from scripts.bench_env import verdict  # noqa: E402

TARGET = 5.0  # issue 26: the per-demo cost of writing falls at least 5x


def generated_demos(root: Path, count: int) -> Path:
    """A generated Stack file of ``count`` demos (10 scripted seeds, annotated, 2 workers)."""
    from augment.annotate import annotate
    from augment.runner import GenerateOptions, generate
    from recorder.record import RecordOptions, record

    rec = record(RecordOptions("mimicrec/Stack-v0", num_demos=10, seed=0, out=str(root / "seeds")))
    annotate(str(rec.hdf5_path), str(root / "seeds.hdf5"))
    report = generate(GenerateOptions(str(root / "seeds.hdf5"), count, num_envs=2, seed=0, out=str(root / "gen")))
    return Path(report.output_hdf5)


def seconds_per_demo(make_writer, episodes: list[Episode]) -> float:
    """Write ``episodes`` (the first untimed: it creates the dataset) and commit; seconds per timed demo."""
    writer = make_writer()
    writer.write(episodes[0])
    writer.commit()
    start = time.perf_counter()
    for episode in episodes[1:]:
        writer.write(episode)
    writer.commit()
    elapsed = time.perf_counter() - start
    writer.close()
    return elapsed / (len(episodes) - 1)


def loop_seconds_per_demo(make_writer, episodes: list[Episode]) -> float:
    """What the generation loop spends per demo when a ``WriterThread`` writes (``generate``'s set-up): the
    time to hand each demo over; the writing itself runs in the thread (joined untimed)."""
    writer = WriterThread(make_writer())
    writer.call("write", episodes[0])
    start = time.perf_counter()
    for episode in episodes[1:]:
        writer.call("write", episode, nbytes=episode.nbytes)
    elapsed = time.perf_counter() - start
    writer.call("close")
    writer.join()
    return elapsed / (len(episodes) - 1)


def main() -> None:
    """Time every writer in alternating rounds and print the per-demo costs and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="a generated HDF5 file (default: generate one)")
    parser.add_argument("--demos", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_writers_"))
    source = Path(args.source) if args.source else generated_demos(root, args.demos)
    episodes = list(read_episodes(source))[: args.demos]
    with open_dataset(source) as file:
        env_id, kwargs = dataset_env(file)
    env = make_env(env_id, **kwargs)
    schema, stored_args = lerobot_schema(env_id, env), env_args(env_id, env.env_kwargs)
    env.close()
    writers = {
        "lerobot (as shipped)": lambda out: lerobot_writer.LeRobotWriter(str(out), schema, lean=False),
        "lerobot (mimicrec)": lambda out: lerobot_writer.LeRobotWriter(str(out), schema),
        "hdf5": lambda out: RobomimicHDF5Writer(str(out), stored_args),
    }
    times: dict[str, list[float]] = {name: [] for name in writers}
    for round_index in range(args.rounds):
        for name, make in writers.items():
            out = root / f"{round_index}_{name.split()[0]}_{len(times[name])}"
            times[name].append(seconds_per_demo(lambda make=make, out=out: make(out), episodes))
            shutil.rmtree(out, ignore_errors=True)
            out.unlink(missing_ok=True) if out.is_file() else None
    median = {name: statistics.median(values) for name, values in times.items()}
    loop = loop_seconds_per_demo(lambda: writers["lerobot (mimicrec)"](root / "loop"), episodes)
    steps = sum(len(e) for e in episodes[1:]) / (len(episodes) - 1)
    print(f"{len(episodes) - 1} {env_id} demos of {steps:.0f} steps, {args.rounds} rounds (median):")
    for name, value in median.items():
        print(f"  {name:22} {1000 * value:7.1f} ms per demo")
    shipped, ours = median["lerobot (as shipped)"], median["lerobot (mimicrec)"]
    ratio = shipped / ours
    print(f"  LeRobot per-demo cost, as shipped / mimicrec: {ratio:.2f}x (target >= {TARGET:.0f}x: "
          f"{verdict(ratio >= TARGET)})")
    print(f"  both formats per demo: {1000 * (ours + median['hdf5']):.1f} ms "
          f"(as shipped: {1000 * (shipped + median['hdf5']):.1f} ms)")
    print(f"  the generation loop's cost per demo with the writer thread: {1000 * loop:.3f} ms (LeRobot written "
          f"in the loop as shipped / handed over: {shipped / loop:,.0f}x; target >= {TARGET:.0f}x: "
          f"{verdict(shipped / loop >= TARGET)})")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
