"""Heavy imports run with the garbage collector paused and leave what they made frozen (in a fresh
interpreter each, so that this test process's own objects are not frozen)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
from recorder.imports import import_heavy
{before}
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
frozen = gc.get_freeze_count()
module = import_heavy("{name}")
assert module is sys.modules["{name}"], module
print(len(collections), gc.get_freeze_count() - frozen, gc.isenabled())
"""


def probe(name: str, before: str = "") -> list[str]:
    """(collections during the import, objects newly frozen, collector enabled after) from a fresh interpreter."""
    proc = subprocess.run([sys.executable, "-c", PROBE.format(name=name, before=before)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_a_heavy_import_runs_no_collection_and_freezes_what_it_made():
    collections, frozen, enabled = probe("matplotlib.pyplot")
    assert collections == "0"
    assert int(frozen) > 50_000  # pyplot alone makes ~100,000 tracked objects
    assert enabled == "True"


def test_a_normal_import_of_the_same_module_collects():
    """The reference the test above is measured against: without the pause, pyplot's import collects."""
    proc = subprocess.run([sys.executable, "-c", "import gc; n = []; gc.callbacks.append(lambda p, i: p == 'start' "
                           "and n.append(1)); import matplotlib.pyplot; print(len(n))"],
                          capture_output=True, text=True, timeout=120)
    assert int(proc.stdout) > 0, proc.stderr


def test_a_collector_disabled_before_stays_disabled():
    assert probe("matplotlib.pyplot", before="gc.disable()")[2] == "False"


def test_a_module_imported_already_is_returned_without_freezing():
    collections, frozen, enabled = probe("json", before="import json")
    assert (collections, frozen, enabled) == ("0", "0", "True")



def run_probe(code: str) -> list[str]:
    """The lines ``code`` prints in a fresh interpreter (which must exit cleanly)."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


DYNAMO_PROBE = """
import sys
from recorder.imports import import_heavy
import_heavy("lerobot.datasets.lerobot_dataset")
roi_align = sys.modules["torchvision.ops.roi_align"]
print("torch._dynamo" in sys.modules)
print(roi_align.is_compile_supported("cpu"), "torch._dynamo" in sys.modules)
import torch
import torch._dynamo.utils
print(torch._dynamo.utils.is_compile_supported("cpu"), hasattr(torch._dynamo, "config"))
import torchvision
print(tuple(torchvision.ops.roi_align(torch.ones(1, 1, 8, 8), [torch.tensor([[0.0, 0.0, 4.0, 4.0]])], 2).shape))
"""


def test_lerobot_is_imported_without_torch_dynamo_which_loads_when_first_used():
    """torchvision binds dynamo's ``is_compile_supported`` at import: the bound function loads dynamo at its first
    call and answers as the real one; afterwards ``torch._dynamo`` is the real package."""
    assert run_probe(DYNAMO_PROBE) == ["False", "True True", "True True", "(1, 1, 2, 2)"]


STAND_IN_PROBE = """
import sys
from recorder.imports import dynamo_deferred
with dynamo_deferred():
    print(type(sys.modules["torch._dynamo.utils"]).__name__, hasattr(sys.modules["torch._dynamo"], "__file__"))
    import torch._dynamo.config as config
    print(type(sys.modules["torch._dynamo"]).__name__, hasattr(config, "cache_size_limit"))
    from torch._dynamo import eval_frame
    print(callable(eval_frame.is_dynamo_supported))
print(type(sys.modules["torch._dynamo"]).__name__)
with dynamo_deferred():
    print(type(sys.modules["torch._dynamo"]).__name__)
"""


def test_any_other_use_of_deferred_dynamo_loads_the_real_package():
    """A probe of a stand-in's ``__file__`` (inspect does it to every module) loads nothing; a submodule's import
    loads the real package, which stays (and is not deferred again)."""
    assert run_probe(STAND_IN_PROBE) == ["_DynamoStandIn False", "module True", "True", "module", "module"]


def test_deferred_dynamo_leaves_no_stand_in_behind():
    assert run_probe("import sys\nfrom recorder.imports import dynamo_deferred\nwith dynamo_deferred():\n    pass\n"
                     "print('torch._dynamo' in sys.modules, 'torch._dynamo.utils' in sys.modules)") == ["False False"]
