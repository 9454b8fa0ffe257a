"""The same seeds and spec give bit-identical datasets, in both formats, as the reference (made before the
code moved in issue 22): record 2 scripted Stack seeds, annotate them, generate 3 demos on one worker.

The references in ``tests/data/reference_*.json`` are content digests (``tests/digest.py``) written by
the code before the restructuring; a change that alters any stored array or attribute fails here.
Regenerate them only for a change that is meant to change the data, and say so in its commit. Regenerated
for issue 24's held success (5 steps at rest: episodes end later, states carry the success streak) and
issue 25's labels in LeRobot (generate's digest gained lerobot/subtask_index and lerobot/src_demo_index;
every other entry unchanged), then for its per-episode LeRobot columns and spec attributes (entries added:
lerobot/source, success_step, attempt_index, src_demo_inds; data@subtasks, data@spec_digest; then the per-demo
spec_digest attribute and column; none changed), then for object symmetry (the task files' cubes declare
``symmetry: 90``: Stack's generated demos grasp and place at the cubes' turn nearest the hand; the spec gained
``generation.use_object_symmetry``, so every spec digest changed; with the symmetry removed from the task
file only the spec digests differ, checked), then for ``use_object_symmetry: null`` in the shipped specs (as
the task observes; the spec digests only: 1 annotate and 5 generate entries), then for the task files'
``observation.symmetric_near_hand: true`` (generation now folds Stack's cubes: 46 generate entries; the
recorded D0 seeds' cubes are already at the turn nearest the hand, so record's digests did not change), then
for Stack's grasp subtask ending 16-24 steps after the grasp instead of 10-20 (past the seeds' lift: 86 generate
entries and annotate's spec digest), and back to 10-20 (policies trained worse on the late data): every
digest is again bit for bit the one before the 16-24 change. Then for the annotated file's ``mimic_spec``
attribute holding the whole spec (JSON) instead of its task id: that one annotate entry changed.
"""

import json
from pathlib import Path

import pytest

from augment.annotate import annotate
from augment.runner import GenerateOptions, generate
from recorder.record import RecordOptions, record
from tests.digest import hdf5_digest, run_digest

pytestmark = pytest.mark.slow
REFERENCE = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    rec = record(RecordOptions("mimicrec/Stack-v0", num_demos=2, seed=3, out=str(out / "rec")))
    annotate(str(rec.hdf5_path), str(out / "ann.hdf5"))
    generate(GenerateOptions(str(out / "ann.hdf5"), 3, num_envs=1, seed=11, out=str(out / "gen")))
    return {
        "record": run_digest(rec.hdf5_path, rec.lerobot_path),
        "annotate": hdf5_digest(out / "ann.hdf5"),
        "generate": run_digest(out / "gen" / "generated.hdf5", out / "gen" / "lerobot"),
    }


@pytest.mark.parametrize("step", ["record", "annotate", "generate"])
def test_same_seeds_and_spec_give_the_reference_data(pipeline, step):
    reference = json.loads((REFERENCE / f"reference_{step}.json").read_text())
    digest = pipeline[step]
    assert sorted(digest) == sorted(reference), "the datasets hold other arrays or attributes than the reference"
    differ = [key for key in reference if digest[key] != reference[key]]
    assert not differ, f"{len(differ)} of {len(reference)} entries differ from the reference, e.g. {differ[:5]}"
