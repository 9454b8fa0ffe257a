"""The writer thread: calls run in the order given, an error stops the rest and comes back to the caller,
and a full queue holds the caller back."""

import threading

import pytest

from recorder.dataset.writer_thread import WriterThread


class Journal:
    """A target that notes its calls; ``fail_at`` raises, ``gate`` (when set) holds each call until opened."""

    def __init__(self, fail_at: int | None = None, gate: threading.Event | None = None) -> None:
        self.calls, self.fail_at, self.gate = [], fail_at, gate

    def write(self, value: int, kept: bool = True) -> None:
        if self.gate is not None:
            self.gate.wait(30)
        if value == self.fail_at:
            raise OSError(28, "No space left on device")
        self.calls.append((value, kept))


def test_calls_run_in_order_in_another_thread():
    journal = Journal()
    writer = WriterThread(journal)
    for value in range(50):
        writer.call("write", value, kept=value % 2 == 0)
    writer.join()
    assert journal.calls == [(value, value % 2 == 0) for value in range(50)]
    writer.join()  # again: returns at once


def test_an_error_comes_back_to_the_caller_and_no_later_call_runs():
    journal = Journal(fail_at=3)
    writer = WriterThread(journal)
    for value in range(10):
        try:
            writer.call("write", value)
        except OSError:
            break  # raised by a call made after the failure, if the writer got there first
    else:
        with pytest.raises(OSError, match="No space left"):
            writer.join()
    writer.join()  # the error is raised once
    assert journal.calls == [(0, True), (1, True), (2, True)]


def test_a_full_queue_holds_the_caller_back():
    gate = threading.Event()
    journal = Journal(gate=gate)
    writer = WriterThread(journal, max_queued_bytes=300)
    done = threading.Event()

    def caller():
        for value in range(5):  # 100 bytes each: three fit (the first held at the gate), the fourth waits for room
            writer.call("write", value, nbytes=100)
        done.set()

    thread = threading.Thread(target=caller)
    thread.start()
    assert not done.wait(0.5)
    gate.set()
    assert done.wait(30)
    thread.join()
    writer.join()
    assert [value for value, _ in journal.calls] == [0, 1, 2, 3, 4]


def test_a_call_larger_than_the_bound_still_runs_alone():
    journal = Journal()
    writer = WriterThread(journal, max_queued_bytes=10)
    writer.call("write", 1, nbytes=1000)
    writer.call(journal.write, 2, kept=False)  # a function instead of a method name
    writer.join()
    assert journal.calls == [(1, True), (2, False)]
