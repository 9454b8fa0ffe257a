"""Shared fixtures: one small recorded and annotated StackThree dataset per test session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

TASK = "mimicrec/StackThree-v0"


@pytest.fixture(scope="session")
def recorded(tmp_path_factory):
    """A record run of 3 scripted StackThree demos (RecordResult)."""
    from recorder.record import RecordOptions, record

    return record(RecordOptions(TASK, num_demos=3, seed=0, out=str(tmp_path_factory.mktemp("rec") / "run")))


@pytest.fixture(scope="session")
def annotated(recorded, tmp_path_factory):
    """The recorded demos annotated with --auto (path to the HDF5)."""
    from augment.annotate import annotate

    out = tmp_path_factory.mktemp("ann") / "annotated.hdf5"
    result = annotate(str(recorded.hdf5_path), str(out))
    assert result.kept == ["demo_0", "demo_1", "demo_2"], result.rejected
    return out


@pytest.fixture
def env():
    """A fresh StackThree env (closed after the test)."""
    from recorder.tasks import make_env

    e = make_env(TASK).unwrapped
    yield e
    e.close()


@pytest.fixture
def make_task_env():
    """Factory ``make_task_env(task_id)`` of unwrapped envs, all closed after the test."""
    from recorder.tasks import make_env

    made = []

    def make(task: str):
        made.append(make_env(task).unwrapped)
        return made[-1]

    yield make
    for e in made:
        e.close()
