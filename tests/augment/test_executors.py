"""Executors: attempts come back in index order whatever the workers' timing, the same from any worker
count, and a worker that dies is one clear error."""

import multiprocessing
import os
import pickle
import signal
import struct
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import pytest

from augment import executors
from augment.executors import AttemptWorker, _check_reachable, _in_index_order, _result_unless_stuck, ordered_results
from augment.source import load_sources
from augment.spec import load_mimic_spec
from envs.errors import GenerationError, UsageError


def test_index_order_keeps_a_window_of_submissions_and_starts_where_asked():
    submitted = []

    def submit(index):
        submitted.append(index)
        return index

    results = _in_index_order(submit, lambda index: f"attempt {index}", window=3, start=5)
    assert next(results) == "attempt 5"
    assert submitted == [5, 6, 7, 8]  # the window was filled first; one more submitted per result collected
    assert [next(results) for _ in range(3)] == ["attempt 6", "attempt 7", "attempt 8"]
    assert submitted == [5, 6, 7, 8, 9, 10, 11]


STARTED = []


def record_start(*args):
    STARTED.append(args)


def test_a_worker_start_is_bytes_whose_unpickling_starts_the_worker(monkeypatch):
    """What the pool passes each worker (``pickle.loads`` of these bytes is its initializer)."""
    monkeypatch.setattr(executors, "_init_process", record_start)
    payload = pickle.dumps(executors._WorkerStart({"demo": [1.0] * 3}, "spec", 7))
    assert STARTED == []
    pickle.loads(payload)
    assert STARTED == [({"demo": [1.0, 1.0, 1.0]}, "spec", 7)]


@pytest.fixture(scope="module")
def sources_and_spec(annotated):
    sources = load_sources(annotated)
    return sources, load_mimic_spec(env_id=sources.env_id)


@pytest.mark.slow
def test_two_processes_give_the_in_process_attempts_in_order(sources_and_spec):
    sources, spec = sources_and_spec
    worker = AttemptWorker(sources, spec)
    expected = [worker.attempt(i) for i in (3, 4, 5)]
    worker.env.close()
    stream = ordered_results(sources, spec, num_envs=2, start=3)
    got = [next(stream) for _ in range(3)]
    stream.close()
    assert [r.index for r in got] == [3, 4, 5]
    for a, b in zip(expected, got, strict=True):
        assert a.success == b.success and (a.episode.actions == b.episode.actions).all()
        assert (a.episode.states == b.episode.states).all()


def test_workers_are_forked_on_linux_and_spawned_elsewhere_or_for_the_egl_renderer(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    assert executors.worker_start_method({"renderer": "tiny"}) == "fork"
    assert executors.worker_start_method({}) == "fork"
    assert executors.worker_start_method({"renderer": "egl"}) == "spawn"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert executors.worker_start_method({}) == "spawn"


@pytest.mark.slow
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_started_is_called_once_every_worker_exists_and_both_start_methods_agree(sources_and_spec, monkeypatch,
                                                                                  method):
    """The caller's threads start in ``started``: by then every worker process exists (none is forked beside a
    thread); forked and spawned workers give the same attempts."""
    sources, spec = sources_and_spec
    monkeypatch.setattr(executors, "worker_start_method", lambda env_kwargs: method)
    def children() -> set[int]:
        return {process.pid for process in multiprocessing.active_children()}

    before, new_at_start = children(), []  # processes of earlier tests may still be ending
    stream = ordered_results(sources, spec, num_envs=2, start=1,
                             started=lambda: new_at_start.append(len(children() - before)))
    got = [next(stream) for _ in range(2)]
    stream.close()
    assert new_at_start == [2]
    inline = ordered_results(sources, spec, num_envs=1, start=1, executor="inline")
    for a, b in zip([next(inline) for _ in range(2)], got, strict=True):
        assert a.index == b.index and (a.episode.actions == b.episode.actions).all()
        assert (a.episode.states == b.episode.states).all()
    inline.close()


@pytest.mark.slow
def test_one_worker_process_gives_the_inline_attempts(sources_and_spec):
    """``--num-envs 1`` runs its attempts in a worker process (so that writing runs beside them) and gives
    exactly what ``--executor inline`` gives in this process."""
    sources, spec = sources_and_spec
    inline, process = (ordered_results(sources, spec, num_envs=1, start=2, executor=name)
                       for name in ("inline", "process"))
    for a, b in zip([next(inline) for _ in range(2)], [next(process) for _ in range(2)], strict=True):
        assert a.index == b.index and a.success == b.success
        assert (a.episode.actions == b.episode.actions).all() and (a.episode.states == b.episode.states).all()
    inline.close()
    process.close()


def test_the_throughput_benchmarks_bare_loop_steps_an_attempts_own_physics(sources_and_spec):
    """``scripts/bench_throughput.py`` compares a worker's attempts with a bare loop of their motor commands: that
    loop must step the very same physics (the same world, bit for bit, after the attempt's last step)."""
    from augment.generator import GENERATE_STREAM
    from recorder.dataset.tasks import episode_seed, make_env
    from scripts.bench_env import recording_motor_commands, replay_motor_commands

    sources, spec = sources_and_spec
    worker, bare = AttemptWorker(sources, spec), make_env(sources.env_id, **sources.env_kwargs)
    try:
        with recording_motor_commands(worker.env) as commands:
            result = worker.attempt(1)
        replay_motor_commands(bare, episode_seed(spec.generation.seed, GENERATE_STREAM, 1), commands)
        assert len(commands) == len(result.episode)
        assert (bare.get_flat_state() == worker.env.get_flat_state()).all()
    finally:
        worker.env.close()
        bare.close()


def test_inline_runs_one_env():
    from augment.runner import GenerateOptions, check_options

    with pytest.raises(UsageError, match="--executor inline runs one env in this process; drop --num-envs 2"):
        check_options(GenerateOptions("in.hdf5", 5, num_envs=2, executor="inline"))
    check_options(GenerateOptions("in.hdf5", 5, num_envs=1, executor="inline"))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="pipe sizes are a Linux setting")
def test_the_result_pipe_holds_a_whole_state_only_result():
    import fcntl
    from pathlib import Path

    pool = ProcessPoolExecutor(1)
    try:
        default = fcntl.fcntl(pool._result_queue._reader.fileno(), fcntl.F_GETPIPE_SZ)
        executors._widen_result_pipe(pool)
        size = fcntl.fcntl(pool._result_queue._reader.fileno(), fcntl.F_GETPIPE_SZ)
    finally:
        pool.shutdown()
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    assert size == max(default, min(executors.RESULT_PIPE_BYTES, limit))


def test_a_worker_that_dies_is_a_generation_error(sources_and_spec):
    sources, spec = sources_and_spec
    broken = replace(sources, env_kwargs={**sources.env_kwargs, "difficulty": "D9"})  # the worker's env fails
    with pytest.raises(GenerationError, match="a generation worker process died"):
        next(ordered_results(broken, spec, num_envs=2))


def _die_while_sending_a_result() -> None:
    """In a pool worker: write the start of a result message to the pool's result pipe, then SIGKILL itself
    (what a worker killed in the middle of sending a large result leaves behind)."""
    frame = sys._getframe()
    while "result_queue" not in frame.f_locals:  # the pool's worker loop, which called this task
        frame = frame.f_back
    writer = frame.f_locals["result_queue"]._writer
    os.write(writer.fileno(), struct.pack("!i", 1000) + b"x" * 10)  # multiprocessing's header: 10 of 1000 bytes
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.timeout(120)  # without the watchdog the pool's reader waits for the other 990 bytes forever
def test_a_worker_killed_while_sending_its_result_breaks_the_pool_instead_of_hanging():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(BrokenProcessPool):
            _result_unless_stuck(pool, pool.submit(_die_while_sending_a_result), poll_s=0.5)


def test_an_unreachable_ray_address_fails_at_once():
    with pytest.raises(UsageError, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        _check_reachable("127.0.0.1:9")
    _check_reachable("auto")  # no host:port: left to Ray


def test_a_local_ray_run_prints_nothing_but_its_summary(annotated, tmp_path):
    """`--executor ray --quiet` starts and stops a local Ray instance without Ray's notes on stderr (Ray 2.5x warns
    that such a cluster enabled token authentication); `-v` would show them."""
    env = {**os.environ, "MIMICREC_DATASET_ROOT": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "recorder.cli", "generate", str(annotated), "--num-trials", "1",
                           "--executor", "ray", "--num-envs", "1", "--out", str(tmp_path / "ray"), "--quiet"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("attempts ")
