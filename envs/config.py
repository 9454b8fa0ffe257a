"""Typed, validated config loading: YAML/JSON mappings -> frozen dataclasses, strict about keys and types."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from envs.errors import ConfigError

SEED_LIMIT = 2**32  # a seed is an integer from 0 to SEED_LIMIT - 1 (numpy's and torch's range; robomimic seeds both)

T = TypeVar("T")
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: the same values, ~8x faster


def load_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file that must hold a mapping; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing .yaml or .json file")
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a text file ({err.reason}); pass a YAML or JSON file") from err
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=SAFE_LOADER)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    return data


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys, missing keys and bad types raise ``ConfigError``.

    ``where`` names the file and key path for messages, e.g. ``mimic.yaml: generation``.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(map(str, set(data) - set(fields)))
    if unknown:
        hint = " (YAML reads an unquoted on/off/yes/no key as true/false: quote it)" if any(
            isinstance(k, bool) for k in data) else ""
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}{hint}; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _convert(hints[name], data[name], _child(where, name))
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: missing required key {name!r}")
    return cls(**values)


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, where)
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin is tuple:
        return _convert_tuple(args, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): _convert(args[1], v, _child(where, str(k))) for k, v in value.items()}
    return _convert_scalar(hint, value, where)


def _convert_tuple(args: tuple, value: Any, where: str) -> tuple:
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
    return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))


_EXPECTED = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def _child(where: str, key: str) -> str:
    """``file: a.b`` -> ``file: a.b.key``; a bare file name -> ``file: key``."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def _convert_scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is Any:
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {_EXPECTED.get(hint, hint.__name__)}, got {value!r}")
    return value


def parse_key_values(items: tuple[str, ...] | list[str], flag: str, example: str) -> dict[str, Any]:
    """``("a.b=400", ...)`` -> ``{"a.b": 400}`` (values read as YAML); a malformed item is a ``UsageError``."""
    from envs.errors import UsageError

    values = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} needs KEY=VALUE (e.g. {example}), got {item!r}")
        try:
            values[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as err:
            raise UsageError(f"{flag} {key.strip()}: the value {raw!r} is not valid YAML ({err.problem})") from err
    return values

