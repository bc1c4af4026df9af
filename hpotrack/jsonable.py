"""Plain JSON for stored values and printed output.

Stored JSON (params, metrics, exports) must load anywhere: JSON has no NaN or infinity, so
they become null, and numpy scalars and arrays become Python numbers and lists.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any


def dumps(obj: Any) -> str:
    """Compact JSON; numpy scalars become Python numbers, NaN and inf become null.

    Plain JSON values (the usual case: params and metrics of builtin numbers) take the C
    encoder directly; only what it refuses is converted first.
    """
    try:
        return _ENCODER.encode(obj)
    except (TypeError, ValueError):
        return _ENCODER.encode(jsonable(obj))


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # built once: cheaper


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: NaN/inf -> None, numpy -> Python, tuples -> lists,
    anything else -> its ``repr``. Never raises: cycles, objects whose ``repr`` fails
    and absurd nesting become short placeholder strings."""
    return _plain(obj, set(), 0)


def jsonable_items(items: list[Any]) -> Iterator[Any]:
    """The items of ``jsonable(items)``, made one at a time (each nested one level down
    and in ``items``, as there), for a writer that writes them as they come."""
    for item in items:
        yield _plain(item, {id(items)}, 1)


def _plain(obj: Any, path: set[int], depth: int) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if depth > MAX_DEPTH:
        return "<too deeply nested>"
    if id(obj) in path:
        return "<cycle>"
    path.add(id(obj))
    try:
        if isinstance(obj, Mapping):
            return {jsonable_key(k): _plain(v, path, depth + 1) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [_plain(v, path, depth + 1) for v in obj]
        listed = _tolist(obj)  # numpy (and torch) scalars -> numbers, arrays -> lists
        return _repr(obj) if listed is _NOTHING else _plain(listed, path, depth + 1)
    finally:
        path.discard(id(obj))


MAX_DEPTH = 64
_NOTHING = object()


def _tolist(obj: Any) -> Any:
    """``obj.tolist()`` when that gives plain data, else ``_NOTHING``."""
    tolist = getattr(obj, "tolist", None)
    if not callable(tolist):
        return _NOTHING
    try:
        listed = tolist()
    except Exception:
        return _NOTHING
    plain = (list, str, int, float, bool, type(None))
    return listed if isinstance(listed, plain) else _NOTHING


def jsonable_key(key: Any) -> str:
    """A dict key as JSON's own encoder writes it (``None`` -> "null", ``True`` -> "true")."""
    if isinstance(key, str):
        return key
    if isinstance(key, (bool, int, float)) or key is None:
        return json.dumps(key)
    return _repr(key)


def _repr(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception:
        return f"<unrepresentable {type(obj).__name__}>"
