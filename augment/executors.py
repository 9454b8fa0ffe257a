"""Where generation attempts run: in this process, in local worker processes, or as Ray actors on a cluster.

Every executor yields attempt results in index order ``start, start + 1, ...``. An attempt's outcome
depends only on its index, the seed and the spec, so the output is the same whatever runs it.
Each worker builds its env once and keeps a bounded window of attempts in flight.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import Any

from augment.generator import AttemptResult, run_attempt
from augment.source import SourceSet
from augment.spec import MimicSpec
from envs.errors import GenerationError, UsageError
from recorder.tasks import make_env

EXECUTORS = ("process", "ray")


class AttemptWorker:
    """One env and the run's inputs; runs whole attempts by index."""

    def __init__(self, sources: SourceSet, spec: MimicSpec) -> None:
        self.env = make_env(sources.env_id, **sources.env_kwargs).unwrapped
        self.sources, self.spec = sources, spec

    def attempt(self, index: int) -> AttemptResult:
        """Run attempt ``index`` (its random draws come from the seed and the index alone)."""
        start = time.perf_counter()
        result = run_attempt(self.env, self.sources, self.spec, index)
        return replace(result, worker_s=time.perf_counter() - start)


def ordered_results(sources: SourceSet, spec: MimicSpec, num_envs: int, start: int = 0,
                    executor: str = "process", address: str | None = None) -> Iterator[AttemptResult]:
    """Attempt results in index order from ``num_envs`` workers of ``executor`` (in-process for one process)."""
    if executor == "ray":
        yield from _ray_results(sources, spec, num_envs, start, address)
    elif num_envs == 1:
        worker = AttemptWorker(sources, spec)
        index = start
        while True:
            yield worker.attempt(index)
            index += 1
    else:
        yield from _process_results(sources, spec, num_envs, start)


# ------------------------------------------------------------------ local processes
_WORKER: dict[str, AttemptWorker] = {}


def _init_process(sources: SourceSet, spec: MimicSpec) -> None:
    _WORKER["worker"] = AttemptWorker(sources, spec)


def _attempt_in_process(index: int) -> AttemptResult:
    return _WORKER["worker"].attempt(index)


def _process_results(sources: SourceSet, spec: MimicSpec, num_envs: int, start: int) -> Iterator[AttemptResult]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(num_envs, mp_context=ctx, initializer=_init_process, initargs=(sources, spec)) as pool:
        try:
            yield from _drain_in_order(pool, window=2 * num_envs, start=start)
        except BrokenProcessPool as err:
            raise GenerationError(f"a generation worker process died ({err}); "
                                  "rerun with --num-envs 1 to see its error") from err
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _drain_in_order(pool: ProcessPoolExecutor, window: int, start: int = 0) -> Iterator[AttemptResult]:
    pending: dict[int, Future] = {i: pool.submit(_attempt_in_process, i) for i in range(start, start + window)}
    next_submit, next_yield = start + window, start
    while True:
        wait([pending[next_yield]], return_when=FIRST_COMPLETED)
        result = pending.pop(next_yield).result()
        pending[next_submit] = pool.submit(_attempt_in_process, next_submit)
        next_submit += 1
        next_yield += 1
        yield result


# ------------------------------------------------------------------ Ray
def import_ray() -> Any:
    """The ``ray`` module, or a UsageError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise UsageError("--executor ray needs Ray: pip install 'mimicrec[ray]' (or 'ray>=2.9,<3')") from err
    return ray


def _ray_results(sources: SourceSet, spec: MimicSpec, num_envs: int, start: int,
                 address: str | None) -> Iterator[AttemptResult]:
    """Results from ``num_envs`` Ray actors (one env each) on the cluster at ``address`` (or a local one)."""
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _connect_ray(ray, address)
    try:
        remote_worker = ray.remote(num_cpus=1)(AttemptWorker)
        sources_ref, spec_ref = ray.put(sources), ray.put(spec)  # shipped once, shared by every actor
        workers = [remote_worker.remote(sources_ref, spec_ref) for _ in range(num_envs)]
        pool = ray.util.ActorPool(workers)
        yield from _drain_actor_pool(ray, pool, window=2 * num_envs, start=start)
    finally:
        if started_here:
            ray.shutdown()


def _connect_ray(ray: Any, address: str | None) -> None:
    if address is not None:
        _check_reachable(address)
    try:
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False, configure_logging=True)
    except ConnectionError as err:
        raise UsageError(f"cannot reach the Ray cluster at {address!r} ({err}); start it with `ray start --head` "
                         "or drop --address to start a local one") from err


def _check_reachable(address: str) -> None:
    """Fail fast on a ``HOST:PORT`` nobody listens on (``ray.init`` would wait for it for many minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray itself answers at once
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as err:
        raise UsageError(f"cannot reach the Ray cluster at {address} ({err}); start it with `ray start --head` "
                         "or drop --address to start a local one") from err


def _drain_actor_pool(ray: Any, pool: Any, window: int, start: int) -> Iterator[AttemptResult]:
    """Keep ``window`` attempts queued on the pool; ``get_next`` returns them in submission (= index) order."""
    for index in range(start, start + window):
        pool.submit(lambda actor, i: actor.attempt.remote(i), index)
    next_submit = start + window
    while True:
        try:
            result = pool.get_next()
        except ray.exceptions.RayActorError as err:
            raise GenerationError(f"a Ray generation worker died ({err}); rerun with --executor process "
                                  "--num-envs 1 to see its error") from err
        pool.submit(lambda actor, i: actor.attempt.remote(i), next_submit)
        next_submit += 1
        yield result
