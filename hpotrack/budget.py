"""How far a trial may train: ``hp.Budget(min, max, name="epochs")`` on ``@tune``.

A budget is the resource a multi-fidelity method hands out (epochs, iterations, samples).
The training function reads ``trial.budget`` and reports at steps counted in the same unit
(``trial.report(loss, step=epoch)``), so that a method can compare trials at equal budgets
and stop poor ones early. Whole-number bounds make every budget a whole number.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpotrack.errors import DefinitionError
from hpotrack.options import friendly_init
from hpotrack.space import is_utf8


@friendly_init(DefinitionError)  # Budget(low=1, high=9), Budget(9): one clear line, not TypeError
@dataclass(frozen=True)
class Budget:
    """The smallest and largest budget one trial may get, and what the unit is called."""

    min: float
    max: float
    name: str = "budget"

    def __post_init__(self) -> None:
        for label in ("min", "max"):
            value = getattr(self, label)
            if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
                raise DefinitionError(
                    f"`{label}` of a Budget must be a number, but got {label}={value!r}"
                )
            plain = int(value) if isinstance(value, numbers.Integral) else float(value)
            if isinstance(plain, int) and abs(plain) >= 2**63:  # steps are stored as int64
                raise DefinitionError(
                    f"`{label} < 2**63` must hold for a Budget, but got a "
                    f"{len(str(abs(plain)))}-digit {label}"
                )
            if not math.isfinite(plain):
                raise DefinitionError(
                    f"`{label}` of a Budget must be finite, but got {label}={plain!r}"
                )
            object.__setattr__(self, label, plain)  # numpy numbers become plain ones
        if not 0 < self.min < self.max:
            raise DefinitionError(
                f"`0 < min < max` must hold for a Budget, but got min={self.min!r}, "
                f"max={self.max!r}"
            )
        if not isinstance(self.name, str) or not self.name or not is_utf8(self.name):
            raise DefinitionError(
                f"a Budget needs a name (non-empty text, e.g. 'epochs'), got name={self.name!r}"
            )

    @property
    def unit(self) -> str:
        """What an amount of it is called: its name, or "steps" for an unnamed budget
        ("9 steps", not "9 budget")."""
        return "steps" if self.name == "budget" else self.name

    @property
    def whole(self) -> bool:
        """Whether budgets are whole numbers (both bounds given as ints)."""
        return isinstance(self.min, int) and isinstance(self.max, int)

    def rounded(self, amount: float) -> float:
        """``amount`` clipped to [min, max], and rounded to a whole number if budgets are."""
        amount = min(max(amount, self.min), self.max)
        return float(max(self.min, round(amount))) if self.whole else float(amount)

    def halvings(self, eta: float) -> int:
        """``s_max = ⌊log_η(max/min)⌋``: how many times max can be cut by ``eta`` above min."""
        return math.floor(math.log(self.max / self.min) / math.log(eta) + 1e-9)

    def rungs(self, eta: float) -> tuple[int, ...]:
        """Where successive halving with reduction factor ``eta`` checks trials (``sha``,
        ``hyperband``, ``bohb``): rung ``j`` at ``max · η^(j - s_max)`` (``s_max``:
        :meth:`halvings`), rounded to whole steps, lowest first; the last is ``max``
        (Li et al. 2018, "Hyperband", Alg. 1). ``Budget(1, 20)`` gives 2, 7, 20: min is a
        floor, not a rung. Rungs that rounding makes equal to the one below are dropped,
        so steps strictly increase. Here, not with the methods, so that reading a study
        (``hpotrack show``) imports none of them."""
        s_max = self.halvings(eta)
        steps: list[int] = []
        for j in range(s_max + 1):
            step = int(self.rounded(self.max * eta ** (j - s_max)))
            if not steps or step > steps[-1]:
                steps.append(step)
        return tuple(steps)

    def to_json(self) -> dict[str, Any]:
        """The budget as stored with its study (``{"type": "budget", ...}``)."""
        return {"type": "budget", "min": self.min, "max": self.max, "name": self.name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Budget:
        """The Budget whose ``to_json()`` gave ``data``."""
        return cls(min=data["min"], max=data["max"], name=data["name"])
