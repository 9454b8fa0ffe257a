"""Manual annotation: replay a demo in pybullet's viewer and mark each subtask's end with the keyboard.

``MarkSession`` is the pure state of one demo's marking (current step, play/pause, marks per end
effector); ``mark_in_viewer`` shows the demo's recorded states in the viewer and feeds it the keys
read by ``KeyListener``. A mark at step ``t`` ends a subtask before ``t`` (``t`` is the next
subtask's first step), as the automatic annotation's boundaries do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MANUAL_BINDINGS = (
    ("Space", "play / pause the replay"), ("Right / Left", "one step forward / back (pauses)"),
    ("Up / Down", "ten steps forward / back (pauses)"), ("M", "mark: the current subtask ends here"),
    ("U", "undo the last mark"), ("Tab", "mark the next arm (two-arm tasks)"),
    ("Enter", "accept this demo's marks, go to the next demo"), ("S", "skip this demo (left out, reported)"),
    ("Backspace", "quit: write the demos accepted so far; the rest are reported"),
)
STEP_KEYS = {"right": 1, "left": -1, "up": 10, "down": -10}


class QuitAnnotation(Exception):
    """The annotator pressed the quit key."""


class SkipDemo(ValueError):
    """The annotator skipped a demo (its reason is reported like any rejection)."""


@dataclass
class MarkSession:
    """Marking one demo of ``length`` steps: needs ``needed[eef]`` marks per end effector, strictly increasing."""

    length: int
    needed: dict[str, int]
    step: int = 0
    playing: bool = False
    arm: int = 0
    marks: dict[str, list[int]] = field(default_factory=dict)
    message: str = ""

    def __post_init__(self) -> None:
        self.marks = {eef: [] for eef in self.needed}

    @property
    def eef(self) -> str:
        """The end effector whose subtasks are being marked."""
        return list(self.needed)[self.arm]

    def press(self, key: str) -> str | None:
        """Apply one key; returns ``"accept"``, ``"skip"`` or ``"quit"`` when the demo's marking ends."""
        self.message = ""
        if key in STEP_KEYS:
            self.playing = False
            self.step = int(np.clip(self.step + STEP_KEYS[key], 0, self.length - 1))
        elif key == "space":
            self.playing = not self.playing
        elif key == "tab":
            self.arm = (self.arm + 1) % len(self.needed)
        elif key == "m":
            self._mark()
        elif key == "u":
            self._undo()
        else:
            return {"enter": self._accept(), "s": "skip", "backspace": "quit"}.get(key)
        return None

    def tick(self) -> None:
        """One frame of playback: advance a step while playing; stop at the last step."""
        if self.playing:
            self.step = min(self.step + 1, self.length - 1)
            self.playing = self.step < self.length - 1

    def _mark(self) -> None:
        marks = self.marks[self.eef]
        if len(marks) >= self.needed[self.eef]:
            self.message = f"{self.eef} already has its {self.needed[self.eef]} marks; U undoes the last"
        elif self.step == 0 or (marks and self.step <= marks[-1]):
            self.message = f"a mark must come after step {marks[-1] if marks else 0}; move forward first"
        else:
            marks.append(self.step)

    def _undo(self) -> None:
        if self.marks[self.eef]:
            self.marks[self.eef].pop()

    def _accept(self) -> str | None:
        missing = {eef: n - len(self.marks[eef]) for eef, n in self.needed.items() if len(self.marks[eef]) < n}
        if missing:
            self.message = "still to mark: " + ", ".join(f"{eef} {n} more" for eef, n in missing.items())
            return None
        return "accept"

    def status(self) -> str:
        """One line: step, play state, the marks so far."""
        marks = "; ".join(f"{eef} marks {self.marks[eef]} of {n}" for eef, n in self.needed.items())
        state = "playing" if self.playing else "paused"
        arm = f" | marking {self.eef}" if len(self.needed) > 1 else ""
        note = f" | {self.message}" if self.message else ""
        return f"step {self.step}/{self.length - 1} {state} | {marks}{arm}{note}"


def mark_in_viewer(session: MarkSession, show_step: Callable[[int], None], read_keys: Callable[[], list[str]],
                   say: Callable[[str], None], frame_s: float) -> dict[str, list[int]]:
    """Run ``session`` until accepted: show its step, apply keys, play at one step per ``frame_s``.

    Returns the marks per end effector. Raises ``SkipDemo`` or ``QuitAnnotation``.
    """
    shown = None
    say(session.status())
    while True:
        if session.step != shown:
            show_step(session.step)
            shown = session.step
        for key in read_keys():
            outcome = session.press(key)
            if outcome == "accept":
                return session.marks
            if outcome == "skip":
                raise SkipDemo("skipped by the annotator")
            if outcome == "quit":
                raise QuitAnnotation
            say(session.status())
        was_playing = session.playing
        session.tick()
        if was_playing and not session.playing:
            say(session.status())
        time.sleep(frame_s)
