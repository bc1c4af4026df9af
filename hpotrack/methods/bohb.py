"""``bohb``: Hyperband whose new configurations come from a density model (Falkner et al.
2018, "BOHB: Robust and Efficient Hyperparameter Optimization at Scale", sec. 3.1-3.2).

Brackets, rungs, decisions and promotions are Hyperband's (:mod:`hpotrack.methods.hyperband`).
A new configuration is drawn uniformly with probability ``random_fraction``; otherwise
from a model of the largest budget ``b`` with enough observations, ``|D_b| >= N_min + 2``
with ``N_min = d + 1`` (Alg. 2, line 3): the best ``top_n_percent`` of ``D_b`` (at least
``N_min``) make the good density ``l(x)``, the rest (at least ``N_min``) the bad one
``g(x)`` (eqs. 2-3); ``num_samples`` points are drawn from ``l`` with its bandwidths
widened by ``bandwidth_factor`` and the one maximising ``l(x) / g(x)`` is proposed
(Alg. 2, lines 5-8). Bandwidths never fall below ``min_bandwidth``.

Which budget is modelled (``model_budget``): ``"largest"`` is the paper's rule above, so
for the first few hundred epochs the model is that of the rungs at 1 or 3 epochs;
``"top"`` (the default) models only the top budget, uniform until it has ``N_min + 2``
observations. Measured seed by seed against uniform Hyperband on the real training curves
of ``benchmarks/bohb_variants.py`` (20 seeds the benchmark does not use), the paper's rule
was about one validation digit worse than Hyperband within 360 and 540 epochs on the SGD
task (0.95 ± 0.42, 0.85 ± 0.28) and worse than ``"top"`` at 360-810 epochs on both tasks
(the first epochs rank configurations only roughly: rank correlation with the final error
0.64 after one epoch on SGD, 0.74 on MLP). ``"top"`` proposes Hyperband's configurations
until the top budget has something to say, is never behind Hyperband beyond noise, and is
ahead of it from 810 epochs on SGD (0.25 ± 0.20 digits) and from 540 on MLP (0.35-0.65).
Studies stored before the option existed resume with the paper's rule
(``stored_defaults``).

Observations at budget ``b`` are the values trials had at their check at rung ``b``
(every trial that got that far, in any bracket) and, at the top budget, the final values
of trials that completed. The densities are TPE's :class:`ParzenEstimator`, which also
handles integers and choices; its uniform prior component is kept small (one observation's
worth) so that the model is the paper's KDE in all but the tails.

One addition to the paper: the configurations stopped below ``b`` (and not promoted since)
join the bad density, after the observations at ``b``, highest rung first, as Optuna's TPE
ranks pruned trials. Only survivors reach a large budget, so its observations alone are
a sample of good configurations: with them alone ``g`` sits where ``l`` does and
``l(x) / g(x)`` is largest far from both, which sends the model away from the optimum
(``tests/methods/test_bohb.py``). The stopped ones were ranked below the survivors at a
lower budget, so ``g`` covers where they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hpotrack.methods.halving import Ladder
from hpotrack.methods.history import PROMOTE, WINDOW, History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.parzen import Dimensions, ParzenEstimator
from hpotrack.methods.registry import register
from hpotrack.options import check_choice, set_real, set_whole
from hpotrack.records import TrialState
from hpotrack.space import Value

Array = np.ndarray
MODEL_BUDGETS = ("largest", "top")  # which budget's observations the model is fitted on


@register
@dataclass(frozen=True)
class BOHB(Hyperband):
    """Hyperband whose new configurations come from a density model (Falkner et al. 2018).

    ``eta`` and ``brackets`` are :class:`Hyperband`'s. As named in the paper: a share
    ``random_fraction`` of new configurations is drawn uniformly; the rest maximise
    ``l(x) / g(x)`` over ``num_samples`` draws from the good density ``l`` (the best
    ``top_n_percent`` of the observations at the modelled budget) with bandwidths widened by
    ``bandwidth_factor`` and at least ``min_bandwidth``. ``model_budget``: ``"top"`` (the
    default) models the top budget only; ``"largest"``, the paper's rule, the largest
    budget with enough observations. Details and measurements: ``hpotrack.methods.bohb``.
    """

    name = "bohb"
    eta: float = 3.0
    top_n_percent: float = 15.0
    random_fraction: float = 1 / 3
    num_samples: int = 64
    bandwidth_factor: float = 3.0
    min_bandwidth: float = 1e-3
    model_budget: str = "top"
    stored_defaults: ClassVar[dict[str, Any]] = {  # what studies stored before them ran
        "model_budget": "largest",
        "brackets": "asynchronous",
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        set_real(self, "top_n_percent", "0 < top_n_percent < 100", lambda x: 0 < x < 100)
        set_real(self, "random_fraction", "0 <= random_fraction <= 1", lambda x: 0 <= x <= 1)
        set_whole(self, "num_samples", 1)
        set_real(self, "bandwidth_factor", "bandwidth_factor > 0", _positive)
        set_real(self, "min_bandwidth", "0 < min_bandwidth < 1", _fraction)
        check_choice(self.model_budget, "model_budget", MODEL_BUDGETS)

    def configuration(self, history: History) -> tuple[dict[str, Value], str]:
        space, number = history.space, history.next_number
        if history.uniform(number, 1, stream=1)[0] < self.random_fraction:
            random = f"bohb: drawn at random (random_fraction={self.random_fraction:.3g})"
            return super().configuration(history)[0], random
        found = self.observed(history)
        if found is None:
            params = super().configuration(history)[0]
            where = "the top budget has" if self.model_budget == "top" else "a budget has"
            return params, f"bohb: at random until {where} enough observations"
        model = self.densities(history, found)
        drawn = model.wide.sample(history.rng(number, 2), self.num_samples)
        best = drawn[int(np.argmax(model.log_ratio(drawn)))]  # ties: the first drawn
        note = f"bohb: KDE of {found.measured} observations at budget {found.budget:g}"
        return space.decode(best), note

    def densities(self, history: History, found: Observations) -> Densities:
        """The paper's densities of one budget's observations (eqs. 2-3): the best
        ``top_n_percent`` (at least ``N_min``) make ``l(x)``, the rest (at least
        ``N_min``) ``g(x)``."""
        n_min = len(history.space) + 1
        n_good = max(n_min, math.floor(self.top_n_percent / 100 * found.measured))
        n_bad = max(n_min, len(found.numbers) - n_good)
        points = found.points(history)
        good_points, bad_points = points[:n_good], points[-n_bad:]
        dims = Dimensions.of(history.space)
        floor = self.min_bandwidth
        return Densities(
            good=ParzenEstimator(good_points, dims, min_bandwidth=floor),
            wide=ParzenEstimator(
                good_points, dims, min_bandwidth=floor, bandwidth_factor=self.bandwidth_factor
            ),
            bad=ParzenEstimator(bad_points, dims, min_bandwidth=floor),
        )

    def observed(self, history: History) -> Observations | None:
        """What the densities are fitted on (see :func:`observations`), None for no model
        yet; subclasses may choose otherwise (``benchmarks/bohb_variants.py`` compares
        some)."""
        ladder = self.ladder(history)
        found = observations(history, ladder, n_min=len(history.space) + 1)
        if self.model_budget == "top" and found is not None and found.budget != ladder.steps[-1]:
            return None
        return found


@dataclass(frozen=True)
class Densities:
    """One budget's model: the good density ``l(x)``, the bad one ``g(x)``, and ``wide``,
    ``l`` with its bandwidths widened, which candidates are drawn from."""

    good: ParzenEstimator
    wide: ParzenEstimator
    bad: ParzenEstimator

    def log_ratio(self, points: Array) -> Array:
        """``log l(x) - log g(x)``, the acquisition (BOHB's, TPE's) at each point."""
        ratio: Array = self.good.log_pdf(points) - self.bad.log_pdf(points)
        return ratio


@dataclass(frozen=True)
class Observations:
    """What BOHB's densities are fitted on at one ``budget``: trial ``numbers``, best
    first; the first ``measured`` were observed at ``budget`` (their ``losses``, in the
    same order), the rest stopped below it."""

    numbers: tuple[int, ...]
    losses: tuple[float, ...]
    budget: int

    @property
    def measured(self) -> int:
        return len(self.losses)

    def points(self, history: History) -> Array:
        """The configurations as points of the unit cube, in the same order."""
        return history.space.encode_many([history.trials[n].params for n in self.numbers])


def observations(history: History, ladder: Ladder, n_min: int) -> Observations | None:
    """The observations at the largest budget with at least ``n_min + 2`` of them (see
    :func:`budget_observations`); None while no budget has enough."""
    for found in _largest_first(history, ladder):
        if found.measured >= n_min + 2:
            return found
    return None


def budget_observations(history: History, ladder: Ladder) -> list[Observations]:
    """For each budget of the ladder with a finite observation, lowest first: the
    observations there ranked by loss, followed by the configurations stopped below that
    budget and not promoted since (highest rung first, then by loss).

    Like TPE's, the model looks at the most recent ``WINDOW`` trials (plus the best one),
    in one pass: the cost of an ask stays bounded however large the study grows."""
    return list(_largest_first(history, ladder))[::-1]


def _largest_first(history: History, ladder: Ladder) -> Iterator[Observations]:
    """:func:`budget_observations`, largest budget first and each built only when asked."""
    trials = history.trials
    start = max(0, len(trials) - WINDOW)
    complete: list[tuple[float, int]] = []
    checked: dict[int, list[tuple[float, int]]] = {}
    stopped: list[tuple[int, float, int]] = []
    for t in trials[start:]:
        if history.is_superseded(t.number):  # its retry holds the same observations
            continue
        for step, value in t.checks.items():
            if value is not None:
                checked.setdefault(step, []).append((history.loss(value), t.number))
        if t.value is None:
            continue
        if t.state is TrialState.COMPLETE:
            complete.append((history.loss(t.value), t.number))
        elif t.state is TrialState.PRUNED and not history.is_claimed(f"{PROMOTE}:{t.number}"):
            loss, rung = history.loss(t.value), -1 if t.rung is None else t.rung
            if math.isfinite(loss):
                stopped.append((-rung, loss, t.number))
    best = history.best
    if best is not None and best.number < start and best.value is not None:
        complete.append((history.loss(best.value), best.number))
    stopped.sort()  # highest rung first, then by loss
    for j in range(ladder.top, -1, -1):
        at_budget = complete if j == ladder.top else checked.get(ladder.steps[j], [])
        measured = sorted(entry for entry in at_budget if math.isfinite(entry[0]))
        if measured:
            below = [n for minus_rung, _, n in stopped if -minus_rung < j]
            losses = tuple(loss for loss, _ in measured)
            yield Observations((*(n for _, n in measured), *below), losses, ladder.steps[j])


def _positive(x: float) -> bool:
    return x > 0


def _fraction(x: float) -> bool:
    return 0 < x < 1
