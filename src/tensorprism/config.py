"""One validation schema for the typed configuration dataclasses (trainer, models, datasets, recipes).

Every setting is checked against its annotation and, when declared, its range, so that a bad value
is refused up front with a message naming the setting, the value and what was expected::

    @dataclass
    class Cfg:
        epochs: int = setting(10, min=1)
        lr: float = setting(1e-3, gt=0)
        precision: str = setting("auto", choices=("auto", "32", "bf16", "16"))

    validate_dataclass(Cfg(epochs=1.5))   # ConfigError: epochs must be an integer >= 1, got 1.5

Supported annotations: ``int``, ``float``, ``bool``, ``str``, ``Literal[...]``, ``Optional``/unions
(``X | None``), ``tuple[X, ...]``/``tuple[X, Y]``/``list[X]``/``Sequence[X]``, ``dict[K, V]``,
``Any`` and plain classes (an ``isinstance`` check). Only unambiguous coercions are made:

* a list for a tuple (YAML has no tuples) and a tuple for a list;
* an ``int`` for a ``float`` (``lr=1``), a numeric string for a number (YAML 1.1 reads ``1e-3``
  as a string), an integral float for an ``int`` (``2.0`` → ``2``);
* a number for a ``str`` setting whose choices contain its text (``precision=16`` → ``"16"``).

``bool`` is never an ``int`` (``epochs=True`` is refused) and ``"abc"`` is never a number.
"""

from __future__ import annotations

import collections.abc as cabc
import dataclasses
import functools
import math
import sys
import types
import typing
from typing import Any

from .errors import ConfigError, suggest

_MISSING = dataclasses.MISSING


def setting(default: Any = _MISSING, *, default_factory: Any = _MISSING, min: float | None = None,
            max: float | None = None, gt: float | None = None, choices: tuple[Any, ...] | None = None,
            ) -> Any:
    """A dataclass field with a declared range: ``min``/``max`` inclusive, ``gt`` exclusive lower
    bound, ``choices`` the allowed values. Range checks apply to numbers (and ``None`` passes them)."""
    meta = {k: v for k, v in (("min", min), ("max", max), ("gt", gt), ("choices", choices)) if v is not None}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class _Mismatch(Exception):
    """Internal: a value does not fit an annotation (turned into one ConfigError per setting)."""


# ----------------------------------------------------------------------------- type descriptions
def describe(tp: Any) -> str:
    """Words for an annotation: ``int`` → "an integer", ``tuple[int, ...]`` → "a list of integers"."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return "any value"
    if tp is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin in (tuple, list, cabc.Sequence, set, frozenset):
        if origin is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} values ({', '.join(describe(a) for a in args)})"
        inner = args[0] if args else Any
        return "a list" if inner is Any else f"a list of {_plural(inner)}"
    if origin in (dict, cabc.Mapping) or tp in (dict, cabc.Mapping):
        return "a mapping"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string",
             tuple: "a list", list: "a list"}
    if tp in names:
        return names[tp]
    return f"a {getattr(tp, '__name__', str(tp))}"


def _plural(tp: Any) -> str:
    words = {int: "integers", float: "numbers", bool: "booleans", str: "strings"}
    return words.get(tp, describe(tp))


# ----------------------------------------------------------------------------- type checks
def _scalar(value: Any, tp: type, coerce: bool) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if coerce and isinstance(value, float) and value.is_integer():
            return int(value)
        if coerce and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise _Mismatch
    if tp is float:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if coerce and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _Mismatch from None
        raise _Mismatch
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value  # an annotation we cannot check (a TypeVar, a protocol...)


def _sequence(value: Any, origin: Any, args: tuple, coerce: bool) -> Any:
    if not isinstance(value, (list, tuple)) or isinstance(value, str):
        raise _Mismatch
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _Mismatch
        items = [check_type(v, a, coerce) for v, a in zip(value, args, strict=True)]
    else:
        inner = args[0] if args else Any
        items = [check_type(v, inner, coerce) for v in value]
    if origin is tuple:
        return tuple(items)
    if origin is list:
        return list(items)
    return type(value)(items)


def check_type(value: Any, tp: Any, coerce: bool = True) -> Any:
    """``value`` converted to annotation ``tp`` by the module's coercion rules; raises ``_Mismatch``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object or isinstance(tp, (str, typing.TypeVar)):
        return value
    if tp is type(None) or tp is None:
        if value is None:
            return None
        raise _Mismatch
    if origin is typing.Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        if coerce and not isinstance(value, str) and str(value) in args:
            return str(value)
        raise _Mismatch
    if origin in (typing.Union, types.UnionType):
        # exact matches first, so that ``int | float`` keeps an int and ``bool | str`` keeps "x"
        for strict in ((False, True) if coerce else (False,)):
            for member in args:
                try:
                    return check_type(value, member, strict)
                except _Mismatch:
                    continue
        raise _Mismatch
    if origin in (tuple, list, cabc.Sequence, set, frozenset) or tp in (tuple, list):
        return _sequence(value, origin or tp, args, coerce)
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or tp in (dict, cabc.Mapping):
        if not isinstance(value, cabc.Mapping):
            raise _Mismatch
        if not args:
            return value
        return {check_type(k, args[0], coerce): check_type(v, args[1], coerce) for k, v in value.items()}
    if origin is not None:  # Callable[...], type[...], other generics: check the bare origin only
        if isinstance(origin, type) and not isinstance(value, origin):
            raise _Mismatch
        return value
    return _scalar(value, tp, coerce)


# ----------------------------------------------------------------------------- ranges
def _range_words(meta: dict[str, Any]) -> str:
    lo, hi, gt = meta.get("min"), meta.get("max"), meta.get("gt")
    if lo is not None and hi is not None:
        return f" between {lo} and {hi}"
    parts = []
    if gt is not None:
        parts.append(f"> {gt}")
    if lo is not None:
        parts.append(f">= {lo}")
    if hi is not None:
        parts.append(f"<= {hi}")
    return (" " + " and ".join(parts)) if parts else ""


def _in_range(value: Any, meta: dict[str, Any]) -> bool:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    if isinstance(value, float) and math.isnan(value):
        return not any(k in meta for k in ("min", "max", "gt"))
    if "min" in meta and value < meta["min"]:
        return False
    if "max" in meta and value > meta["max"]:
        return False
    return not ("gt" in meta and value <= meta["gt"])


def _allows_none(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _expected(tp: Any, meta: dict[str, Any]) -> str:
    if "choices" in meta:
        words = "one of " + ", ".join(repr(c) for c in meta["choices"])
        return words + (" or null" if _allows_none(tp) else "")
    words = describe(tp)
    rng = _range_words(meta)
    if rng and " or null" in words:  # "an integer >= 1 or null" reads better than "... or null >= 1"
        return words.replace(" or null", "") + rng + " or null"
    return words + rng


def check_setting(name: str, value: Any, tp: Any, meta: dict[str, Any] | None = None, owner: str = "") -> Any:
    """``value`` validated (and coerced) for setting ``name`` of annotation ``tp`` and range ``meta``.

    Raises :class:`ConfigError` ("epochs must be an integer >= 1, got 1.5").
    """
    meta = dict(meta or {})
    choices = meta.get("choices")
    try:
        if choices is not None and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and str(value) in choices and value not in choices:
            value = str(value)  # precision=16 from YAML is the choice "16"
        out = check_type(value, tp)
        ok = _in_range(out, meta) and (choices is None or out is None or out in choices)
    except _Mismatch:
        ok = False
    if not ok:
        where = f" (in {owner})" if owner else ""
        close = suggest(value, [str(c) for c in choices]) if choices and isinstance(value, str) else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        got = "an empty value" if value is None or value == "" else repr(value)
        raise ConfigError(f"{name}{where} must be {_expected(tp, meta)}, got {got}{hint}")
    return out


# ----------------------------------------------------------------------------- dataclasses
def _hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of ``cls``; a field whose annotation cannot be resolved (a name imported
    only for type checkers) is taken as ``Any``, i.e. not type-checked."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - fall back to resolving field by field
        module = sys.modules.get(cls.__module__)
        namespace = dict(vars(module)) if module is not None else {}
        hints = {}
        for f in dataclasses.fields(cls):
            try:
                hints[f.name] = eval(f.type, namespace) if isinstance(f.type, str) else f.type  # noqa: S307
            except Exception:  # noqa: BLE001
                hints[f.name] = Any
        return hints


@functools.cache
def _fields(cls: type) -> dict[str, tuple[dataclasses.Field, Any]]:
    hints = _hints(cls)
    return {f.name: (f, hints.get(f.name, Any)) for f in dataclasses.fields(cls)}


def _declared_default(f: dataclasses.Field) -> Any:
    if f.default is not _MISSING:
        return f.default
    if f.default_factory is not _MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return _MISSING


def validate_values(cls: type, values: dict[str, Any], owner: str = "", skip_defaults: bool = True
                    ) -> dict[str, Any]:
    """Check a (partial) mapping of settings of dataclass ``cls``; returns the coerced values.

    Unknown names raise with the closest valid name. With ``skip_defaults``, a value equal to the
    field's declared default is taken as is: a loose annotation in the library's own code is not the
    user's error.
    """
    fields = _fields(cls)
    unknown = [k for k in values if k not in fields]
    if unknown:
        parts = []
        for k in unknown:
            close = suggest(str(k), fields)
            parts.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        where = f" for {owner!r}" if owner else ""
        raise ConfigError(f"unknown option {', '.join(parts)}{where}; valid options of {cls.__name__}: "
                          f"{', '.join(sorted(fields))}")
    out = {}
    for name, value in values.items():
        f, tp = fields[name]
        if skip_defaults and _same(value, _declared_default(f)) and not f.metadata:
            out[name] = value
            continue
        out[name] = check_setting(name, value, tp, f.metadata, owner)
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return a is b or (type(a) is type(b) and bool(a == b))
    except Exception:  # noqa: BLE001 - e.g. tensors: never "the default"
        return False


def validate_dataclass(obj: Any, owner: str = "") -> None:
    """Validate every field of dataclass instance ``obj`` in place (coerced values are written back).

    Meant for ``__post_init__``: ``def __post_init__(self): validate_dataclass(self)``.
    """
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    for name, value in validate_values(type(obj), values, owner).items():
        if value is not values[name]:
            object.__setattr__(obj, name, value)


def validate_arguments(fn: Any, values: dict[str, Any], owner: str = "") -> dict[str, Any]:
    """Check keyword arguments for ``fn`` against its signature's annotations (for registered
    functions configured by keywords, e.g. dataset loaders); returns the coerced values.

    Unknown names raise with the closest valid name unless ``fn`` takes ``**kwargs``; parameters
    without an annotation are not checked, and a value equal to the parameter's default is taken
    as is (see :func:`validate_values`).
    """
    import inspect

    params = inspect.signature(fn).parameters
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - an annotation naming a type only imported for type checkers
        hints = {}
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    unknown = [k for k in values if k not in named]
    if unknown and not open_ended:
        parts = [f"{k!r}" + (f" (did you mean {c[0]!r}?)" if (c := suggest(str(k), named)) else "")
                 for k in unknown]
        where = f" for {owner!r}" if owner else ""
        raise ConfigError(f"unknown option {', '.join(parts)}{where}; valid options: {', '.join(sorted(named))}")
    out = {}
    for name, value in values.items():
        param = params.get(name)
        if param is None or name not in hints or (param.default is not param.empty and _same(value, param.default)):
            out[name] = value
        else:
            out[name] = check_setting(name, value, hints[name], None, owner)
    return out


__all__ = ["setting", "check_setting", "check_type", "describe", "validate_values", "validate_dataclass",
           "validate_arguments"]
