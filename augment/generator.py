"""One Mimic generation attempt: new scene, per-subtask source selection, transform, bridge, execute.

An attempt is a pure function of (source set, spec, run seed, attempt index): the scene seed and
the random stream both derive from the run seed and the index, and env resets are history-free,
so any worker can run any attempt and the output does not depend on the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from augment.selection import Candidate, SelectionContext, select_source
from augment.source import SourceDemo, SourceSet, draw_subtask_ends
from augment.spec import MimicSpec, SubtaskSpec
from augment.waypoints import WaypointSequence, bridge, transformed_segment
from envs.actions import DeltaEef, delta_action_to_target_pose
from envs.pose import transform_poses_to_new_frame
from recorder.episode import Episode, EpisodeBuilder
from recorder.tasks import episode_seed

GENERATE_STREAM = 1
MAX_REST_STEPS = 15  # extra hold steps after the last waypoint, waiting for objects to come to rest


@dataclass(frozen=True)
class AttemptResult:
    """The attempt's episode, whether it ended in success, and the first subtask that failed (or None)."""

    index: int
    episode: Episode
    success: bool
    failed_subtask: int | None


@dataclass
class _Plan:
    """State carried across subtasks of one attempt."""

    ends: dict[int, np.ndarray]
    last_target: np.ndarray | None = None
    source: int | None = None


def run_attempt(env, sources: SourceSet, spec: MimicSpec, index: int) -> AttemptResult:
    """Generate one episode into ``env`` (single end effector) and judge it at the end, at rest."""
    eef = next(iter(spec.eefs))
    subtasks = spec.eefs[eef].subtasks
    rng = np.random.default_rng([spec.generation.seed, GENERATE_STREAM, index])
    scene_seed = episode_seed(spec.generation.seed, GENERATE_STREAM, index)
    obs, _ = env.reset(seed=scene_seed)
    builder = EpisodeBuilder(env, scene_seed, obs)
    offsets = [s.term_offset_range for s in subtasks]
    plan = _Plan({i: draw_subtask_ends(d, eef, offsets, rng) for i, d in enumerate(sources.demos)})
    labels: dict[str, list[int]] = {"subtask_index": [], "src_demo_index": []}
    failed, chosen = None, []
    for k, sub in enumerate(subtasks):
        if k == 0 or spec.generation.select_src_per_subtask:
            plan.source = _choose_source(env, sources.demos, plan, eef, k, sub, rng)
        chosen.append(plan.source)
        fired = _execute(env, builder, _waypoints(env, sources.demos[plan.source], plan, eef, k, sub, spec),
                         sub, rng, labels, k, plan.source)
        if failed is None and sub.term_signal is not None and not fired:
            failed = k
    success = _hold_until_rest(env, builder, plan, labels, len(subtasks) - 1)
    failed = None if success else (failed if failed is not None else len(subtasks) - 1)
    extras = {key: np.asarray(v, dtype=np.int64) for key, v in labels.items()}
    attrs = {"source": "generated", "src_demo_inds": np.asarray(chosen, dtype=np.int64), "attempt_index": index}
    return AttemptResult(index, builder.build(attrs=attrs, extras=extras), success, failed)


def _segment_bounds(plan: _Plan, source: int, k: int) -> tuple[int, int]:
    ends = plan.ends[source]
    return (0 if k == 0 else int(ends[k - 1])), int(ends[k])


def _choose_source(env, demos: tuple[SourceDemo, ...], plan: _Plan, eef: str, k: int,
                   sub: SubtaskSpec, rng: np.random.Generator) -> int:
    now = env.get_object_poses()[sub.object_ref] if sub.object_ref else None
    candidates = []
    for i, demo in enumerate(demos):
        start, _ = _segment_bounds(plan, i, k)
        at_start = demo.info.object_poses[sub.object_ref][start] if sub.object_ref else None
        first = demo.info.target_eef_pose[eef][start]
        first = first if at_start is None else transform_poses_to_new_frame(first, at_start, now)
        candidates.append(Candidate(i, at_start, first))
    ctx = SelectionContext(now, env.get_robot_eef_pose(eef))
    return select_source(sub.selection_strategy, candidates, ctx, rng, sub.selection_strategy_kwargs)


def _waypoints(env, demo: SourceDemo, plan: _Plan, eef: str, k: int, sub: SubtaskSpec,
               spec: MimicSpec) -> WaypointSequence:
    start, end = _segment_bounds(plan, plan.source, k)
    targets = demo.info.target_eef_pose[eef][start:end]
    grippers = demo.info.gripper_action[eef][start:end]
    if k == 0 or spec.generation.transform_first_robot_pose:
        targets = np.concatenate([demo.info.eef_pose[eef][start:start + 1], targets])
        grippers = np.concatenate([grippers[:1], grippers])
    obj_src = demo.info.object_poses[sub.object_ref][start] if sub.object_ref else None
    obj_now = env.get_object_poses()[sub.object_ref] if sub.object_ref else None
    segment = transformed_segment(targets, grippers, obj_src, obj_now)
    from_last = spec.generation.interpolate_from_last_target_pose and plan.last_target is not None
    start_pose = plan.last_target if from_last else env.get_robot_eef_pose(eef)
    lead = bridge(start_pose, segment, sub.num_interpolation_steps, sub.num_fixed_steps,
                  sub.apply_noise_during_interpolation)
    plan.last_target = segment.poses[-1]
    return WaypointSequence.concat([lead, segment])


def _execute(env, builder: EpisodeBuilder, waypoints: WaypointSequence, sub: SubtaskSpec,
             rng: np.random.Generator, labels: dict, k: int, source: int) -> bool:
    """Step through ``waypoints``; returns whether the subtask's termination signal fired."""
    fired = False
    for pose, gripper, noisy in zip(waypoints.poses, waypoints.grippers, waypoints.noisy, strict=True):
        if noisy and sub.action_noise > 0:
            pose = perturb_pose(pose, sub.action_noise * rng.standard_normal(6))
        _, info = builder.step(env.target_eef_pose_to_action(pose, gripper))
        labels["subtask_index"].append(k)
        labels["src_demo_index"].append(source)
        fired = fired or bool(sub.term_signal and info.get(sub.term_signal))
    return fired


def perturb_pose(pose: np.ndarray, unit_noise: np.ndarray) -> np.ndarray:
    """``pose`` ``[4, 4]`` moved by a delta of ``unit_noise`` ``[6]`` in full-scale ``delta_eef`` units.

    Noise thus means the same physical perturbation in every action mode (0.03 -> 1.5 mm, 0.015 rad).
    """
    return delta_action_to_target_pose(pose, np.concatenate([unit_noise, [0.0]]), DeltaEef.default_scale)


def _hold_until_rest(env, builder: EpisodeBuilder, plan: _Plan, labels: dict, k: int) -> bool:
    """Hold the last target until the task succeeds (at rest) or ``MAX_REST_STEPS`` pass."""
    if builder.rows["successes"] and builder.rows["successes"][-1]:
        return True
    gripper = np.asarray(builder.rows["actions"][-1][-1:])
    for _ in range(MAX_REST_STEPS):
        _, info = builder.step(env.target_eef_pose_to_action(plan.last_target, gripper))
        labels["subtask_index"].append(k)
        labels["src_demo_index"].append(labels["src_demo_index"][-1])
        if info["success"]:
            return True
    return False
