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
