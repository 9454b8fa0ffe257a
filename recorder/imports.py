"""Heavy imports (lerobot with torch, torchvision and datasets; matplotlib) without the garbage collector's cost.

Importing lerobot's dataset module creates ~390,000 objects the collector tracks: it runs ~6 full
collections during the import (~0.4 s of the 2.5 s) and, as they stay tracked, again over all of them
at every later full collection and when the interpreter ends (~0.4 s more on a 2-core machine).
``import_heavy`` imports with the collector paused and then freezes what exists (``gc.freeze``: those
objects move to a permanent generation that collections skip; nothing is freed early, only never
scanned again). While one runs, ``torch._dynamo`` is deferred (``dynamo_deferred``): torchvision binds one
of its functions at import, which loads all of it (0.35-0.6 s of CPU, a quarter of lerobot's import) for a check
that only one torchvision operator calls. ``exit_now`` ends a process without tearing its modules down.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, NoReturn

_LOCK = threading.Lock()

DYNAMO = "torch._dynamo"
# Functions of torch._dynamo.utils that other modules bind by name at import (torchvision.ops.roi_align:
# is_compile_supported) and call only later: bound while dynamo is deferred, they load it at their first call.
DEFERRED_DYNAMO_FUNCTIONS = frozenset({"is_compile_supported"})


def import_heavy(name: str) -> ModuleType:
    """Module ``name``, imported with the collector paused (then what exists frozen); an imported one as is.
    Safe from any thread: the pause is process-wide and lasts only for the import."""
    with _LOCK:
        if name in sys.modules:  # import_module waits for one another thread is still importing
            return importlib.import_module(name)
        enabled = gc.isenabled()
        gc.disable()
        try:
            with dynamo_deferred():
                return importlib.import_module(name)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()


@contextlib.contextmanager
def dynamo_deferred() -> Iterator[None]:
    """Within: ``torch._dynamo`` and ``torch._dynamo.utils`` are stand-ins unless dynamo is loaded already.

    ``from torch._dynamo.utils import f`` binds, for ``f`` in ``DEFERRED_DYNAMO_FUNCTIONS``, a function that
    imports the real module when first called and calls the real ``f``. Any other use of a stand-in (another
    name, a submodule's import) loads the real dynamo there and then and gets the real thing. On leaving, the
    stand-ins leave ``sys.modules``: a later ``import torch._dynamo`` is the real import."""
    if DYNAMO in sys.modules:
        yield
        return
    stand_ins = {DYNAMO: _DynamoStandIn(DYNAMO), f"{DYNAMO}.utils": _DynamoStandIn(f"{DYNAMO}.utils")}
    sys.modules.update(stand_ins)
    try:
        yield
    finally:
        _drop_stand_ins(stand_ins)


class _DynamoStandIn(ModuleType):
    """A stand-in for a dynamo module (see ``dynamo_deferred``); it holds nothing itself."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and not (name == "__path__" and self.__name__ == DYNAMO):
            raise AttributeError(name)  # probes (inspect.getmodule reads every module's __file__) load nothing
        if name in DEFERRED_DYNAMO_FUNCTIONS and self.__name__ == f"{DYNAMO}.utils":
            return _call_real(self.__name__, name)
        return getattr(_load_real(self.__name__), name)


def _call_real(module: str, name: str) -> Callable[..., Any]:
    """A function calling ``module``'s own ``name``, importing ``module`` at the first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _load_real(module: str) -> ModuleType:
    """The real ``module``: the stand-ins leave ``sys.modules`` first, so the import runs dynamo's own code."""
    _drop_stand_ins({key: value for key, value in tuple(sys.modules.items()) if isinstance(value, _DynamoStandIn)})
    return importlib.import_module(module)


def _drop_stand_ins(stand_ins: dict[str, ModuleType]) -> None:
    """Remove those of ``stand_ins`` still in ``sys.modules`` (a real module loaded meanwhile stays)."""
    for key, stand_in in stand_ins.items():
        if sys.modules.get(key) is stand_in:
            del sys.modules[key]


def import_pyplot() -> ModuleType:
    """matplotlib's pyplot on the non-interactive Agg backend (importing it takes a second or more)."""
    import matplotlib

    matplotlib.use("Agg")
    return import_heavy("matplotlib.pyplot")


def exit_now(code: int) -> NoReturn:
    """End the process with ``code`` as the interpreter would, minus its teardown of every module: with torch
    and lerobot loaded, freeing their objects one by one takes ~0.2 s, and nothing of ours waits on it. What
    an exit must do is done first, in the interpreter's order: ``threading._shutdown`` (thread pools told to
    stop, then threads that are not daemons joined), ``atexit`` handlers (logging's flush, multiprocessing's
    and ``weakref.finalize``'s clean-ups), standard streams flushed."""
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to flush into
            stream.flush()
    os._exit(code)
