"""Action banks: a task's scripted expert as a graph in ``configs/<Task>/action_bank.yaml`` (JSON accepted).

The graph is organized as EmbodiChain organizes its action banks:

- ``scope``: the controlled parts, each a sub-graph: an ``arm`` (6-D end-effector pose, starts where
  the arm is) or a ``gripper`` (1-D command in [-1, 1], starts at ``init``), each bound to an end
  effector (``robot0``, ``robot1``, ...).
- ``node``: key poses computed from the scene: a ``base`` (an object's pose, another node, the end
  effector's current pose, or the world frame) and a chain of pose operations: ``offset`` (world
  axes), ``local_offset`` (the pose's own axes), ``rotate`` (replace the rotation: gripper pointing
  down or upright, or the arm's current rotation, with a yaw taken from an object, shifted, and folded
  by a symmetry), ``held`` (frame change: the pose is where a held object should go; the result is
  the gripper pose that puts it there). Every node is checked by IK against the arm that goes to it.
- ``edge``: per scope, the timed transitions it runs in order: ``move`` (a trajectory to a node at
  ``speed`` m per step, then ``hold`` steps), ``open`` / ``close`` (the gripper, for ``duration``
  steps), ``wait`` (``duration`` steps).
- ``sync``: ``edge: [edges of other scopes it waits for]``.

A node is evaluated when the first edge that needs it starts, from the scene at that moment, so
the expert follows where things actually are. A cycle, a missing node or edge, an unknown function
or object, and an unreachable pose are ``ConfigError`` naming the node or edge.
"""

from __future__ import annotations

import functools
import graphlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import envs
from envs.config import from_mapping, load_mapping
from envs.errors import ConfigError

GRIPPER_DOWN = np.diag([1.0, -1.0, -1.0])
MAX_ROT_STEP = 0.12  # rad per control step while moving
REACH_TOL = 0.004  # m: a move is done once the arm is this close to its node
IK_TOL = 0.01  # m: a node farther than this from where IK gets the arm is unreachable
SCOPE_DIMS = {"arm": 6, "gripper": 1}
EDGE_FUNCTIONS = {"move": "arm", "open": "gripper", "close": "gripper", "wait": None}
TILTS = ("down", "upright", "eef")


@dataclass(frozen=True)
class ScopeSpec:
    """A controlled part: ``arm`` (init ``current``) or ``gripper`` (init in [-1, 1]) of end effector ``eef``."""

    kind: str
    eef: str = "robot0"
    dim: int | None = None
    init: Any = None


@dataclass(frozen=True)
class BaseSpec:
    """Where a node starts: exactly one of an object, another node, the current eef pose, the world."""

    object: str | None = None
    node: str | None = None
    eef: bool = False
    world: bool = False


@dataclass(frozen=True)
class RotateSpec:
    """Rotation replacement: ``tilt`` (down, upright, eef), yaw of an object + ``yaw_add`` degrees,
    folded by ``symmetry`` degrees around the yaw of ``near`` (default: 0)."""

    tilt: str = "down"
    yaw_of: str | None = None
    yaw_add: float = 0.0
    symmetry: float = 360.0
    near: str | None = None


@dataclass(frozen=True)
class OpSpec:
    """One pose operation: exactly one key set."""

    offset: tuple[float, float, float] | None = None
    local_offset: tuple[float, float, float] | None = None
    rotate: RotateSpec | None = None
    held: str | None = None


@dataclass(frozen=True)
class NodeSpec:
    """A key pose: ``base`` then ``ops`` applied in order."""

    base: BaseSpec
    ops: tuple[OpSpec, ...] = ()


@dataclass(frozen=True)
class EdgeSpec:
    """A timed transition of one scope."""

    name: str
    fn: str
    to: str | None = None
    duration: int | None = None
    speed: float = 0.015
    hold: int = 0


@dataclass(frozen=True)
class ActionBank:
    """A validated action bank; ``where`` names its file in messages."""

    scope: dict[str, ScopeSpec]
    node: dict[str, NodeSpec]
    edge: dict[str, tuple[EdgeSpec, ...]]
    sync: dict[str, tuple[str, ...]] = field(default_factory=dict)
    where: str = "action bank"

    @property
    def edges(self) -> dict[str, tuple[str, EdgeSpec]]:
        """Every edge by name, with its scope."""
        return {e.name: (scope, e) for scope, chain in self.edge.items() for e in chain}


def action_bank_path(env_id: str) -> Path:
    """``configs/<Task>/action_bank.yaml`` (or ``.json``) of a registered task."""
    return envs.task_config_file(env_id, "action_bank")


def load_action_bank(path: str | Path) -> ActionBank:
    """Read and validate an action bank file (YAML or JSON); re-read when the file changes."""
    return _load_action_bank(str(path), Path(path).stat().st_mtime_ns if Path(path).exists() else 0)


@functools.cache
def _load_action_bank(path: str, _mtime_ns: int) -> ActionBank:
    where = Path(path).name if Path(path).parent.name == "" else f"{Path(path).parent.name}/{Path(path).name}"
    raw = load_mapping(path)
    bank = from_mapping(ActionBank, {**raw, "where": where}, where)
    validate_bank(bank)
    return bank


def validate_bank(bank: ActionBank) -> None:
    """Check scopes, nodes, edges and sync; raise ``ConfigError`` naming the first bad part."""
    for name, scope in bank.scope.items():
        _check_scope(bank.where, name, scope)
    for name, node in bank.node.items():
        _check_node(bank, name, node)
    _acyclic(bank.where, "node", {n: {s.base.node} - {None} for n, s in bank.node.items()})
    names: set[str] = set()
    for scope, chain in bank.edge.items():
        if scope not in bank.scope:
            raise ConfigError(f"{bank.where}: edge: unknown scope {scope!r}; scopes: {', '.join(bank.scope)}")
        for edge in chain:
            if edge.name in names:
                raise ConfigError(f"{bank.where}: edge {edge.name!r} is defined twice; give each edge its own name")
            names.add(edge.name)
            _check_edge(bank, bank.scope[scope], edge)
    _check_sync(bank, names)


def _check_scope(where: str, name: str, scope: ScopeSpec) -> None:
    if scope.kind not in SCOPE_DIMS:
        raise ConfigError(f"{where}: scope {name!r}: kind must be arm or gripper, got {scope.kind!r}")
    if scope.dim is not None and scope.dim != SCOPE_DIMS[scope.kind]:
        raise ConfigError(f"{where}: scope {name!r}: an {scope.kind} has dim {SCOPE_DIMS[scope.kind]}, got {scope.dim}")
    if scope.kind == "arm" and scope.init not in (None, "current"):
        raise ConfigError(f"{where}: scope {name!r}: an arm starts where it is: init must be 'current'")
    if scope.kind == "gripper" and not (isinstance(scope.init, int | float) and -1.0 <= scope.init <= 1.0):
        raise ConfigError(f"{where}: scope {name!r}: gripper init must be a number in [-1, 1], got {scope.init!r}")


def _check_node(bank: ActionBank, name: str, node: NodeSpec) -> None:
    base = node.base
    if sum([base.object is not None, base.node is not None, base.eef, base.world]) != 1:
        raise ConfigError(f"{bank.where}: node {name!r}: base must set exactly one of object, node, eef, world")
    if base.node is not None and base.node not in bank.node:
        raise ConfigError(f"{bank.where}: node {name!r}: base node {base.node!r} does not exist")
    for i, op in enumerate(node.ops):
        if sum(v is not None for v in (op.offset, op.local_offset, op.rotate, op.held)) != 1:
            raise ConfigError(f"{bank.where}: node {name!r}: ops[{i}] must set exactly one of "
                              "offset, local_offset, rotate, held")
        if op.rotate is not None and op.rotate.tilt not in TILTS:
            raise ConfigError(f"{bank.where}: node {name!r}: ops[{i}].rotate.tilt must be one of "
                              f"{', '.join(TILTS)}, got {op.rotate.tilt!r}")


def _check_edge(bank: ActionBank, scope: ScopeSpec, edge: EdgeSpec) -> None:
    where = f"{bank.where}: edge {edge.name!r}"
    if edge.fn not in EDGE_FUNCTIONS:
        raise ConfigError(f"{where}: unknown function {edge.fn!r}; known: {', '.join(EDGE_FUNCTIONS)}")
    if EDGE_FUNCTIONS[edge.fn] not in (None, scope.kind):
        raise ConfigError(f"{where}: {edge.fn!r} is a {EDGE_FUNCTIONS[edge.fn]} function, not for an {scope.kind}")
    if edge.fn == "move" and edge.to not in bank.node:
        raise ConfigError(f"{where}: moves to node {edge.to!r}, which does not exist")
    if edge.fn != "move" and (edge.duration is None or edge.duration <= 0):
        raise ConfigError(f"{where}: {edge.fn!r} needs a positive duration (control steps)")
    if edge.speed <= 0 or edge.hold < 0:
        raise ConfigError(f"{where}: speed must be positive and hold non-negative")


def _check_sync(bank: ActionBank, names: set[str]) -> None:
    for edge, waits in bank.sync.items():
        for name in (edge, *waits):
            if name not in names:
                raise ConfigError(f"{bank.where}: sync: edge {name!r} does not exist")
    order: dict[str, set[str]] = {name: set(bank.sync.get(name, ())) for name in names}
    for chain in bank.edge.values():
        for before, after in itertools.pairwise(chain):
            order[after.name].add(before.name)
    _acyclic(bank.where, "edge", order)


def _acyclic(where: str, what: str, graph: dict[str, set[str]]) -> None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        cycle = " -> ".join(err.args[1])
        raise ConfigError(f"{where}: the {what}s form a cycle: {cycle}; break it") from err
