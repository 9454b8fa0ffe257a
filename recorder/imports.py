"""Heavy imports (lerobot with torch, torchvision and datasets; matplotlib) without the garbage collector's cost.

Importing lerobot's dataset module creates ~390,000 objects the collector tracks: it runs ~6 full
collections during the import (~0.4 s of the 2.5 s) and, as they stay tracked, again over all of them
at every later full collection and when the interpreter ends (~0.4 s more on a 2-core machine).
``import_heavy`` imports with the collector paused and then freezes what exists (``gc.freeze``: those
objects move to a permanent generation that collections skip; nothing is freed early, only never
scanned again). ``exit_now`` ends a process without tearing its modules down.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import os
import sys
import threading
from types import ModuleType
from typing import NoReturn

_LOCK = threading.Lock()


def import_heavy(name: str) -> ModuleType:
    """Module ``name``, imported with the collector paused (then what exists frozen); an imported one as is.
    Safe from any thread: the pause is process-wide and lasts only for the import."""
    with _LOCK:
        if name in sys.modules:  # import_module waits for one another thread is still importing
            return importlib.import_module(name)
        enabled = gc.isenabled()
        gc.disable()
        try:
            return importlib.import_module(name)
        finally:
            gc.freeze()
            if enabled:
                gc.enable()


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
