"""Unit-cube and grid arithmetic the parameter types share: clipping a point into [0, 1],
the equal bins that give a discrete parameter's values equal shares of it, and evenly
spread, tidily rounded grid points."""

from __future__ import annotations

import math
from decimal import Decimal

from hpotrack.errors import SpaceError

__all__ = ["bin_of", "clip_unit", "decimals", "spread", "tidy"]


def decimals(x: float) -> int:
    """Decimal places of a float as written (0.05 -> 2, 1e-20 -> 20, 300.0 -> 0)."""
    exponent = Decimal(repr(x)).as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def spread(count: int, g: int) -> list[int]:
    """``g`` distinct indices of ``range(count)`` spread evenly, both ends included."""
    return [(2 * i * (count - 1) + g - 1) // (2 * (g - 1)) for i in range(g)]


def tidy(points: list[float]) -> tuple[float, ...]:
    """Inner grid points rounded 6 digits below their spacing: 0.3, not 0.30000000000000004."""
    out = list(points)
    for i in range(1, len(points) - 1):
        gap = min(points[i] - points[i - 1], points[i + 1] - points[i])
        if gap > 0:
            out[i] = round(points[i], 6 - math.floor(math.log10(gap)))
    return tuple(dict.fromkeys(out))


def clip_unit(u: float) -> float:
    """``u`` clipped into [0, 1]; NaN is refused since it has no place in the cube."""
    u = float(u)
    if math.isnan(u):
        raise SpaceError("cannot decode NaN: the point must lie in [0, 1]")
    return min(max(u, 0.0), 1.0)


def bin_of(u: float, n: int) -> int:
    """Which of ``n`` equal bins of [0, 1] holds ``u``."""
    return min(int(clip_unit(u) * n), n - 1)
