"""The per-task Mimic spec (``configs/<Task>/mimic.yaml``): subtasks per end effector, generation settings."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from envs.config import from_mapping, load_mapping
from envs.errors import ConfigError

CONFIG_ROOT = Path(__file__).resolve().parent.parent / "configs"
SELECTION_STRATEGIES = ("random", "nearest_neighbor_object", "nearest_neighbor_robot_distance")


@dataclass(frozen=True)
class SubtaskSpec:
    """One object-relative subtask of one end effector (defaults as Isaac Lab's)."""

    object_ref: str | None = None
    term_signal: str | None = None
    term_offset_range: tuple[int, int] = (0, 0)
    selection_strategy: str = "random"
    selection_strategy_kwargs: dict[str, Any] = field(default_factory=dict)
    action_noise: float = 0.03
    num_interpolation_steps: int = 5
    num_fixed_steps: int = 0
    apply_noise_during_interpolation: bool = False
    description: str = ""


@dataclass(frozen=True)
class GenerationSettings:
    """How a generation run proceeds (defaults as Isaac Lab's, with a failure bound)."""

    guarantee: bool = True
    keep_failed: bool = False
    max_num_failures: int | None = None
    select_src_per_subtask: bool = False
    transform_first_robot_pose: bool = False
    interpolate_from_last_target_pose: bool = True
    seed: int = 1


@dataclass(frozen=True)
class EefSpec:
    """The ordered subtasks of one end effector."""

    subtasks: tuple[SubtaskSpec, ...]


@dataclass(frozen=True)
class MimicSpec:
    """Everything generation needs to know about a task."""

    task: str
    eefs: dict[str, EefSpec]
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def max_failures(self, num_trials: int) -> int:
        """The failure bound: the configured one, or ``max(50, 5 * num_trials)``."""
        bound = self.generation.max_num_failures
        return bound if bound is not None else max(50, 5 * num_trials)


def task_config_dir(env_id: str) -> Path:
    """``configs/<Task>`` for an id like ``mimicrec/StackThree-v0``."""
    return CONFIG_ROOT / env_id.split("/")[-1].rsplit("-v", 1)[0]


def load_mimic_spec(path: str | Path | None = None, env_id: str | None = None) -> MimicSpec:
    """Load and validate a Mimic spec from ``path`` or the task's default ``mimic.yaml``."""
    path = Path(path) if path else task_config_dir(env_id or "") / "mimic.yaml"
    spec = from_mapping(MimicSpec, load_mapping(path), str(path))
    validate_spec(spec, str(path))
    return spec


def validate_spec(spec: MimicSpec, where: str) -> None:
    """Check value ranges and cross-field rules; errors name the key."""
    for eef, eef_spec in spec.eefs.items():
        if not eef_spec.subtasks:
            raise ConfigError(f"{where}: eefs.{eef}.subtasks is empty; list at least one subtask")
        for i, sub in enumerate(eef_spec.subtasks):
            _validate_subtask(sub, f"{where}: eefs.{eef}.subtasks[{i}]", last=i == len(eef_spec.subtasks) - 1)
    if spec.generation.max_num_failures is not None and spec.generation.max_num_failures < 0:
        raise ConfigError(f"{where}: generation.max_num_failures must be >= 0")


def _validate_subtask(sub: SubtaskSpec, where: str, last: bool) -> None:
    lo, hi = sub.term_offset_range
    checks = [
        (sub.selection_strategy in SELECTION_STRATEGIES,
         f"selection_strategy {sub.selection_strategy!r} is unknown; use one of {', '.join(SELECTION_STRATEGIES)}"),
        (sub.object_ref is not None or sub.selection_strategy == "random",
         "selection_strategy must be 'random' when object_ref is null"),
        (0 <= lo <= hi, f"term_offset_range {list(sub.term_offset_range)} must satisfy 0 <= low <= high"),
        (sub.action_noise >= 0, "action_noise must be >= 0"),
        (sub.num_interpolation_steps >= 0 and sub.num_fixed_steps >= 0, "step counts must be >= 0"),
        (last or sub.term_signal is not None, "term_signal is required for every subtask but the last"),
        (not last or sub.term_signal is None, "the last subtask must have term_signal: null (it ends with the demo)"),
        (not last or (lo, hi) == (0, 0), "the last subtask must have term_offset_range [0, 0]"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{where}: {message}")


def with_seed(spec: MimicSpec, seed: int | None) -> MimicSpec:
    """A copy of ``spec`` whose generation seed is ``seed`` (unchanged when ``None``)."""
    return spec if seed is None else replace(spec, generation=replace(spec.generation, seed=seed))
