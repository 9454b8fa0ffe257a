"""The ``mimicrec`` command line: a thin layer over the library functions of each step.

Every expected failure prints one line ``mimicrec <command>: error: ...`` on stderr and exits
non-zero (2 for bad input); nothing half-written is left behind.
"""

from __future__ import annotations

import _thread
import argparse
import errno
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from envs.config import SEED_LIMIT
from envs.errors import MimicrecError, RunInterrupted, UsageError, counted
from recorder.imports import exit_now

VIDEO_CODECS = ("av1", "h264", "hevc")  # recorder.dataset.writers.lerobot_writer.VIDEO_CODECS (a test keeps them equal)

Handler = Callable[[argparse.Namespace], int]


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports usage errors as a single line and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D102
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def _cmd_record(args: argparse.Namespace) -> int:
    from recorder.dataset.tasks import camera_kwargs
    from recorder.record import RecordOptions, record

    res = record(RecordOptions(args.task, args.num_demos, args.seed, args.out, args.difficulty, args.device,
                               args.action_mode, camera_kwargs(args.cameras, args.image_size),
                               args.gui or args.preview, progress=not args.quiet, sensitivity=args.sensitivity,
                               steps_after_success=args.steps_after_success, keep_failed=args.keep_failed,
                               save=not (args.preview or args.no_save), resume=args.resume, robot=args.robot,
                               video_codec=args.video_codec, max_attempts=args.max_attempts))
    stopped = ""
    if res.interrupted:
        stopped = f" (stopped early: `mimicrec record --resume {res.out_dir}` records the rest)" if res.out_dir \
            else " (stopped early)"
    if res.out_dir is None:
        print(f"{counted(res.num_saved, 'successful episode')} of {counted(res.num_attempts, 'attempt')} "
              f"({res.wall_time_s:.1f} s){stopped}; "
              "nothing saved (--preview / --no-save)")
        return 0
    print(f"the run holds {counted(res.num_saved, 'demo')} from {counted(res.num_attempts, 'attempt')} "
          f"({res.wall_time_s:.1f} s){stopped}")
    if res.num_saved:
        print(f"  hdf5:    {res.hdf5_path}\n  lerobot: {res.lerobot_path}")
    if res.num_failed_kept:
        print(f"  failed:  {counted(res.num_failed_kept, 'episode')} in {res.out_dir / 'failed'}")
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    from augment.annotate import annotate

    res = annotate(args.input, args.out, "manual" if args.manual else "auto", args.config)
    print(f"annotated {counted(len(res.kept), 'demo')} -> {res.out_path}")
    for name, reason in res.rejected.items():
        print(f"  left out {name}: {reason}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from augment.runner import GenerateOptions, generate

    guarantee = False if args.no_guarantee else None
    from recorder.dataset.tasks import camera_kwargs

    if args.commit_every <= 0:
        raise UsageError(f"--commit-every must be positive, got {args.commit_every}")
    if not args.input and not args.resume:
        raise UsageError("pass the annotated INPUT file, or --resume DIR to continue a run")
    rep = generate(GenerateOptions(args.input or "", args.num_trials, args.num_envs, args.seed, args.out, args.config,
                                   guarantee, camera_kwargs(args.cameras, args.image_size), progress=not args.quiet,
                                   keep_failed=True if args.keep_failed else None, resume=args.resume,
                                   commit_every_s=args.commit_every, executor=args.executor, address=args.address,
                                   robot=args.robot, difficulty=args.difficulty,
                                   task_settings=tuple(args.task_settings), transit=args.transit,
                                   video_codec=args.video_codec))
    made = rep.num_successes - rep.resumed_successes
    if rep.resumed_successes and not made:
        print(f"attempts {rep.num_attempts}, successes {rep.num_successes}, success rate {rep.success_rate:.1%}: "
              f"nothing left to make for a total of {rep.num_trials} (`--resume {args.resume} --num-trials N` "
              "makes more)")
    else:
        now = f" ({made} made now)" if rep.resumed_successes else ""
        print(f"attempts {rep.num_attempts}, successes {rep.num_successes}{now}, success rate {rep.success_rate:.1%}, "
              f"{rep.demos_per_minute:.1f} demos/min ({rep.wall_time_s:.1f} s, {rep.num_envs} envs)")
    print(f"  hdf5:    {rep.output_hdf5}\n  lerobot: {rep.output_lerobot}")
    if rep.keep_failed:
        print(f"  failed:  {rep.num_failed_kept} failures kept in {Path(rep.output_hdf5).parent / 'failed'} "
              "(attr failed_subtask: where each failed)")
    if rep.stopped_by_failure_bound:
        print(f"mimicrec generate: error: stopped after {rep.num_failures} failures (the failure bound); "
              "the successes so far are saved; raise generation.max_num_failures or check the seeds",
              file=sys.stderr)
        return 1
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from recorder.policy.train import TrainOptions, train

    res = train(TrainOptions(args.dataset, args.algo, args.obs, args.epochs, args.steps_per_epoch, args.batch_size,
                             args.rollouts, args.rollout_every, seed=args.seed, out=args.out, config=args.config,
                             overrides=tuple(args.overrides), progress=not args.quiet, init=args.init,
                             pick_rollouts=args.pick_rollouts))
    print(f"trained {args.algo} for {len(res.losses)} epochs in {res.wall_time_s:.1f} s, "
          f"final loss {res.final_loss:.4f}")
    if res.best_epoch is not None:
        print(f"  rollout success by epoch: {', '.join(f'{e}: {r:.0%}' for e, r in res.success.items())}; "
              f"model.pth is epoch {res.best_epoch}")
    if res.pick:
        print(f"  picked by {args.pick_rollouts} more rollouts each: "
              f"{', '.join(f'epoch {e}: {r:.0%}' for e, r in res.pick.items())} ({res.out_dir / 'pick.json'})")
    print(f"  checkpoint: {res.checkpoint} (the last epoch's: {res.out_dir / 'last.pth'})\n"
          f"  log:        {res.log_path}\n"
          f"  progress:   {res.out_dir / 'progress.csv'}, {res.out_dir / 'training.png'}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from envs.config import parse_key_values
    from recorder.policy.evaluate import evaluate

    settings = parse_key_values(args.task_settings, "--set", "rollout.success_hold_steps=1")
    res = evaluate(args.checkpoint, args.num_rollouts, args.seed, args.task, progress=not args.quiet, video=args.video,
                   max_steps=args.horizon, difficulty=args.difficulty, settings=settings)
    print(res.line())
    if res.num_successes < res.num_rollouts:
        stages = ", ".join(f"{name} {count}" for name, count in res.failures_by_stage.items())
        print(f"  failures by the first subtask signal never raised: {stages}")
    if args.video:
        print(f"  video: {args.video}")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    from recorder.dataset.paths import prepare_output_file
    from recorder.dataset.replay import DemoReplay, replay
    from recorder.dataset.video import ReplayViews

    if args.size < 16 or args.size > 1024:
        raise UsageError(f"--size must be between 16 and 1024 pixels, got {args.size}")
    prepare_output_file(args.video)
    prepare_output_file(args.sheet)
    done: list[DemoReplay] = []

    def show(r: DemoReplay) -> None:  # each demo's line as soon as it is replayed
        done.append(r)
        state = "states identical" if r.states_identical else "STATES DIFFER"
        print(f"{r.name}: {r.steps} steps, recorded success {r.recorded_success}, "
              f"replay success {r.replay_success}, {state}", flush=True)

    try:
        results = replay(args.file, args.demo, ReplayViews(args.video, args.sheet, args.size), show)
    except KeyboardInterrupt as err:
        if not done:
            raise
        raise RunInterrupted(f"{sum(r.good for r in done)} of the {len(done)} demos replayed replay exactly") from err
    good = sum(r.good for r in results)
    written = [f"{kind}: {path}" for kind, path in (("video", args.video), ("contact sheet", args.sheet)) if path]
    print(f"{good} of {len(results)} demos replay exactly" + "".join(f"; {w}" for w in written))
    return 0 if good == len(results) else 1


def _cmd_info(args: argparse.Namespace) -> int:
    from recorder.dataset.info import dataset_info

    for info in dataset_info(args.path):
        print("\n".join(info.lines()))
    return 0


def _seed(value: str) -> int:
    """A ``--seed``: an integer from 0 to ``SEED_LIMIT - 1``."""
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if not 0 <= seed < SEED_LIMIT:
        raise argparse.ArgumentTypeError(f"{value!r} is not a seed; pass an integer from 0 to {SEED_LIMIT - 1}")
    return seed


def _demo_index(value: str) -> int:
    """``--demo``'s K, given as ``K`` or as the HDF5 group's name ``demo_K``."""
    digits = value.removeprefix("demo_")
    if not digits.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a demo; pass its number K or its name demo_K")
    return int(digits)


def _add_camera_flags(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--cameras", nargs="+", metavar="NAME",
                     help="record images from these cameras: agentview, robot0_eye_in_hand")
    sub.add_argument("--image-size", type=int, help="square image size of --cameras, in pixels (default: 84)")
    _add_video_codec_flag(sub)


def _add_video_codec_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--video-codec", choices=VIDEO_CODECS, default="av1",
                     help="codec of the LeRobot dataset's camera videos: av1 (lerobot's default), h264 (~3.5x cheaper "
                          "to encode at 84x84, smaller there) or hevc (default: %(default)s)")


def _add_common(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_argument("-v", "--verbose", action="store_true", help="log details (e.g. each discarded attempt)")


def _record_parser(subs) -> None:
    sub = subs.add_parser("record", help="record seed demos (keyboard, SpaceMouse or scripted)",
                          description="Record successful seed demos into DIR/demos.hdf5 and DIR/lerobot/.")
    sub.add_argument("--task", default="mimicrec/StackThree-v0",
                     help="a task id (`mimicrec tasks` lists them) or the path of a task file or its folder "
                          "(default: %(default)s)")
    sub.add_argument("--device", default="scripted",
                     help="scripted (the task's action bank), keyboard (opens the viewer) or spacemouse "
                          "(default: %(default)s)")
    sub.add_argument("--sensitivity", type=float, default=1.0, help="teleoperation speed scale (default: 1.0)")
    sub.add_argument("--num-demos", type=int, help="successful demos to save (default: 10; with --resume, the "
                                                    "total the run was started with)")
    sub.add_argument("--max-attempts", type=int, metavar="M",
                     help="episodes to try before giving up (default: scripted 2 x the demos still wanted + 10, "
                          "teleoperation no limit)")
    sub.add_argument("--steps-after-success", type=int, default=0, metavar="N",
                     help="keep recording N steps after success (default: 0)")
    sub.add_argument("--keep-failed", action="store_true", help="also save failed episodes, to DIR/failed/")
    sub.add_argument("--preview", action="store_true", help="open the viewer and run without saving")
    sub.add_argument("--no-save", action="store_true", help="run the loop but write nothing to disk")
    sub.add_argument("--difficulty", default="D0", help="randomization level: D0, D1, D2 (default: %(default)s)")
    sub.add_argument("--action-mode", help="delta_eef, abs_eef or joint_pos (default: the task's gym.yaml "
                                           "robot.action_mode; delta_eef for the built-in tasks)")
    sub.add_argument("--gui", action="store_true", help="show pybullet's viewer while recording (needs a display)")
    sub.add_argument("--robot", help="record with this robot instead of the task's: panda, iiwa, xarm6 or a robot "
                     "file (.yaml/.json)")
    _add_camera_flags(sub)
    sub.add_argument("--seed", type=_seed, default=0, help="base seed of the episode scenes (default: %(default)s)")
    sub.add_argument("--out", help="output folder (default: next datasets/record_NNN)")
    sub.add_argument("--resume", metavar="DIR",
                     help="continue an interrupted or finished run in DIR (its task, scene options and next "
                          "seeds) until it holds --num-demos demos; finishes its files")
    sub.set_defaults(handler=_cmd_record)


def _annotate_parser(subs) -> None:
    sub = subs.add_parser("annotate", help="mark subtask boundaries and store Mimic data",
                          description="Replay each demo exactly, store datagen_info and subtask ends.")
    sub.add_argument("input", help="HDF5 file from `mimicrec record`")
    mode = sub.add_mutually_exclusive_group()
    mode.add_argument("--auto", action="store_true", help="boundaries from the task's subtask signals (default)")
    mode.add_argument("--manual", action="store_true",
                      help="mark boundaries by hand, each demo replaying in the viewer (needs a display)")
    sub.add_argument("--out", help="output HDF5 (default: INPUT_annotated.hdf5)")
    sub.add_argument("--config", help="Mimic spec (default: configs/<Task>/mimic.yaml)")
    sub.set_defaults(handler=_cmd_annotate)


def _generate_parser(subs) -> None:
    sub = subs.add_parser("generate", help="generate new demos from annotated seeds",
                          description="Generate demos; --num-trials counts successes unless --no-guarantee.")
    sub.add_argument("input", nargs="?", help="annotated HDF5 file from `mimicrec annotate` (not with --resume)")
    sub.add_argument("--num-trials", type=int, default=0,
                     help="successful demos wanted (attempts with --no-guarantee); with --resume, the run's total "
                          "(default there: the total the run was started with)")
    sub.add_argument("--num-envs", type=int, default=os.cpu_count() or 1,
                     help="workers, each with its own env: processes, or Ray actors (default: this machine's cores)")
    sub.add_argument("--executor", default="process", choices=("process", "ray", "inline"),
                     help="process: local worker processes; ray: Ray actors, pip install 'mimicrec[ray]'; "
                          "inline: one env in this process, for debugging (default: %(default)s)")
    sub.add_argument("--address", help="with --executor ray: the cluster to join, e.g. auto or HOST:6379 "
                                       "(default: start a local Ray instance)")
    sub.add_argument("--no-guarantee", action="store_true", help="stop after N attempts instead of N successes")
    sub.add_argument("--robot", help="generate on this robot instead of the seeds' (robot transfer): panda, iiwa, "
                     "xarm6 or a robot file (.yaml/.json)")
    sub.add_argument("--difficulty", help="generate at this randomization level (D0, D1, D2) instead of the seeds'")
    sub.add_argument("--transit", choices=("interpolate", "plan", "auto"),
                     help="how every subtask's arm reaches its segment: interpolate (straight), plan (collision-free "
                          "path around the scene) or auto (planned only where the straight one would collide) "
                          "(default: each subtask's transit in the spec)")
    sub.add_argument("--set", dest="task_settings", action="append", default=[], metavar="KEY=VALUE",
                     help="change the seeds' task: a task-file key path and a YAML value, e.g. "
                          "scene.objects.cube_red.scale=1.2 or randomization.D1.yaw=[-1,1] (repeatable)")
    sub.add_argument("--seed", type=_seed, help="generation seed (default: the spec's generation.seed)")
    sub.add_argument("--config", help="Mimic spec (default: configs/<Task>/mimic.yaml)")
    sub.add_argument("--out", help="output folder (default: next datasets/generate_NNN)")
    sub.add_argument("--keep-failed", action="store_true",
                     help="also save failed attempts to DIR/failed/ (default: the spec's generation.keep_failed)")
    sub.add_argument("--resume", metavar="DIR", help="continue a run killed or stopped in DIR (same input, seed, "
                                                     "spec) to --num-trials; no demo is lost or repeated")
    sub.add_argument("--commit-every", type=float, default=30.0, metavar="S",
                     help="commit both datasets every S seconds; a crash loses at most that (default: %(default)s)")
    _add_camera_flags(sub)
    sub.set_defaults(handler=_cmd_generate)


def _train_parser(subs) -> None:
    sub = subs.add_parser("train", help="train a robomimic policy on an HDF5 dataset",
                          description="Train robomimic BC or BC-RNN; rollouts in the task during training pick "
                                      "the best checkpoint, written as DIR/model.pth (the last epoch's: "
                                      "DIR/last.pth).")
    sub.add_argument("dataset", help="HDF5 dataset")
    sub.add_argument("--algo", default="bc-rnn", help="bc or bc-rnn (default: %(default)s)")
    sub.add_argument("--obs", default="low-dim", help="low-dim or image (the dataset's cameras + proprioception) "
                                                      "(default: %(default)s)")
    sub.add_argument("--epochs", type=int, help="training epochs (default: the task template, else 50)")
    sub.add_argument("--steps-per-epoch", type=int, help="gradient steps per epoch (default: template, else 100)")
    sub.add_argument("--batch-size", type=int, help="batch size (default: template, else 100)")
    sub.add_argument("--rollouts", type=int, help="rollouts per evaluation during training; 0: none "
                                                  "(default: template, else 10)")
    sub.add_argument("--rollout-every", type=int, metavar="E", help="evaluate every E epochs (default: template, "
                                                                    "else 10)")
    sub.add_argument("--config", help="YAML/JSON file of robomimic config values, applied after the template")
    sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="one robomimic config value, e.g. algo.rnn.hidden_dim=400 (repeatable; applied last)")
    sub.add_argument("--init", metavar="CHECKPOINT",
                     help="start from this checkpoint's network weights (e.g. a finished run's DIR/last.pth)")
    sub.add_argument("--pick-rollouts", type=int, default=0, metavar="N",
                     help="pick model.pth among the 3 best rollout checkpoints and the last one by N fresh "
                          "rollouts each (default: 0, the best training rollout score)")
    sub.add_argument("--seed", type=_seed, default=1, help="training seed (default: %(default)s)")
    sub.add_argument("--out", help="output folder (default: next datasets/train_NNN)")
    sub.set_defaults(handler=_cmd_train)


def _eval_parser(subs) -> None:
    sub = subs.add_parser("eval", help="evaluate a checkpoint by rollouts in the env",
                          description="Roll a robomimic checkpoint out in its task; report the success rate.")
    sub.add_argument("checkpoint", help="model.pth from `mimicrec train`")
    sub.add_argument("--num-rollouts", type=int, default=20, help="episodes (default: %(default)s)")
    sub.add_argument("--task", help="task id or task file path (default: the one the policy was trained on)")
    sub.add_argument("--seed", type=_seed, default=0, help="base seed of the rollout scenes (default: %(default)s)")
    sub.add_argument("--video", metavar="FILE.mp4", help="also write every rollout to one mp4 (agentview, 256x256)")
    sub.add_argument("--horizon", type=int, metavar="STEPS",
                     help="control steps a rollout may take (default: the task's episode length)")
    sub.add_argument("--difficulty", help="roll out at this randomization level (D0, D1, D2) instead of the policy's")
    sub.add_argument("--set", dest="task_settings", action="append", default=[], metavar="KEY=VALUE",
                     help="change the policy's task: a task-file key path and a YAML value, e.g. "
                          "rollout.success_hold_steps=1 or logic.success='...' (repeatable)")
    sub.set_defaults(handler=_cmd_eval)


def _replay_parser(subs) -> None:
    sub = subs.add_parser("replay", help="replay demos from their stored initial state",
                          description="Replay each demo's actions from its exact initial state (a LeRobot "
                                      "episode: from its seed); report whether it still succeeds and its states "
                                      "match. Exit 1 if any does not.")
    sub.add_argument("file", help="HDF5 dataset, or a LeRobot dataset folder mimicrec wrote")
    sub.add_argument("--demo", type=_demo_index, metavar="K",
                     help="replay only demo_K (K or demo_K; episode K of a LeRobot dataset)")
    sub.add_argument("--video", metavar="OUT.mp4", help="also write an agentview video of the replay")
    sub.add_argument("--sheet", metavar="OUT.png", help="also write a contact sheet: each demo's first and last "
                                                        "frame, captioned (the first 24 demos)")
    sub.add_argument("--size", type=int, default=256, help="frame size in pixels for --video and --sheet "
                                                           "(default: %(default)s)")
    sub.set_defaults(handler=_cmd_replay)


def _convert_parser(subs) -> None:
    sub = subs.add_parser("convert", help="convert an HDF5 file to a LeRobot dataset, or back",
                          description="HDF5 -> LeRobot copies the episodes; LeRobot -> HDF5 (datasets written by "
                                      "mimicrec) replays each episode from its seed to rebuild exact states.")
    sub.add_argument("input", help="an .hdf5 file or a LeRobot dataset folder")
    sub.add_argument("--to", required=True, choices=("lerobot", "hdf5"), help="the output format")
    sub.add_argument("output", help="the new dataset (a folder for lerobot, a file for hdf5); must not exist")
    _add_video_codec_flag(sub)
    sub.set_defaults(handler=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from recorder.dataset.convert import convert

    count = convert(args.input, args.to, args.output, args.video_codec, progress=not args.quiet)
    print(f"converted {counted(count, 'episode')}: {args.output}")
    return 0


def _cmd_tasks(args: argparse.Namespace) -> int:
    from pathlib import Path

    from envs.catalog import builtin_summaries, folder_summaries
    from envs.robot_config import builtin_robots

    summaries, broken = builtin_summaries(), []
    if args.folder:
        found, broken = folder_summaries(Path(args.folder))
        summaries += found
    for s in summaries:
        print(f"{s.env_id}  ({s.source})\n  objects: {', '.join(s.objects)}; robots: {', '.join(s.robots)}; levels: "
              f"{', '.join(s.levels)}; subtask signals: {', '.join(s.subtask_signals) or '-'}; "
              f"episode limit {s.max_episode_steps}\n  {s.instruction}")
    print(f"robots (--robot, scene.robots[].robot): {', '.join(builtin_robots())}, or a robot file's path")
    for line in broken:
        print(f"mimicrec tasks: error: {line}", file=sys.stderr)
    return 2 if broken else 0


def _tasks_parser(subs) -> None:
    sub = subs.add_parser("tasks", help="list the built-in tasks and the task files in a folder",
                          description="List the built-in tasks and, with FOLDER, every task file under it "
                                      "(any YAML/JSON file with task, scene and logic keys); a broken one is "
                                      "reported with its error and the exit code is 2.")
    sub.add_argument("folder", nargs="?", help="a folder to search for task files")
    sub.set_defaults(handler=_cmd_tasks)


def _info_parser(subs) -> None:
    sub = subs.add_parser("info", help="summarize a dataset (HDF5, LeRobot folder, or a run folder)",
                          description="Episodes, lengths, features, successes and annotations of a dataset.")
    sub.add_argument("path", help="an .hdf5 file, a LeRobot dataset folder, or a run folder holding them")
    sub.set_defaults(handler=_cmd_info)


def build_parser() -> argparse.ArgumentParser:
    """The full ``mimicrec`` parser with every subcommand."""
    parser = OneLineParser(prog="mimicrec", description="Turn a handful of robot demos into thousands.")
    subs = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for add in (_record_parser, _annotate_parser, _generate_parser, _train_parser, _eval_parser,
                _replay_parser, _info_parser, _convert_parser, _tasks_parser):
        add(subs)
    for sub in subs.choices.values():
        _add_common(sub)
    for name in ("annotate", "generate", "replay", "train"):
        _add_dataset_task_flag(subs.choices[name])
    return parser


def _add_dataset_task_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--task", dest="dataset_task", metavar="TASK",
                     help="the dataset's task file or folder (or id), whose mimic.yaml and train.yaml are used; "
                          "the dataset's stored definition still builds the env (default: where it was recorded)")


def use_dataset_task(args: argparse.Namespace) -> None:
    """``--task`` on a dataset command: register that task's file (so its sibling configs are found) before the
    dataset is read; it must be the dataset's task."""
    task = getattr(args, "dataset_task", None)
    if task is None:
        return
    import envs
    from recorder.dataset.reading import dataset_env, open_dataset
    from recorder.dataset.run import read_run_file

    task_id = envs.resolve_task(task)
    dataset = (getattr(args, "input", None) or getattr(args, "file", None) or getattr(args, "dataset", None)
               or read_run_file(args.resume, "generate")["input_path"])
    with open_dataset(dataset) as file:
        env_id, _ = dataset_env(file)
    if env_id != task_id:
        raise UsageError(f"--task {task} is {task_id!r} but {dataset} holds {env_id!r}; pass that task's file or id")


def os_error_line(err: OSError) -> str:
    """One line for an ``OSError``: what the system said and the file, with what to do for the usual causes."""
    if err.errno is None:  # raised by HDF5 on a file it cannot read
        return f"a dataset file cannot be read ({' '.join(str(err).split())}); it is damaged or was not copied " \
               "whole: copy it again"
    where = f": {err.filename}" if err.filename else ""
    reason = os.strerror(err.errno)  # the system's words (HDF5 and pyarrow wrap them in lines of their own)
    hint = {errno.ENOSPC: "free some space, then rerun with --resume where the command has it",
            errno.EACCES: "make the folder writable, then rerun (with --resume where the command has it)",
            errno.EROFS: "make the folder writable, then rerun (with --resume where the command has it)"}.get(
        err.errno, "check the path and rerun")
    return f"{reason or err}{where}; {hint}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mimicrec`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        use_dataset_task(args)
        return args.handler(args)
    except MimicrecError as err:
        print(f"mimicrec {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)  # one line, always
        return err.exit_code
    except OSError as err:  # the disk, the file system or HDF5 refused: one line, never a traceback
        if isinstance(err, BrokenPipeError) and _stdout_is_broken():  # its reader left (`... | head`): no more
            return 141  # as a shell reports a process that SIGPIPE ended
        logging.getLogger(__name__).debug("details", exc_info=True)
        print(f"mimicrec {args.command}: error: {os_error_line(err)}", file=sys.stderr)
        return 1 if err.errno is not None else 2
    except KeyboardInterrupt as err:  # a run's RunInterrupted says what it kept and how to go on
        print(f"mimicrec {args.command}: interrupted{f'; {err}' if str(err) else ''}", file=sys.stderr)
        return 130


def _stdout_is_broken() -> bool:
    """Whether standard output is a pipe whose reader is gone (poll reports an error on its end); if so, what
    is still buffered for it goes to /dev/null instead (its flush at exit would fail again)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        broken = any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll here, or no file behind stdout
        return False
    if broken:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return broken


def console_main() -> NoReturn:
    """The ``mimicrec`` console script and ``python -m recorder.cli``: ``main``, then a quick exit
    (``recorder.imports.exit_now``: every file is closed and every thread joined by then)."""
    sys.unraisablehook = _interrupts_kept
    exit_now(main())


def _interrupts_kept(unraisable) -> None:
    """``sys.unraisablehook`` that does not lose Ctrl-C: a KeyboardInterrupt raised while Python runs a finalizer
    or a weakref callback cannot propagate and is dropped (the command would run on to its end), so it is sent
    again from another thread, to land in the code that runs once this hook has returned; anything else goes to
    the default hook."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        again = threading.Timer(0.01, _thread.interrupt_main)  # once this hook has returned
        again.daemon = True
        again.start()
        return
    sys.__unraisablehook__(unraisable)


if __name__ == "__main__":
    console_main()
