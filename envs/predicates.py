"""Task logic as expressions over a small predicate vocabulary, written in a task file.

A task file's ``logic`` section names its stage flags, its success condition and which flags are
subtask signals; each is an expression such as::

    red_on_blue: on(cube_red, cube_blue) and not grasp_red
    success: on(cube_blue, table) and red_on_blue and at_rest() and gripper_open() and not touching()

Expressions use ``and``, ``or``, ``not`` (or ``all(...)``, ``any(...)``), the predicates in
``PREDICATES``, the task's object names, ``table``, end-effector names (``by=robot0``), numbers,
and the names of flags declared before them. They are parsed once (Python's ``ast``, nothing is
executed) and compiled to closures over the env; a bad expression is a ``ConfigError`` naming the
key and the fix.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.errors import ConfigError
from envs.pose import quat_to_mat

Check = Callable[[Any, dict[str, bool]], bool]  # (env, flags computed so far) -> value
TABLE = "table"
AXES = {"x": 0, "y": 1, "z": 2}


# ---------------------------------------------------------------- the vocabulary
def grasped(env, obj: str, by: str | None = None) -> bool:
    """Both fingers of ``by`` (default: any robot) touch ``obj``, its gripper commanded closed."""
    return env.grasped(obj, None if by is None else env.robot_of(by))


def lifted(env, obj: str, height: float) -> bool:
    """The bottom of ``obj`` is at least ``height`` m above the table."""
    return env.object_position(obj)[2] - env.object_half_height(obj) - env.table_top_z >= height


def on(env, top: str, below: str, xy_tol: float = 0.02, z_tol: float = 0.008) -> bool:
    """``top`` rests on ``below`` (or on the ``table``): aligned, stacked by their half heights, touching."""
    x, y, z = env.object_position(top)
    if below == TABLE:
        return abs(z - env.table_top_z - env.object_half_height(top)) < z_tol
    bx, by_, bz = env.object_position(below)
    aligned = math.hypot(x - bx, y - by_) < xy_tol
    stacked = abs(z - bz - (env.object_half_height(top) + env.object_half_height(below))) < z_tol
    return aligned and stacked and env.in_contact(top, below)


def inside(env, obj: str, container: str) -> bool:
    """The centre of ``obj`` lies within the container's inner walls and below its rim."""
    inner, rim = env.container_interior(container)
    x, y, z = env.object_position(obj)
    cx, cy, cz = env.object_position(container)
    return abs(x - cx) < inner[0] and abs(y - cy) < inner[1] and z < cz + rim


def inserted(env, obj: str, into: str, depth: float) -> bool:
    """The bottom of ``obj`` is at least ``depth`` m below the top of ``into``."""
    bottom = env.object_position(obj)[2] - env.object_half_height(obj)
    return bottom < env.object_position(into)[2] + env.object_half_height(into) - depth


def aligned(env, a: str, b: str, tolerance: float) -> bool:
    """The vertical axes through the centres of ``a`` and ``b`` are within ``tolerance`` m."""
    (ax, ay, _), (bx, by_, _) = env.object_position(a), env.object_position(b)
    return math.hypot(ax - bx, ay - by_) < tolerance


def level(env, obj: str, axis: str = "x", max_tilt: float = 10.0) -> bool:
    """The object's local ``axis`` is tilted less than ``max_tilt`` degrees from the horizontal."""
    _, quat = env.object_pos_quat(obj)
    direction = quat_to_mat(quat)[:, AXES[axis]]
    return np.arcsin(min(1.0, abs(direction[2]))) < np.deg2rad(max_tilt)


def gripper_open(env, by: str = "robot0") -> bool:
    """The gripper of ``by`` is commanded open."""
    return env.robot_of(by).gripper_command < 0


def eef_above(env, obj: str, height: float, by: str = "robot0") -> bool:
    """The end effector of ``by`` is more than ``height`` m above the centre of ``obj``."""
    return env.robot_of(by).eef_state()[0][2] > env.object_position(obj)[2] + height


def touching(env, *objects: str, by: str | None = None) -> bool:
    """Some robot (or ``by``) touches one of ``objects`` (default: every task object)."""
    robots = env.robots if by is None else [env.robot_of(by)]
    return any(env.robot_touches(name, robot) for name in objects or env.bodies for robot in robots)


def contact(env, a: str, b: str) -> bool:
    """Objects ``a`` and ``b`` touch (any contact point between them)."""
    return env.in_contact(a, b)


def at_rest(env, *objects: str) -> bool:
    """Every one of ``objects`` (default: every task object) is at rest."""
    return all(env.object_at_rest(name) for name in objects or env.bodies)


PREDICATES: dict[str, Callable[..., bool]] = {fn.__name__: fn for fn in (
    grasped, lifted, on, inside, inserted, aligned, level, gripper_open, eef_above, touching, contact,
    at_rest)}
OBJECT_ARGS = {"obj", "top", "below", "container", "into", "a", "b", "objects"}  # parameters naming objects


# ---------------------------------------------------------------- parsing
@dataclass(frozen=True)
class Names:
    """What bare names in an expression may refer to."""

    objects: tuple[str, ...]
    eefs: tuple[str, ...]
    flags: tuple[str, ...]  # flags declared before this expression
    containers: tuple[str, ...] = ()  # objects that declare a container interior


def compile_logic(text: Any, names: Names, where: str) -> Check:
    """Parse and check one expression; returns ``check(env, flags) -> bool``."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: expected an expression such as 'grasped(cube_red)', got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as err:
        raise ConfigError(f"{where}: {text!r} is not a valid expression ({err.msg})") from err
    return _compile(tree, names, where)


def _compile(node: ast.AST, names: Names, where: str) -> Check:
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names, where) for v in node.values]
        return _all_of(parts) if isinstance(node.op, ast.And) else _any_of(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, names, where)
        return lambda env, flags: not inner(env, flags)
    if isinstance(node, ast.Name):
        return _flag(node.id, names, where)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _call(node, names, where)
    raise ConfigError(f"{where}: {ast.unparse(node)!r} is not allowed; use predicates, flags, and/or/not")


def _all_of(parts: list[Check]) -> Check:
    return lambda env, flags: all(part(env, flags) for part in parts)


def _any_of(parts: list[Check]) -> Check:
    return lambda env, flags: any(part(env, flags) for part in parts)


def _flag(name: str, names: Names, where: str) -> Check:
    if name not in names.flags:
        hint = _nearest(name, names.flags)
        raise ConfigError(f"{where}: {name!r} is no flag declared before this one{hint}; declare it earlier "
                          "or call a predicate, e.g. grasped(obj)")
    return lambda env, flags: flags[name]


def _call(node: ast.Call, names: Names, where: str) -> Check:
    name = node.func.id
    if name in ("all", "any", "not"):
        parts = [_compile(arg, names, where) for arg in node.args]
        if name == "not":
            if len(parts) != 1 or node.keywords:
                raise ConfigError(f"{where}: not(...) takes one expression")
            return lambda env, flags: not parts[0](env, flags)
        return _all_of(parts) if name == "all" else _any_of(parts)
    if name not in PREDICATES:
        raise ConfigError(f"{where}: unknown predicate {name!r}{_nearest(name, PREDICATES)}; known: "
                          f"{', '.join(PREDICATES)}, all, any, not")
    fn = PREDICATES[name]
    args = [_argument(arg, names, where, name) for arg in node.args]
    kwargs = {kw.arg: _argument(kw.value, names, where, name) for kw in node.keywords}
    _check_signature(fn, args, kwargs, names, where)
    return lambda env, flags: bool(fn(env, *args, **kwargs))


def _argument(node: ast.AST, names: Names, where: str, predicate: str) -> Any:
    value = getattr(node, "value", None)
    if isinstance(node, ast.Constant) and isinstance(value, int | float | str) and not isinstance(value, bool):
        return value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    if isinstance(node, ast.Name):
        return node.id
    raise ConfigError(f"{where}: argument {ast.unparse(node)!r} of {predicate}() must be a name or a number")


def _check_signature(fn: Callable, args: list, kwargs: dict, names: Names, where: str) -> None:
    signature = inspect.signature(fn)
    try:
        bound = signature.bind(None, *args, **kwargs)
    except TypeError as err:
        raise ConfigError(f"{where}: {fn.__name__}(): {err}; it is {fn.__name__}{_public(signature)}") from err
    for param, value in list(bound.arguments.items())[1:]:
        values = value if isinstance(value, tuple) else (value,)
        if param == "by":
            _check_names(values, names.eefs, "end effector", where, fn.__name__)
        elif param == "container":
            _check_names(values, names.containers, "container (an object with a container interior)", where,
                         fn.__name__)
        elif param in OBJECT_ARGS:
            allowed = (*names.objects, TABLE) if param == "below" else names.objects
            _check_names(values, allowed, "object", where, fn.__name__)
        elif param != "axis" and not all(isinstance(v, int | float) for v in values):
            raise ConfigError(f"{where}: {fn.__name__}(): {param} must be a number, got {value!r}")
        elif param == "axis" and value not in AXES:
            raise ConfigError(f"{where}: {fn.__name__}(): axis must be x, y or z, got {value!r}")


def _check_names(values: tuple, allowed: tuple[str, ...], kind: str, where: str, predicate: str) -> None:
    for value in values:
        if value not in allowed:
            raise ConfigError(f"{where}: {predicate}(): unknown {kind} {value!r}{_nearest(str(value), allowed)}; "
                              f"the task has {', '.join(allowed)}")


def _public(signature: inspect.Signature) -> str:
    return str(signature.replace(parameters=list(signature.parameters.values())[1:]))


def _nearest(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
