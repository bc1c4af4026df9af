"""Plain JSON for stored values and printed output.

Stored JSON (params, metrics, exports) must load anywhere: JSON has no NaN or infinity, so
they become null, and numpy scalars and arrays become Python numbers and lists.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def dumps(obj: Any) -> str:
    """Compact JSON; numpy scalars become Python numbers, NaN and inf become null.

    Plain JSON values (the usual case: params and metrics of builtin numbers) take the C
    encoder directly; only what it refuses is converted first.
    """
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(jsonable(obj), separators=(",", ":"), allow_nan=False)


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values: NaN/inf -> None, numpy -> Python, unknown -> repr."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    tolist = getattr(obj, "tolist", None)  # numpy scalars (-> a number) and arrays (-> lists)
    if callable(tolist):
        return jsonable(tolist())
    return repr(obj)
