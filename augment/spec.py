"""The per-task Mimic spec (``configs/<Task>/mimic.yaml``): subtasks per end effector, generation settings."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import envs
from augment.transit import TRANSIT_MODES, PlannerSettings
from envs.config import SEED_LIMIT, from_mapping, load_mapping
from envs.errors import ConfigError

SELECTION_STRATEGIES = ("random", "nearest_neighbor_object", "nearest_neighbor_robot_distance")
CONSTRAINT_TYPES = ("sequential", "coordination")
COORDINATION_SCHEMES = ("replay", "transform", "translate")


@dataclass(frozen=True)
class SubtaskSpec:
    """One object-relative subtask of one end effector (defaults as Isaac Lab's)."""

    object_ref: str | None = None
    held_object_ref: str | None = None  # an object in the gripper: it, not the hand, follows the source path
    term_signal: str | None = None
    term_offset_range: tuple[int, int] = (0, 0)
    selection_strategy: str = "random"
    selection_strategy_kwargs: dict[str, Any] = field(default_factory=dict)
    action_noise: float = 0.03
    num_interpolation_steps: int = 5
    num_fixed_steps: int = 0
    apply_noise_during_interpolation: bool = False
    num_settle_steps_before_gripper: int = 0
    transit: str = "interpolate"  # how the arm gets to the segment: straight, a planned path, or auto (planned
    # only where the straight bridge would collide)
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
    use_object_symmetry: bool | None = None  # true: a symmetric object at the turn that starts a segment nearest the
    # hand; None: as the task observes it (its observation.symmetric_near_hand), so data and observations agree
    seed: int = 1


@dataclass(frozen=True)
class EefSpec:
    """The ordered subtasks of one end effector."""

    subtasks: tuple[SubtaskSpec, ...]


@dataclass(frozen=True)
class ConstraintSpec:
    """A rule between subtasks of two end effectors, each named ``[eef, subtask index]``.

    ``sequential``: the second subtask may not finish its last ``min_time_diff`` steps before the
    first subtask has finished (``-1``: it does not start moving until then). ``coordination``: both
    subtasks use the same source demo and the same object transform (``coordination_scheme``), and
    run their last ``min(len_a, len_b)`` source steps in lockstep so they end together.
    """

    type: str
    subtasks: tuple[tuple[str, int], ...]
    min_time_diff: int = -1
    coordination_scheme: str = "replay"
    coordination_scheme_pos_noise_scale: float = 0.0
    coordination_scheme_rot_noise_scale: float = 0.0
    coordination_synchronize_start: bool = False


@dataclass(frozen=True)
class MimicSpec:
    """Everything generation needs to know about a task."""

    task: str
    eefs: dict[str, EefSpec]
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    constraints: tuple[ConstraintSpec, ...] = ()
    planner: PlannerSettings = field(default_factory=PlannerSettings)

    def max_failures(self, num_trials: int) -> int:
        """The failure bound: the configured one, or ``max(50, 5 * num_trials)``."""
        bound = self.generation.max_num_failures
        return bound if bound is not None else max(50, 5 * num_trials)


def load_mimic_spec(path: str | Path | None = None, env_id: str | None = None) -> MimicSpec:
    """Load and validate a Mimic spec from ``path`` or the task's own (``configs/<Task>/mimic.yaml``)."""
    path = Path(path) if path else envs.task_config_file(env_id or "", "mimic")
    spec = from_mapping(MimicSpec, load_mapping(path), str(path))
    validate_spec(spec, str(path))
    return spec


def spec_path(config: str | Path | None, env_id: str) -> str:
    """Where the spec comes from: ``config``, else the task's own ``mimic.yaml`` (for errors that name the file)."""
    return str(config) if config else str(envs.task_config_file(env_id, "mimic"))


def check_spec_fits_task(spec: MimicSpec, where: str, task: str, eefs: Iterable[str], objects: Iterable[str],
                         signals: Iterable[str]) -> None:
    """The spec must list the task's end effectors and name only its objects and subtask signals: a spec written
    for another task fails here, naming its key, instead of annotating or generating what it cannot."""
    eefs, objects, signals = sorted(eefs), sorted(objects), sorted(signals)
    if sorted(spec.eefs) != eefs:
        raise ConfigError(f"{where}: the spec's eefs {sorted(spec.eefs)} are not those of {task} {eefs}; list each "
                          "end effector once (or pass the task's own spec with --config)")
    for eef, eef_spec in spec.eefs.items():
        for k, sub in enumerate(eef_spec.subtasks):
            named = [(key, getattr(sub, key), objects, "an object") for key in ("object_ref", "held_object_ref")]
            for key, value, known, kind in [*named, ("term_signal", sub.term_signal, signals, "a subtask signal")]:
                if value is not None and value not in known:
                    raise ConfigError(f"{where}: eefs.{eef}.subtasks[{k}].{key} {value!r} is not {kind} of {task}; "
                                      f"use one of {', '.join(known) or 'none'} (or pass the task's own spec)")


def validate_spec(spec: MimicSpec, where: str) -> None:
    """Check value ranges and cross-field rules; errors name the key."""
    for eef, eef_spec in spec.eefs.items():
        if not eef_spec.subtasks:
            raise ConfigError(f"{where}: eefs.{eef}.subtasks is empty; list at least one subtask")
        for i, sub in enumerate(eef_spec.subtasks):
            _validate_subtask(sub, f"{where}: eefs.{eef}.subtasks[{i}]", last=i == len(eef_spec.subtasks) - 1)
    if spec.generation.max_num_failures is not None and spec.generation.max_num_failures < 0:
        raise ConfigError(f"{where}: generation.max_num_failures must be >= 0")
    if not 0 <= spec.generation.seed < SEED_LIMIT:
        raise ConfigError(f"{where}: generation.seed must be an integer from 0 to {SEED_LIMIT - 1}, "
                          f"got {spec.generation.seed}")
    _validate_planner(spec.planner, f"{where}: planner")
    claimed: set[tuple[str, int]] = set()
    for i, constraint in enumerate(spec.constraints):
        _validate_constraint(spec, constraint, claimed, f"{where}: constraints[{i}]")


def _validate_subtask(sub: SubtaskSpec, where: str, last: bool) -> None:
    lo, hi = sub.term_offset_range
    checks = [
        (sub.selection_strategy in SELECTION_STRATEGIES,
         f"selection_strategy {sub.selection_strategy!r} is unknown; use one of {', '.join(SELECTION_STRATEGIES)}"),
        (sub.object_ref is not None or sub.selection_strategy == "random",
         "selection_strategy must be 'random' when object_ref is null"),
        (0 <= lo <= hi, f"term_offset_range {list(sub.term_offset_range)} must satisfy 0 <= low <= high"),
        (sub.action_noise >= 0, "action_noise must be >= 0"),
        (sub.transit in TRANSIT_MODES, f"transit {sub.transit!r} is unknown; use one of {', '.join(TRANSIT_MODES)}"),
        (min(sub.num_interpolation_steps, sub.num_fixed_steps, sub.num_settle_steps_before_gripper) >= 0,
         "step counts (num_interpolation_steps, num_fixed_steps, num_settle_steps_before_gripper) must be >= 0"),
        (last or sub.term_signal is not None, "term_signal is required for every subtask but the last"),
        (not last or sub.term_signal is None, "the last subtask must have term_signal: null (it ends with the demo)"),
        (not last or (lo, hi) == (0, 0), "the last subtask must have term_offset_range [0, 0]"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{where}: {message}")


def _validate_planner(planner: PlannerSettings, where: str) -> None:
    counts = {"max_iterations": planner.max_iterations, "restarts": planner.restarts,
              "smooth_iterations": planner.smooth_iterations}
    for key, value in counts.items():
        if value < 0 or (key == "max_iterations" and value == 0):
            raise ConfigError(f"{where}.{key} must be {'> 0' if key == 'max_iterations' else '>= 0'}, got {value}")
    lengths = {"resolution": planner.resolution, "step_m": planner.step_m, "step_rad": planner.step_rad}
    for key, value in lengths.items():
        if value <= 0:
            raise ConfigError(f"{where}.{key} must be > 0, got {value}")
    if min(planner.margin, planner.penetration, planner.straight_margin) < 0:
        raise ConfigError(f"{where}: margin, penetration and straight_margin must be >= 0")


def _validate_constraint(spec: MimicSpec, constraint: ConstraintSpec, claimed: set[tuple[str, int]],
                         where: str) -> None:
    pairs = [tuple(pair) for pair in constraint.subtasks]
    checks = [
        (constraint.type in CONSTRAINT_TYPES,
         f"type {constraint.type!r} is unknown; use one of {', '.join(CONSTRAINT_TYPES)}"),
        (len(pairs) == 2, "subtasks must name exactly two [eef, subtask index] pairs"),
        (len(pairs) != 2 or pairs[0][0] != pairs[1][0], "subtasks must belong to two different end effectors"),
        (all(eef in spec.eefs and 0 <= k < len(spec.eefs[eef].subtasks) for eef, k in pairs),
         f"subtasks {[list(p) for p in pairs]} names an end effector or subtask index the spec does not have"),
        (not claimed.intersection(pairs), "a subtask may be in one constraint only"),
        (constraint.coordination_scheme in COORDINATION_SCHEMES,
         f"coordination_scheme {constraint.coordination_scheme!r} is unknown; use one of "
         f"{', '.join(COORDINATION_SCHEMES)}"),
        (constraint.min_time_diff >= -1, "min_time_diff must be >= -1 (-1: strictly after)"),
        (min(constraint.coordination_scheme_pos_noise_scale, constraint.coordination_scheme_rot_noise_scale) >= 0,
         "coordination noise scales must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{where}: {message}")
    needs_object = constraint.type == "coordination" and constraint.coordination_scheme != "replay"
    if needs_object and any(spec.eefs[eef].subtasks[k].object_ref is None for eef, k in pairs):
        raise ConfigError(f"{where}: coordination_scheme {constraint.coordination_scheme!r} needs an object_ref "
                          "on both subtasks; set one or use 'replay'")
    claimed.update(pairs)


def with_transit(spec: MimicSpec, transit: str | None) -> MimicSpec:
    """A copy of ``spec`` with every subtask's ``transit`` set to ``transit`` (unchanged when ``None``)."""
    if transit is None:
        return spec
    if transit not in TRANSIT_MODES:
        raise ConfigError(f"transit {transit!r} is unknown; use one of {', '.join(TRANSIT_MODES)}")
    eefs = {eef: EefSpec(tuple(replace(sub, transit=transit) for sub in eef_spec.subtasks))
            for eef, eef_spec in spec.eefs.items()}
    return replace(spec, eefs=eefs)


def with_seed(spec: MimicSpec, seed: int | None) -> MimicSpec:
    """A copy of ``spec`` whose generation seed is ``seed`` (unchanged when ``None``)."""
    return spec if seed is None else replace(spec, generation=replace(spec.generation, seed=seed))


def spec_text(spec: MimicSpec) -> str:
    """The whole spec as JSON (sorted keys): what a digest is taken of, and what ``spec_from_text`` reads back."""
    return json.dumps(asdict(spec), sort_keys=True, default=str)


def spec_from_text(text: str, where: str) -> MimicSpec:
    """A spec stored with ``spec_text`` (an annotated dataset's ``mimic_spec`` attribute), validated as a file is."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"{where}: the stored spec is not JSON ({err.msg}); pass a spec with --config") from err
    spec = from_mapping(MimicSpec, data, where)
    validate_spec(spec, where)
    return spec


def spec_attrs(spec: MimicSpec) -> dict[str, str]:
    """What an annotated or generated dataset keeps of its spec: the subtask descriptions per arm (JSON)
    and a digest of the whole spec (seed and transit included), so data from different specs can be told apart."""
    subtasks = {eef: [sub.description for sub in eef_spec.subtasks] for eef, eef_spec in spec.eefs.items()}
    return {"subtasks": json.dumps(subtasks), "spec_digest": hashlib.sha256(spec_text(spec).encode()).hexdigest()[:16]}
