"""``mimicrec generate``: run attempts in worker processes, keep successes in attempt order, write both formats.

Each worker builds its env once and runs whole attempts; the main process is the only writer.
Results are committed strictly in attempt-index order, so a run's output depends only on the
seed and the spec, never on the number of workers or their timing.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

import envs
from augment.executors import EXECUTORS, ordered_results
from augment.generator import AttemptResult, subtask_label
from augment.report_plot import AttemptTrace, write_report_png
from augment.source import SourceSet, load_sources
from augment.spec import (
    MimicSpec,
    check_spec_fits_task,
    load_mimic_spec,
    spec_attrs,
    spec_from_text,
    spec_path,
    with_seed,
    with_transit,
)
from envs.config import parse_key_values
from envs.errors import DatasetError, GenerationError, RunInterrupted, UsageError
from recorder.dataset.paths import write_atomically
from recorder.dataset.run import Run, read_run_file, resumed_options, run_folder
from recorder.dataset.tasks import env_args, lerobot_schema, make_env, variant_env_kwargs
from recorder.dataset.writer_thread import WriterThread
from recorder.dataset.writers.lerobot_writer import DEFAULT_VIDEO_CODEC, check_video_codec
from recorder.imports import import_pyplot


@dataclass(frozen=True)
class GenerateOptions:
    """What ``mimicrec generate`` was asked to do."""

    input_path: str
    num_trials: int
    num_envs: int = 1
    seed: int | None = None
    out: str | None = None
    config: str | None = None
    guarantee: bool | None = None
    cameras: list[dict] | None = None
    progress: bool = False
    keep_failed: bool | None = None  # None: the spec's generation.keep_failed
    resume: str | None = None  # a generate run folder to continue
    commit_every_s: float = 30.0  # a crash loses at most this much work (each commit starts new files)
    executor: str = "process"  # "process" (local worker processes), "ray", or "inline" (this process, one env)
    address: str | None = None  # the Ray cluster to join (None: start a local one)
    robot: str | None = None  # generate on this robot instead of the seeds' (robot transfer)
    difficulty: str | None = None  # generate at this randomization level instead of the seeds'
    task_settings: tuple[str, ...] = ()  # "key.path=value" items changing the seeds' task definition
    transit: str | None = None  # "interpolate" or "plan" for every subtask (None: the spec's per subtask)
    video_codec: str = DEFAULT_VIDEO_CODEC  # the LeRobot dataset's camera videos (a key of VIDEO_CODECS)


RUN_OPTIONS = ("input_path", "seed", "config", "guarantee", "cameras", "keep_failed", "robot", "difficulty",
               "task_settings", "transit", "video_codec")


@dataclass
class GenerateReport:
    """Counts, rates and timing of a run (written as ``report.json``)."""

    num_attempts: int = 0
    num_successes: int = 0
    num_failures: int = 0
    num_env_steps: int = 0  # control steps of every attempt, failures included
    worker_time_s: float = 0.0  # wall seconds workers spent inside attempts (summed over workers)
    failures_per_subtask: dict[str, int] = field(default_factory=dict)
    num_plans: int = 0  # transits planned (subtasks with ``transit: plan``)
    num_plans_failed: int = 0  # of them, those with no path found (interpolated instead)
    planning_time_s: float = 0.0  # seconds spent planning, summed over attempts
    max_planning_s: float = 0.0  # the most one attempt spent planning
    planning_s_per_attempt: float = 0.0
    success_rate: float = 0.0
    wall_time_s: float = 0.0
    process_cpu_s: float = 0.0  # CPU seconds of this process, its threads and start-up included (not the workers')
    demos_per_minute: float = 0.0  # the demos this session made (not those a resumed run held) per minute of it
    resumed_successes: int = 0  # the successes the run held when this session resumed it
    seed: int = 0
    num_envs: int = 1
    executor: str = "process"
    num_trials: int = 0
    guarantee: bool = True
    stopped_by_failure_bound: bool = False
    keep_failed: bool = False
    num_failed_kept: int = 0
    input_path: str = ""
    output_hdf5: str = ""
    output_lerobot: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    def add(self, result: AttemptResult) -> None:
        """Count one attempt."""
        self.num_attempts += 1
        self.num_env_steps += len(result.episode)
        self.worker_time_s += result.worker_s
        self.num_plans += result.num_plans
        self.num_plans_failed += result.num_plans_failed
        self.planning_time_s += result.planning_s
        self.max_planning_s = max(self.max_planning_s, result.planning_s)
        self.planning_s_per_attempt = self.planning_time_s / self.num_attempts
        if result.success:
            self.num_successes += 1
        else:
            self.num_failures += 1
            key = str(result.failed_subtask)
            self.failures_per_subtask[key] = self.failures_per_subtask.get(key, 0) + 1
        self.success_rate = self.num_successes / self.num_attempts


def check_options(opts: GenerateOptions) -> None:
    """Reject impossible counts before anything is read or created."""
    if opts.num_trials <= 0:
        given = f"got {opts.num_trials}" if opts.num_trials else "pass --num-trials N"
        raise UsageError(f"--num-trials must be a positive integer; {given}")
    if opts.num_envs <= 0:
        raise UsageError(f"--num-envs must be a positive integer, got {opts.num_envs}")
    if opts.executor not in EXECUTORS:
        raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {opts.executor!r}")
    if opts.executor == "inline" and opts.num_envs != 1:
        raise UsageError(f"--executor inline runs one env in this process; drop --num-envs {opts.num_envs}")
    if opts.address is not None and opts.executor != "ray":
        raise UsageError("--address names a Ray cluster; add --executor ray")
    check_video_codec(opts.video_codec)


def generation_spec(config: str | None, sources: SourceSet) -> tuple[MimicSpec, str]:
    """The spec and where it comes from: ``config``; else the task's own ``mimic.yaml``; else, where the task's
    folder holds none on this machine, the spec the seeds were annotated with (stored in their file)."""
    if config is None and sources.spec_text is not None \
            and envs.optional_task_config_file(sources.env_id, "mimic") is None:
        where = f"{sources.path} (the spec its demos were annotated with)"
        return spec_from_text(sources.spec_text, where), where
    return load_mimic_spec(config, sources.env_id), spec_path(config, sources.env_id)


def check_spec_fits_sources(spec: MimicSpec, where: str, sources: SourceSet) -> None:
    """The spec must fit the seeds' task (their end effectors, objects and signals), with the subtask counts the
    demos were annotated with."""
    info = sources.demos[0].info if sources.demos else None
    if info is not None:
        check_spec_fits_task(spec, where, sources.env_id, info.eef_pose, info.object_poses, info.subtask_term_signals)
    for demo in sources.demos:
        for eef, eef_spec in spec.eefs.items():
            if len(demo.subtask_ends.get(eef, ())) != len(eef_spec.subtasks):
                raise DatasetError(f"{sources.path}: {demo.name} is annotated with "
                                   f"{len(demo.subtask_ends.get(eef, ()))} subtasks for {eef} but the spec has "
                                   f"{len(eef_spec.subtasks)}; annotate again with this spec (--config)")


def generate(opts: GenerateOptions) -> GenerateReport:
    """Generate demos from the annotated file ``opts.input_path`` into a new run folder (or resume one)."""
    if opts.resume is not None and not opts.num_trials:  # resuming to the total the run was started with
        opts = replace(opts, num_trials=int(read_run_file(opts.resume, "generate").get("num_trials", 0)))
    check_options(opts)
    opts = resumed_options(opts, "generate", RUN_OPTIONS, {"out": "--out", "input_path": "INPUT"})
    sources = load_sources(opts.input_path)
    if opts.cameras is not None:
        sources = replace(sources, env_kwargs={**sources.env_kwargs, "cameras": opts.cameras})
    if opts.robot is not None or opts.difficulty is not None or opts.task_settings:
        settings = parse_key_values(opts.task_settings, "--set", "scene.objects.cube_red.scale=1.2")
        sources = replace(sources, env_kwargs=variant_env_kwargs(sources.env_id, sources.env_kwargs, opts.robot,
                                                                 opts.difficulty, settings))
    spec, where = generation_spec(opts.config, sources)
    spec = with_transit(with_seed(spec, opts.seed), opts.transit)
    check_spec_fits_sources(spec, where, sources)
    guarantee = spec.generation.guarantee if opts.guarantee is None else opts.guarantee
    keep_failed = spec.generation.keep_failed if opts.keep_failed is None else opts.keep_failed
    report = GenerateReport(seed=spec.generation.seed, num_envs=opts.num_envs, executor=opts.executor,
                            num_trials=opts.num_trials, guarantee=guarantee, keep_failed=keep_failed,
                            input_path=str(opts.input_path), spec=asdict(spec))
    start, trace = time.perf_counter(), AttemptTrace()
    with run_folder("generate", opts.out, opts.resume) as out:
        report.output_hdf5, report.output_lerobot = str(out / "generated.hdf5"), str(out / "lerobot")
        run, trace.region = _open_run(out, sources, report, opts, spec)
        try:
            committed = _restore(report, run) if opts.resume else set()
            if opts.resume and not _finished(report, opts.num_trials):  # a larger total becomes the run's own
                run.save_state(num_trials=opts.num_trials)
            _run_writing_beside(sources, spec, opts, report, run, committed, trace)
        except (GenerationError, KeyboardInterrupt) as err:  # a run that ends early keeps and finishes what it made
            run.close(_progress(report))
            if run.kept.count:
                kept = f"the {run.kept.count} demos made are kept: `mimicrec generate --resume {out}` finishes the run"
                raise (GenerationError(f"{err}; {kept}") if isinstance(err, GenerationError) else
                       RunInterrupted(kept)) from err
            raise
        except BaseException:
            run.abort()
            raise
        _finish(out, run, report, trace, spec, opts.resume is not None, start)
    return report


def _finish(out: Path, run: Run, report: GenerateReport, trace: AttemptTrace, spec: MimicSpec, resumed: bool,
            start: float) -> None:
    """Finish the datasets, then ``report.png`` and ``report.json``; a resumed session that attempted nothing
    (the run was complete) keeps the ones its run wrote, with the timings of the sessions that made its demos."""
    rewrite = not (resumed and not trace.success and (out / "report.json").is_file())
    with ThreadPoolExecutor(1, thread_name_prefix="mimicrec-plot") as plotter:  # drawn while the disk syncs
        plot = plotter.submit(_write_plot, out, report, trace, spec, resumed) if rewrite else None
        run.close(_progress(report))  # the last commit: the writer thread has written every demo
        if plot is not None:
            plot.result()
    report.wall_time_s = time.perf_counter() - start
    made = report.num_successes - report.resumed_successes
    report.demos_per_minute = 60.0 * made / max(report.wall_time_s, 1e-9)
    report.process_cpu_s = time.process_time()
    if rewrite:
        _write_json(out / "report.json", asdict(report))


def _open_run(out: Path, sources: SourceSet, report: GenerateReport, opts: GenerateOptions,
              spec: MimicSpec) -> tuple[Run, tuple | None]:
    """The run's datasets and run.json (what ``--resume`` needs), and the task's placement region (plots)."""
    env = make_env(sources.env_id, **sources.env_kwargs)
    try:
        schema, region = lerobot_schema(sources.env_id, env, opts.video_codec), env.placement_region()
    finally:
        env.close()
    resumed = opts.resume is not None
    started = read_run_file(out, "generate") if resumed else {
        **{key: getattr(opts, key) for key in RUN_OPTIONS}, "seed": spec.generation.seed,
        "input_path": os.path.abspath(opts.input_path), "config": os.path.abspath(opts.config) if opts.config else None,
        "num_trials": opts.num_trials}  # the run's total: a later --resume defaults to it
    attrs = {"mimic_source": os.path.abspath(sources.path), "seed": report.seed, **spec_attrs(spec)}
    run = Run(out, Path(report.output_hdf5).name, env_args(sources.env_id, sources.env_kwargs), schema, started,
              attrs, keep_failed=report.keep_failed, resume=resumed, commit_every_s=opts.commit_every_s)
    report.num_failed_kept = run.failed.count if run.failed else 0
    return run, region


def _write_plot(out: Path, report: GenerateReport, trace: AttemptTrace, spec: MimicSpec, resumed: bool) -> None:
    """``report.png``: this process's attempts (``report.json`` holds every counter and the spec)."""
    session = "this session's " if resumed else ""
    labels = {eef: [str(subtask_label(eef, k, len(spec.eefs))) for k in range(len(eef_spec.subtasks))]
              for eef, eef_spec in spec.eefs.items()}
    write_report_png(out / "report.png", trace, report.failures_per_subtask, labels,
                     f"{spec.task}: {report.num_successes} demos from {report.num_attempts} attempts "
                     f"({report.success_rate:.1%}); plots: {session}{len(trace.success)} attempts")


PROGRESS = ("num_attempts", "num_successes", "num_failures", "num_env_steps", "worker_time_s", "failures_per_subtask",
            "num_plans", "num_plans_failed", "planning_time_s", "max_planning_s")


def _restore(report: GenerateReport, run: Run) -> set[int]:
    """Counters of the resumed run as of its last commit; returns the attempt indices already saved."""
    for key, value in (run.kept.hdf5.progress or {}).items():
        setattr(report, key, value)
    if report.num_attempts:
        report.success_rate = report.num_successes / report.num_attempts
        report.planning_s_per_attempt = report.planning_time_s / report.num_attempts
    report.resumed_successes = report.num_successes
    return set().union(*(group.hdf5.committed_attrs("attempt_index") for group in run.groups))


def _file(writer: WriterThread, run: Run, result: AttemptResult, report: GenerateReport, spec_digest: str) -> None:
    """Queue a success, or a failure (with the subtask it failed at) when failures are kept; each demo carries
    the digest of the spec that made it (provenance that survives merging datasets)."""
    attrs = {**result.episode.attrs, "spec_digest": spec_digest}
    if result.success:
        writer.call("write", replace(result.episode, attrs=attrs), kept=True, nbytes=result.episode.nbytes)
    elif run.failed is not None:
        writer.call("write", replace(result.episode, attrs={**attrs, "failed_subtask": result.failed_subtask}),
                    kept=False, nbytes=result.episode.nbytes)
        report.num_failed_kept += 1


def _run_writing_beside(sources: SourceSet, spec: MimicSpec, opts: GenerateOptions, report: GenerateReport,
                        run: Run, committed: set[int], trace: AttemptTrace) -> None:
    """``_run`` with the run's writes and commits carried out by a writer thread (lerobot imported there
    while the workers start); returns, or lets the run's error through, once every queued write is done."""
    writer = WriterThread(run, start=False)  # started once the workers exist (they may be forked)

    def workers_started() -> None:
        writer.start()
        writer.call("prepare")  # lerobot's and matplotlib's imports overlap the workers' first attempts
        writer.call(import_pyplot)

    try:
        _run(sources, spec, opts, report, run, writer, committed, trace, workers_started)
    finally:
        _join(writer)
    if report.num_successes == 0:
        raise GenerationError(f"no attempt succeeded in {report.num_attempts} attempts (failures per subtask: "
                              f"{report.failures_per_subtask}); check the seed demos and the spec's offsets/noise")


def _join(writer: WriterThread) -> None:
    """Wait for the writer thread even through Ctrl-C: the run is committed or aborted only after it."""
    while True:
        try:
            writer.join()
            return
        except KeyboardInterrupt:
            continue


def _run(sources: SourceSet, spec: MimicSpec, opts: GenerateOptions, report: GenerateReport, run: Run,
         writer: WriterThread, committed: set[int], trace: AttemptTrace, started: Callable[[], None]) -> None:
    max_failures, spec_digest = spec.max_failures(opts.num_trials), spec_attrs(spec)["spec_digest"]
    if _finished(report, opts.num_trials):
        return
    done = report.num_successes if report.guarantee else report.num_attempts
    with tqdm(total=opts.num_trials, initial=done, desc="generate", unit="demo" if report.guarantee else "attempt",
              disable=not opts.progress) as bar:
        for result in ordered_results(sources, spec, opts.num_envs, report.num_attempts, opts.executor, opts.address,
                                      started):
            report.add(result)
            trace.add(result)
            if result.index not in committed:  # saved before a crash: counted, not repeated
                _file(writer, run, result, report, spec_digest)
            writer.call("commit_if_due", _progress(report))
            bar.update(1 if (result.success or not report.guarantee) else 0)
            bar.set_postfix_str(_live_status(report))
            if _finished(report, opts.num_trials):
                break
            if report.num_failures >= max_failures:
                report.stopped_by_failure_bound = True
                break


def _live_status(report: GenerateReport) -> str:
    """``attempts 40, success 85%, failed at subtask 3: 5, 1: 1`` (tqdm adds rate and ETA)."""
    where = ", ".join(f"{k}: {v}" for k, v in sorted(report.failures_per_subtask.items(), key=lambda kv: -kv[1]))
    return f"attempts {report.num_attempts}, success {report.success_rate:.0%}" + \
        (f", failed at subtask {where}" if where else "")


def _progress(report: GenerateReport) -> dict[str, Any]:
    return {key: getattr(report, key) for key in PROGRESS}


def _finished(report: GenerateReport, num_trials: int) -> bool:
    count = report.num_successes if report.guarantee else report.num_attempts
    return count >= num_trials


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(data, indent=2, default=str))
