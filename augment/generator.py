"""One Mimic generation attempt: new scene, per-subtask source selection, transform, bridge, execute.

Every end effector advances through its own subtask list (one combined action per env step),
under the spec's constraints between arms (``augment.constraints``); a single-arm task is the
case of one list. An attempt is a pure function of (source set, spec, run seed, attempt index):
the scene seed and the random stream both derive from the run seed and the index, and env resets
are history-free, so any worker can run any attempt and the output does not depend on the number
of workers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from augment.constraints import Link, coordination_delta, finish_subtask, hold_index, runtime_links
from augment.selection import Candidate, SelectionContext, select_source
from augment.source import SourceSet, draw_subtask_ends
from augment.spec import MimicSpec, SubtaskSpec
from augment.transit import TransitPlan, plan_transit, straight_collides
from augment.waypoints import WaypointSequence, bridge, held_object_correction, transformed_segment, with_settle_steps
from envs.actions import DeltaEef, delta_action_to_target_pose
from envs.interface import MimicEnv
from envs.pose import nearest_symmetric_pose, pose_inv, transform_poses_to_new_frame
from recorder.dataset.episode import Episode, EpisodeBuilder
from recorder.dataset.tasks import episode_seed

GENERATE_STREAM = 1
MAX_REST_STEPS = 15  # extra hold steps after the last waypoint, waiting for objects to come to rest (then the
# success must hold for the env's success_hold_steps)
MAX_ATTEMPT_STEPS = 5000  # bound on an attempt's length (constraints that wait on each other forever)


@dataclass(frozen=True)
class AttemptResult:
    """The attempt's episode, whether it ended in success, and the first subtask that failed (or None).

    A failed subtask is its index for a single-arm task, ``"<eef>:<index>"`` with several arms.
    """

    index: int
    episode: Episode
    success: bool
    failed_subtask: int | str | None
    worker_s: float = 0.0  # wall seconds the worker spent on the attempt (set by the executor)
    planning_s: float = 0.0  # seconds spent planning transits (``plan``; ``auto``: checking straight ones too)
    num_plans: int = 0  # transits planned
    num_plans_failed: int = 0  # of them, those without a plan (bridged by interpolation instead)


@dataclass
class _Arm:
    """One end effector's progress through its subtasks during an attempt."""

    eef: str
    subtasks: tuple[SubtaskSpec, ...]
    ends: dict[int, np.ndarray]  # source demo -> its randomized subtask ends for this eef
    k: int = 0  # the subtask being executed
    waypoints: WaypointSequence | None = None  # None: subtask k is not planned yet
    step: int = 0
    source: int | None = None
    last_target: np.ndarray | None = None
    fired: bool = False
    failed: int | None = None
    done: bool = False
    chosen: list[int] = field(default_factory=list)


@dataclass
class _Attempt:
    """Everything one attempt works with."""

    env: object
    sources: SourceSet
    spec: MimicSpec
    rng: np.random.Generator
    builder: EpisodeBuilder
    arms: dict[str, _Arm]
    links: dict[tuple[str, int], Link]
    labels: dict[str, list[list[int]]] = field(default_factory=lambda: {"subtask_index": [], "src_demo_index": []})
    plans: list[TransitPlan] = field(default_factory=list)
    checking_s: float = 0.0  # seconds spent checking straight bridges for collisions (``transit: auto``)


def run_attempt(env: MimicEnv, sources: SourceSet, spec: MimicSpec, index: int) -> AttemptResult:
    """Generate one episode into ``env`` and judge it at the end, at rest."""
    rng = np.random.default_rng([spec.generation.seed, GENERATE_STREAM, index])
    scene_seed = episode_seed(spec.generation.seed, GENERATE_STREAM, index)
    obs, _ = env.reset(seed=scene_seed)
    att = _Attempt(env, sources, spec, rng, EpisodeBuilder(env, scene_seed, obs), _make_arms(sources, spec, rng),
                   runtime_links(spec.constraints))
    while not all(arm.done for arm in att.arms.values()) and len(att.builder.rows["actions"]) < MAX_ATTEMPT_STEPS:
        _step_arms(att)
    success = _hold_until_rest(att)
    failed = None if success else _failure_label(att)
    attrs = {"source": "generated", "attempt_index": index, **_source_attrs(att.arms)}
    extras = {key: _label_array(rows) for key, rows in att.labels.items()}
    return AttemptResult(index, att.builder.build(attrs=attrs, extras=extras), success, failed,
                         planning_s=att.checking_s + sum(plan.seconds for plan in att.plans), num_plans=len(att.plans),
                         num_plans_failed=sum(plan.poses is None for plan in att.plans))


def _make_arms(sources: SourceSet, spec: MimicSpec, rng: np.random.Generator) -> dict[str, _Arm]:
    arms = {}
    for eef, eef_spec in spec.eefs.items():
        offsets = [s.term_offset_range for s in eef_spec.subtasks]
        ends = {i: draw_subtask_ends(d, eef, offsets, rng) for i, d in enumerate(sources.demos)}
        arms[eef] = _Arm(eef, eef_spec.subtasks, ends)
    return arms


def _step_arms(att: _Attempt) -> None:
    """Plan the arms that start a subtask, execute one combined action, then advance every arm."""
    for arm in att.arms.values():
        if arm.waypoints is None and _may_start(att, arm):
            _plan(att, arm)
    parts = {eef: _arm_action(att, arm) for eef, arm in att.arms.items()}
    _, info = att.builder.step(att.env.combine_arm_actions(parts))
    arms = [att.arms[eef] for eef in att.env.eef_names]  # label columns in the env's arm order
    att.labels["subtask_index"].append([arm.k for arm in arms])
    att.labels["src_demo_index"].append([arm.source for arm in arms])
    for arm in att.arms.values():
        _advance(att, arm, info)


def _may_start(att: _Attempt, arm: _Arm) -> bool:
    """False while a coordinated subtask that starts in sync waits for its partner arm to get there."""
    link = att.links.get((arm.eef, arm.k))
    if link is None or link.role != "coordinated" or not link.spec.coordination_synchronize_start:
        return True
    partner_eef, partner_k = link.partner
    return att.arms[partner_eef].k >= partner_k


def _arm_action(att: _Attempt, arm: _Arm) -> np.ndarray:
    """The next action of one arm: its next waypoint, the one its constraint holds it at, or (not
    started yet) its last target."""
    if arm.waypoints is None:
        return _hold_action(att, arm)
    length = len(arm.waypoints)
    held = None if arm.done else hold_index(att.links, (arm.eef, arm.k), arm.step, length)
    i = length - 1 if arm.done else (arm.step if held is None else held)
    arm.step = i + 1
    pose, gripper = arm.waypoints.poses[i], arm.waypoints.grippers[i]
    noise = arm.subtasks[arm.k].action_noise
    if arm.waypoints.noisy[i] and noise > 0:
        pose = perturb_pose(pose, noise * att.rng.standard_normal(6))
    return att.env.target_eef_pose_to_action(pose, gripper, arm.eef)


def _hold_action(att: _Attempt, arm: _Arm) -> np.ndarray:
    """The action holding ``arm`` at its last target (or where it is) with its last gripper command."""
    pose = arm.last_target if arm.last_target is not None else att.env.get_robot_eef_pose(arm.eef)
    gripper = att.env.actions_to_gripper_actions(att.builder.rows["actions"][-1], arm.eef)
    return att.env.target_eef_pose_to_action(pose, gripper, arm.eef)


def _advance(att: _Attempt, arm: _Arm, info: dict) -> None:
    """Note the subtask's signal; at the end of its waypoints finish it and move to the next one."""
    if arm.done or arm.waypoints is None:
        return
    sub = arm.subtasks[arm.k]
    arm.fired = arm.fired or bool(sub.term_signal and info.get(sub.term_signal))
    if arm.step < len(arm.waypoints):
        return
    if sub.term_signal is not None and not arm.fired and arm.failed is None:
        arm.failed = arm.k
    finish_subtask(att.links, (arm.eef, arm.k))
    if arm.k == len(arm.subtasks) - 1:
        arm.done = True
        return
    arm.k, arm.waypoints, arm.step, arm.fired = arm.k + 1, None, 0, False


def _segment_bounds(ends: np.ndarray, k: int) -> tuple[int, int]:
    return (0 if k == 0 else int(ends[k - 1])), int(ends[k])


def _plan(att: _Attempt, arm: _Arm) -> None:
    """Choose the source of the arm's next subtask and build its waypoints (bridge + transformed segment)."""
    k, sub = arm.k, arm.subtasks[arm.k]
    link = att.links.get((arm.eef, k))
    shared = link if link is not None and link.role == "coordinated" else None
    from_last = att.spec.generation.interpolate_from_last_target_pose and arm.last_target is not None
    start_pose = arm.last_target if from_last else att.env.get_robot_eef_pose(arm.eef)
    if shared is not None and att.links[shared.partner].source is not None:
        arm.source = att.links[shared.partner].source
    elif k == 0 or att.spec.generation.select_src_per_subtask:
        arm.source = _choose_source(att, arm, sub, start_pose)
    arm.chosen.append(arm.source)
    segment = _source_segment(att, arm, sub, shared, start_pose)
    segment = with_settle_steps(segment, sub.num_settle_steps_before_gripper)
    straight = bridge(start_pose, segment, sub.num_interpolation_steps, sub.num_fixed_steps,
                      sub.apply_noise_during_interpolation)
    planned = _planned_bridge(att, arm, segment, sub) if _wants_plan(att, arm, sub, straight) else None
    lead = straight if planned is None else planned
    arm.last_target = segment.poses[-1]
    arm.waypoints, arm.step = WaypointSequence.concat([lead, segment]), 0


def _wants_plan(att: _Attempt, arm: _Arm, sub: SubtaskSpec, straight: WaypointSequence) -> bool:
    """Whether the subtask's transit is planned: always for ``plan``, for ``auto`` where the straight bridge
    would bring the arm (or what it holds) within ``planner.straight_margin`` of something (the check's time
    counts as planning)."""
    if sub.transit != "auto":
        return sub.transit == "plan"
    started = time.perf_counter()
    world = att.env.collision_world()
    world.sync()
    collides = straight_collides(world, att.env.eef_names.index(arm.eef), straight.poses,
                                 att.env.held_objects(arm.eef), att.spec.planner)
    att.checking_s += time.perf_counter() - started
    return collides


def _planned_bridge(att: _Attempt, arm: _Arm, segment: WaypointSequence, sub: SubtaskSpec) -> WaypointSequence | None:
    """A collision-free path from where the arm is to the segment's first pose, then ``num_fixed_steps`` holds
    there (None when no path is found: the caller interpolates)."""
    world = att.env.collision_world()
    world.sync()
    plan = plan_transit(world, att.env.eef_names.index(arm.eef), segment.poses[0], att.env.held_objects(arm.eef),
                        att.spec.planner, int(att.rng.integers(2**63)))
    att.plans.append(plan)
    if plan.poses is None:
        return None
    poses = np.concatenate([plan.poses, np.repeat(segment.poses[:1], sub.num_fixed_steps, axis=0)])
    grippers = np.repeat(segment.grippers[:1], len(poses), axis=0)
    return WaypointSequence(poses, grippers, np.full(len(poses), sub.apply_noise_during_interpolation))


def _choose_source(att: _Attempt, arm: _Arm, sub: SubtaskSpec, hand: np.ndarray) -> int:
    """The source demo of the arm's next subtask, by the subtask's strategy; ``hand``: the pose its bridge starts at."""
    now = att.env.get_object_poses()[sub.object_ref] if sub.object_ref else None
    period = _symmetry(att, sub.object_ref)
    candidates = []
    for i, demo in enumerate(att.sources.demos):
        start, _ = _segment_bounds(arm.ends[i], arm.k)
        at_start = demo.info.object_poses[sub.object_ref][start] if sub.object_ref else None
        first = demo.info.target_eef_pose[arm.eef][start]
        as_hand_starts = None if at_start is None else transform_poses_to_new_frame(at_start, first, hand)
        seen = None if at_start is None else nearest_symmetric_pose(now, as_hand_starts, period)
        first = first if at_start is None else transform_poses_to_new_frame(first, at_start, seen)
        candidates.append(Candidate(i, at_start, first, seen))
    ctx = SelectionContext(now, att.env.get_robot_eef_pose(arm.eef))
    return select_source(sub.selection_strategy, candidates, ctx, att.rng, sub.selection_strategy_kwargs)


def _symmetry(att: _Attempt, name: str | None) -> float:
    """The turn (radians) after which object ``name`` looks the same; 0 for none, or where symmetry is off (the
    spec's ``use_object_symmetry``; unset: as the task observes symmetric objects)."""
    use = att.spec.generation.use_object_symmetry
    if use is None:
        use = att.env.observes_symmetric_near_hand()
    return att.env.object_symmetries().get(name, 0.0) if use and name is not None else 0.0


def _object_as_seen(att: _Attempt, name: str, reference: np.ndarray) -> np.ndarray:
    """Object ``name``'s pose now; for a symmetric object (and the spec using symmetries) the equivalent turn
    whose rotation is nearest ``reference``'s."""
    return nearest_symmetric_pose(att.env.get_object_poses()[name], reference, _symmetry(att, name))


def _source_segment(att: _Attempt, arm: _Arm, sub: SubtaskSpec, shared: Link | None,
                    hand: np.ndarray) -> WaypointSequence:
    """The chosen source segment carried into the current scene, corrected for a held object's grip."""
    segment = _moved_segment(att, arm, sub, shared, hand)
    if sub.held_object_ref is None:
        return segment
    demo, (start, _) = att.sources.demos[arm.source], _segment_bounds(arm.ends[arm.source], arm.k)
    eef_src, held_src = demo.info.eef_pose[arm.eef][start], demo.info.object_poses[sub.held_object_ref][start]
    eef_now = att.env.get_robot_eef_pose(arm.eef)
    as_gripped_in_source = eef_now @ pose_inv(eef_src) @ held_src
    held_now = _object_as_seen(att, sub.held_object_ref, as_gripped_in_source)
    correction = held_object_correction(eef_src, held_src, eef_now, held_now)
    return WaypointSequence(segment.poses @ correction, segment.grippers, segment.noisy)


def _moved_segment(att: _Attempt, arm: _Arm, sub: SubtaskSpec, shared: Link | None,
                   hand: np.ndarray) -> WaypointSequence:
    """The chosen source segment carried into the current scene (coordinated: with the shared transform). A
    symmetric object is taken at the turn that starts the segment nearest ``hand``'s rotation (where the bridge
    starts), so the hand turns least and the same scene always gives the same turn, whichever the source."""
    demo = att.sources.demos[arm.source]
    start, end = _segment_bounds(arm.ends[arm.source], arm.k)
    if shared is not None:  # both arms replay one stretch of source time: from the later of their starts
        partner_eef, partner_k = shared.partner
        p_start, p_end = _segment_bounds(att.arms[partner_eef].ends[arm.source], partner_k)
        start = min(max(start, p_start), end - 1)
    targets = demo.info.target_eef_pose[arm.eef][start:end]
    grippers = demo.info.gripper_action[arm.eef][start:end]
    if arm.k == 0 or att.spec.generation.transform_first_robot_pose:
        targets = np.concatenate([demo.info.eef_pose[arm.eef][start:start + 1], targets])
        grippers = np.concatenate([grippers[:1], grippers])
    obj_src = demo.info.object_poses[sub.object_ref][start] if sub.object_ref else None
    obj_now = (_object_as_seen(att, sub.object_ref, transform_poses_to_new_frame(obj_src, targets[0], hand))
               if sub.object_ref else None)
    if shared is None:
        return transformed_segment(targets, grippers, obj_src, obj_now)
    partner = att.links[shared.partner]
    delta = partner.delta if partner.delta is not None else coordination_delta(shared.spec, obj_src, obj_now, att.rng)
    shared.source, shared.delta, shared.sync_steps = arm.source, delta, min(end - start, max(p_end - start, 1))
    return WaypointSequence(delta @ targets, grippers, np.ones(len(targets), dtype=bool))


def perturb_pose(pose: np.ndarray, unit_noise: np.ndarray) -> np.ndarray:
    """``pose`` ``[4, 4]`` moved by a delta of ``unit_noise`` ``[6]`` in full-scale ``delta_eef`` units.

    Noise thus means the same physical perturbation in every action mode (0.03 -> 1.5 mm, 0.015 rad).
    """
    return delta_action_to_target_pose(pose, unit_noise, DeltaEef.default_scale)  # reads the 6 pose columns only


def _hold_until_rest(att: _Attempt) -> bool:
    """Hold every arm's last target until the task succeeds (held at rest) or ``MAX_REST_STEPS`` pass
    beyond the hold."""
    rows = att.builder.rows
    if rows["successes"] and rows["successes"][-1]:
        return True
    for _ in range(MAX_REST_STEPS + att.env.success_hold_steps - 1):
        parts = {eef: _hold_action(att, arm) for eef, arm in att.arms.items()}
        _, info = att.builder.step(att.env.combine_arm_actions(parts))
        att.labels["subtask_index"].append(att.labels["subtask_index"][-1])
        att.labels["src_demo_index"].append(att.labels["src_demo_index"][-1])
        if info["success"]:
            return True
    return False


def _failure_label(att: _Attempt) -> int | str:
    """The first subtask whose signal never fired (else the last subtask of the first arm)."""
    failed = [(eef, arm.failed) for eef, arm in att.arms.items() if arm.failed is not None]
    eef, k = failed[0] if failed else next((eef, len(arm.subtasks) - 1) for eef, arm in att.arms.items())
    return subtask_label(eef, k, len(att.arms))


def subtask_label(eef: str, k: int, num_eefs: int) -> int | str:
    """How a subtask is named in reports: its index with one arm, ``"<eef>:<index>"`` with several."""
    return k if num_eefs == 1 else f"{eef}:{k}"


def _source_attrs(arms: dict[str, _Arm]) -> dict[str, np.ndarray]:
    """``src_demo_inds`` (one arm) or ``src_demo_inds_<eef>`` per arm: the source demo of each subtask."""
    if len(arms) == 1:
        return {"src_demo_inds": np.asarray(next(iter(arms.values())).chosen, dtype=np.int64)}
    return {f"src_demo_inds_{eef}": np.asarray(arm.chosen, dtype=np.int64) for eef, arm in arms.items()}


def _label_array(rows: list[list[int]]) -> np.ndarray:
    """Per-step labels ``[T]`` for one arm, ``[T, E]`` (columns in spec order) for several."""
    array = np.asarray(rows, dtype=np.int64)
    return array[:, 0] if array.shape[1] == 1 else array
