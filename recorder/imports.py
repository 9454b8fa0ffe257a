"""Heavy imports (lerobot with torch, torchvision and datasets; matplotlib) without the garbage collector's cost.

Importing lerobot's dataset module creates ~390,000 objects the collector tracks: it runs ~6 full
collections during the import (~0.4 s of the 2.5 s) and, as they stay tracked, again over all of them
at every later full collection and when the interpreter ends (~0.4 s more on a 2-core machine).
``import_heavy`` imports with the collector paused and then freezes what exists (``gc.freeze``: those
objects move to a permanent generation that collections skip; nothing is freed early, only never
scanned again). ``freeze_for_exit`` does the same for a process about to end.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from types import ModuleType

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


def freeze_for_exit() -> None:
    """Skip the collections of the interpreter's shutdown over everything alive now (the process ends next;
    reference counting still finalizes objects as modules are torn down)."""
    gc.freeze()
