"""Where generation attempts run: in local worker processes, as Ray actors on a cluster, or in this process.

Every executor yields attempt results in index order ``start, start + 1, ...``. An attempt's outcome
depends only on its index, the seed and the spec, so the output is the same whatever runs it.
Each worker builds its env once and keeps a bounded window of attempts in flight. ``process`` uses
worker processes for any count, one included, so that this process's writing runs beside them;
``inline`` runs attempts here, one after another (a debugger or profiler sees them; errors show whole).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path
from typing import Any

from augment.generator import AttemptResult, run_attempt
from augment.source import SourceSet
from augment.spec import MimicSpec
from envs.errors import GenerationError, UsageError
from recorder.dataset.tasks import make_env

EXECUTORS = ("process", "ray", "inline")
log = logging.getLogger(__name__)


class AttemptWorker:
    """One env and the run's inputs; runs whole attempts by index."""

    def __init__(self, sources: SourceSet, spec: MimicSpec) -> None:
        self.env = make_env(sources.env_id, **sources.env_kwargs)
        self.sources, self.spec = sources, spec

    def attempt(self, index: int) -> AttemptResult:
        """Run attempt ``index`` (its random draws come from the seed and the index alone)."""
        start = time.perf_counter()
        result = run_attempt(self.env, self.sources, self.spec, index)
        return replace(result, worker_s=time.perf_counter() - start)


def ordered_results(sources: SourceSet, spec: MimicSpec, num_envs: int, start: int = 0,
                    executor: str = "process", address: str | None = None,
                    started: Callable[[], None] = lambda: None) -> Iterator[AttemptResult]:
    """Attempt results in index order from ``num_envs`` workers of ``executor`` (``inline``: one, this process).
    ``started`` is called once the workers exist and the first attempts are handed out (the caller's own
    threads start there: a worker forked beside a thread that is importing could wait on its import forever)."""
    if executor == "ray":
        yield from _ray_results(sources, spec, num_envs, start, address, started)
    elif executor == "inline":
        worker = AttemptWorker(sources, spec)
        started()
        index = start
        while True:
            yield worker.attempt(index)
            index += 1
    else:
        yield from _process_results(sources, spec, num_envs, start, started)


# ------------------------------------------------------------------ local processes
_WORKER: dict[str, AttemptWorker] = {}


def _init_process(sources: SourceSet, spec: MimicSpec, parent: int) -> None:
    _exit_with_parent(parent)
    _WORKER["worker"] = AttemptWorker(sources, spec)


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    """End this worker once the generate process that started it is gone (``kill -9`` leaves workers
    waiting on their queue forever otherwise, each holding an env)."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="mimicrec-parent-watch", daemon=True).start()


def _attempt_in_process(index: int) -> AttemptResult:
    return _WORKER["worker"].attempt(index)


class _WorkerStart:
    """A spawned worker's start as bytes (a forked one has its arguments already): unpickling them calls
    ``_init_process(*args)``. The pool hands each new spawned worker its initializer's arguments through a
    pipe that holds 64 KB, and a worker reads on only after importing what the pickle names (~0.3 s), so the
    pool, blocked on the pipe, started the next worker only then (seed demos pickle to 0.4-1 MB). As
    ``pickle.loads`` of bytes, a worker reads them whole at once: every worker starts side by side and
    imports while the others do."""

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __reduce__(self) -> tuple[Callable[..., None], tuple]:
        return _init_process, self.args


def worker_start_method(env_kwargs: dict) -> str:
    """``fork`` on Linux (a worker starts in milliseconds with this process's imports; nothing here runs a
    thread yet when the workers are forked); ``spawn`` elsewhere (macOS's system libraries are not fork-safe)
    and for the EGL renderer (this process has loaded the GPU driver for the run's schema, and a driver's
    state does not survive a fork)."""
    return "fork" if sys.platform == "linux" and env_kwargs.get("renderer") != "egl" else "spawn"


def _process_results(sources: SourceSet, spec: MimicSpec, num_envs: int, start: int,
                     started: Callable[[], None]) -> Iterator[AttemptResult]:
    method, start_args = worker_start_method(sources.env_kwargs), (sources, spec, os.getpid())
    initializer, initargs = ((_init_process, start_args) if method == "fork" else  # a forked worker has them
                             (pickle.loads, (pickle.dumps(_WorkerStart(*start_args)),)))
    pool = ProcessPoolExecutor(num_envs, mp_context=multiprocessing.get_context(method), initializer=initializer,
                               initargs=initargs)
    _widen_result_pipe(pool)
    try:
        yield from _in_index_order(lambda i: pool.submit(_attempt_in_process, i),
                                   lambda future: _result_unless_stuck(pool, future), window=2 * num_envs,
                                   start=start, started=started)
    except BrokenProcessPool as err:
        raise GenerationError(f"a generation worker process died ({err}); "
                              "rerun with --executor inline to see its error") from err
    finally:
        _stop(pool)


RESULT_PIPE_BYTES = 1 << 20  # a state-only result (Stack: ~0.17 MB) fits whole


def _widen_result_pipe(pool: ProcessPoolExecutor) -> None:
    """Let the pool's result pipe hold ``RESULT_PIPE_BYTES`` (at most the system's ``pipe-max-size``) where Linux
    allows it. A pipe holds 64 KB by default, so a worker that sends a bigger result waits until this process
    has read the rest, and this process's reader shares one GIL with the thread writing demos: measured on
    1-worker Stack runs, the workers' time outside attempts fell from 0.89 s to 0.65 s over 208 attempts."""
    if sys.platform != "linux":
        return
    import fcntl

    pipe = pool._result_queue._reader.fileno()
    try:
        size = min(RESULT_PIPE_BYTES, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
        if size > fcntl.fcntl(pipe, fcntl.F_GETPIPE_SZ):
            fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, size)
    except (OSError, ValueError):  # a kernel without the setting: the default stays
        pass


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop the attempts not started and end the workers now: those still in an attempt would only make a result
    nobody reads, and this process's exit would wait for them (up to two attempts each). This process's end of
    the result pipe is closed too, so that the pool's reader meets the end of a message that a killed worker
    left half-sent (as in ``_result_unless_stuck``)."""
    processes, result_pipe = list(pool._processes.values()), pool._result_queue._writer
    pool.shutdown(wait=False, cancel_futures=True)  # forgets its processes and queues
    _kill_workers(processes, result_pipe)


def _kill_workers(processes: list, result_pipe: Any) -> None:
    """Kill the pool's worker ``processes`` and close this process's end of its ``result_pipe``: the pool's
    reader then meets the end of any message a killed worker left half-sent instead of waiting for the rest."""
    for process in processes:
        process.kill()
    result_pipe.close()


def _result_unless_stuck(pool: ProcessPoolExecutor, future: Future, poll_s: float = 1.0) -> AttemptResult:
    """``future.result()``, or ``BrokenProcessPool`` where the pool would wait forever: a worker killed while
    sending its result leaves half a message in the pool's result pipe, and the pool's reader waits for the
    rest (the other workers and this process keep the pipe open, so no end ever comes). A worker seen dead on
    two polls in a row while the pool still runs is that case: the other workers are stopped and this
    process's end of the pipe closed, so the reader meets the end and the pool breaks as for any dead worker."""
    dead_before = False
    while True:
        try:
            return future.result(timeout=poll_s)
        except TimeoutError:
            dead = any(process.exitcode is not None for process in list(pool._processes.values()))
            if dead and dead_before:
                _kill_workers(list(pool._processes.values()), pool._result_queue._writer)
            dead_before = dead


def _in_index_order(submit: Callable[[int], Any], collect: Callable[[Any], AttemptResult], window: int,
                    start: int, started: Callable[[], None] = lambda: None) -> Iterator[AttemptResult]:
    """Keep ``window`` attempts submitted; yield them in index order (``collect`` waits for the oldest);
    ``started`` is called once the first window is submitted."""
    pending = deque(submit(i) for i in range(start, start + window))
    started()
    next_submit = start + window
    while True:
        result = collect(pending.popleft())
        pending.append(submit(next_submit))
        next_submit += 1
        yield result


# ------------------------------------------------------------------ Ray
def import_ray() -> Any:
    """The ``ray`` module, or a UsageError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise UsageError("--executor ray needs Ray: pip install 'mimicrec[ray]' (or 'ray>=2.9,<3')") from err
    return ray


def _ray_results(sources: SourceSet, spec: MimicSpec, num_envs: int, start: int, address: str | None,
                 started: Callable[[], None]) -> Iterator[AttemptResult]:
    """Results from ``num_envs`` Ray actors (one env each) on the cluster at ``address`` (or a local one)."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _connect_ray(ray, address)
    try:
        remote_worker = ray.remote(num_cpus=1)(AttemptWorker)
        sources_ref, spec_ref = ray.put(sources), ray.put(spec)  # shipped once, shared by every actor
        workers = [remote_worker.remote(sources_ref, spec_ref) for _ in range(num_envs)]
        pool = ray.util.ActorPool(workers)  # an idle actor takes the next attempt; get_next keeps submission order
        yield from _in_index_order(lambda i: pool.submit(lambda actor, j: actor.attempt.remote(j), i),
                                   lambda _: pool.get_next(), window=2 * num_envs, start=start, started=started)
    except ray.exceptions.RayActorError as err:
        raise GenerationError(f"a Ray generation worker died ({err}); rerun with "
                              "--executor inline to see its error") from err
    finally:
        if started_here:
            ray.shutdown()


def _connect_ray(ray: Any, address: str | None) -> None:
    if address is not None:
        _check_reachable(address)
    try:
        # Ray's own notes (e.g. that a local cluster enabled token authentication) only with -v
        level = logging.WARNING if log.isEnabledFor(logging.INFO) else logging.ERROR
        ray.init(address=address, include_dashboard=False, logging_level=level, log_to_driver=False,
                 configure_logging=True)
    except ConnectionError as err:
        raise _unreachable(address, err) from err


def _check_reachable(address: str) -> None:
    """Fail fast on a ``HOST:PORT`` nobody listens on (``ray.init`` would wait for it for many minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray itself answers at once
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as err:
        raise _unreachable(address, err) from err


def _unreachable(address: str | None, err: Exception) -> UsageError:
    return UsageError(f"cannot reach the Ray cluster at {address or 'auto'} ({err}); start it with "
                      "`ray start --head` or drop --address to start a local one")
