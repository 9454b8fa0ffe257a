"""``report.png`` of a generate run: success by subtask, object positions tried vs accepted, episode lengths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from augment.generator import AttemptResult
from recorder.imports import import_pyplot


@dataclass
class AttemptTrace:
    """What the plot needs of every attempt this process ran: where the objects started, how it ended."""

    object_xy: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    success: list[bool] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    region: tuple[tuple[float, float], tuple[float, float]] | None = None  # the level's placement x/y ranges

    def add(self, result: AttemptResult) -> None:
        """Record one attempt (its objects' initial x/y, success, length)."""
        info = result.episode.datagen_info
        for name, poses in (info.object_poses.items() if info is not None else ()):
            self.object_xy.setdefault(name, []).append((float(poses[0][0, 3]), float(poses[0][1, 3])))
        self.success.append(bool(result.success))
        self.lengths.append(len(result.episode))


def write_report_png(path: Path, trace: AttemptTrace, failures_per_subtask: dict[str, int],
                     subtask_labels: dict[str, list[str]], title: str) -> None:
    """Three panels, written atomically: reached-subtask rates, start positions, length histogram.

    ``subtask_labels`` lists, per end effector, the keys its subtasks have in ``failures_per_subtask``.
    """
    plt = import_pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    _subtask_panel(axes[0], failures_per_subtask, subtask_labels, len(trace.success))
    _positions_panel(axes[1], trace)
    _lengths_panel(axes[2], trace)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".partial.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


def _subtask_panel(ax, failures: dict[str, int], labels: dict[str, list[str]], attempts: int) -> None:
    names, passed = [], []
    for arm_labels in labels.values():  # an attempt that failed at subtask k of an arm completed none after it
        failed_before = np.cumsum([failures.get(label, 0) for label in arm_labels])
        names += arm_labels
        passed += [(attempts - f) / max(attempts, 1) for f in failed_before]
    ax.bar(range(len(names)), passed, color="tab:green")
    ax.set(ylim=(0, 1), xlabel="subtask", ylabel="fraction of attempts completing it",
           title=f"success by subtask ({attempts} attempts)")
    ax.set_xticks(range(len(names)), names)


def _positions_panel(ax, trace: AttemptTrace) -> None:
    from matplotlib.patches import Rectangle

    ok = np.asarray(trace.success, dtype=bool)
    for i, (name, xy) in enumerate(trace.object_xy.items()):
        xy = np.asarray(xy)
        ax.scatter(xy[ok, 0], xy[ok, 1], s=10, color=f"C{i}", alpha=0.5, label=f"{name} accepted")
        ax.scatter(xy[~ok, 0], xy[~ok, 1], s=30, color=f"C{i}", marker="x", label=f"{name} failed")
    if trace.region is not None:
        (x0, x1), (y0, y1) = trace.region
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, linestyle="--", color="gray",
                               label="randomization range"))
    ax.set(xlabel="x (m)", ylabel="y (m)", title="object start positions: accepted vs failed", aspect="equal")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)


def _lengths_panel(ax, trace: AttemptTrace) -> None:
    ok = np.asarray(trace.success, dtype=bool)
    lengths = np.asarray(trace.lengths)
    ax.hist([lengths[ok], lengths[~ok]], bins=20, stacked=True, label=["accepted", "failed"],
            color=["tab:green", "tab:red"])
    ax.set(xlabel="episode length (steps)", ylabel="attempts", title="episode lengths")
    ax.legend()
