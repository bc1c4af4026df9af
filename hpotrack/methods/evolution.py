"""``evolution``: a steady-state genetic algorithm in the unit cube (or differential
evolution, or CMA-ES).

Steady state (Whitley 1989, GENITOR; Syswerda 1991): every ask breeds one child from the
current history, so any number of processes can ask at any time, with no generation barrier.
Nothing is kept between asks (DESIGN principle 1): each ask derives the population afresh
from the stored history and draws its randomness from ``history.rng(number)``.

**Population.** The best ``population`` trials with a value (complete, or pruned with a
reported value; failed trials never) among the last ``window`` trials by number, plus the
study's best trial wherever it is. Pruned trials rank after complete ones, whatever their
value (:meth:`History.rank_key`): a pruned trial's value is a report partway through
training, which beats every final one when the metric worsens with training. Replacing
the worst is thus implicit (a child enters the population only by beating its worst
member), and elitism too: the incumbent is always a member. The window bounds the cost
of an ask, O(window), however large the study grows, and lets old individuals age out as
in regularized evolution (Real et al. 2019, AAAI).
Until ``population`` trials have a value, children are uniform random points ("sampled").

**Several objectives** (a study with ``objective=(a, b, ...)``): the population is chosen
as NSGA-II chooses its next one (Deb, Pratap, Agarwal & Meyarivan 2002, "A fast and
elitist multiobjective genetic algorithm: NSGA-II", IEEE TEVC 6(2), section III), from
the same candidates: the trials among the last ``window`` (and the best on the first
objective) that completed with every objective, each objective turned so that lower is
better (:meth:`History.losses`). They are sorted into non-domination ranks (III-A), each
rank's members get their crowding distance within it (III-B), and the population is the
best ``population`` by the crowded-comparison operator (III-C): the lower rank first,
then, within a rank, the larger distance (the less crowded); only the fronts that fill
the population are sorted, as in NSGA-II's main loop. Tournaments compare members the
same way (``strategy="de"`` keeps its random target), and crossover and mutation are
those above, so the search pushes towards the Pareto front and spreads along it. As in
steady-state NSGA-II (Durillo et al. 2009, EMO), one child is bred per ask and competes
with the window for a place. Ranking the candidates costs O(window² × objectives) at
worst, bounded however large the study grows (about 2 ms an ask with the defaults, a
window of 100 trials).

**Operators**, on the unit-cube encoding of :mod:`hpotrack.space`; ints and stepped floats
are ordered genes that ``decode`` rounds; categorical genes are unordered, so crossover
copies one parent's option and mutation resamples another option.

- Selection: tournaments of size ``tournament`` without replacement (Goldberg & Deb 1991).
- ``crossover="sbx"``: simulated binary crossover, bounded form (Deb & Agrawal 1995, Complex
  Systems 9; Deb et al. 2002, NSGA-II); ``"uniform"``: each gene from either parent
  (Syswerda 1989). Crossover children are mutated too.
- ``mutation="polynomial"``: bounded polynomial mutation (Deb & Goyal 1996, Computer Science
  and Informatics 26; Deb & Deb 2014, IJAISC 4); ``"gaussian"``: ``x + sigma * N(0, 1)``
  reflected at the bounds. Each gene mutates with ``mutation_rate`` (None: 1/d); a
  mutation-only child always changes at least one gene.
- ``strategy="de"``: differential evolution rand/1/bin (Storn & Price 1997, J. Global
  Optim. 11), asynchronous: a random member is the target, three others give the donor
  ``a + F (b - c)``, binomial crossover with ``crossover_rate`` as CR.
- Conditional spaces: a gene that a parent leaves inactive is a placeholder, not a value.
  Before crossing it takes the other parent's gene (parents of two branches mix only the
  genes both have), else a uniform draw (a gene a move activates starts anywhere, not at
  the middle of its range); a forced mutation changes an active gene.

**CMA-ES.** ``strategy="cma"`` is the (mu/mu_w, lambda)-CMA-ES of Hansen's tutorial
(arXiv:1604.00772), in generations of ``population`` samples (None: its Table 1's
``4 + floor(3 ln n)`` for the ``n`` ordered parameters) from a normal distribution whose
initial step size is ``sigma`` (None: 0.3, its Appendix A): see
:mod:`hpotrack.methods.cma`. One objective only; crossover, mutation, tournaments and the
window are the GA's and play no part in it. Its samples have no parents (origin
"sampled"): they come from the distribution, which every earlier generation shaped.
Once a generation's samples all ran one configuration it restarts with twice the
population (IPOP-CMA-ES, Auger & Hansen 2005), rather than rerun its optimum.

**Lineage.** A crossover child records ``Edge(parent, "crossover")`` for both parents (origin
"crossover"); a mutated copy ``Edge(parent, "mutation")`` (origin "mutated"); a DE child
"crossover" to its target and "mutation" to a, b and c (origin "crossover").

**Duplicates.** A child whose parameters equal a trial in the window (running ones
included) is mutated again, ever more widely, up to ``RETRIES`` times, then replaced by
uniform points (origin "sampled"), so pending trials are not rerun unless the space is
nearly used up; once it is, a child that repeats a finished trial, not a running one.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hpotrack import pareto
from hpotrack.errors import MethodError
from hpotrack.methods import cma
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.objectives import Objectives
from hpotrack.options import check_choice, set_real, set_whole
from hpotrack.pruners import Pruner, pruner_from
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Choice, Space, Value

Vector = npt.NDArray[np.float64]

RETRIES = 8
"""Extra mutations (each wider), then as many uniform points, tried against duplicates."""

POPULATION = 10
"""The population of ``strategy="ga"`` and ``"de"`` when none is given."""

GA_SIGMA = 0.1
"""The spread of ``mutation="gaussian"`` when no ``sigma`` is given."""

WINDOW_FACTOR = 10
"""``window=None`` means ``WINDOW_FACTOR * population`` trials."""

_SCORED = frozenset((TrialState.COMPLETE, TrialState.PRUNED))
"""States whose value ranks a trial (a pruned trial's value is its last report, and it
ranks after every complete trial)."""

_CHOICES = {
    "strategy": ("ga", "de", "cma"),
    "crossover": ("sbx", "uniform"),
    "mutation": ("polynomial", "gaussian"),
}


@register
@dataclass(frozen=True)
class Evolution(Method):
    """Steady-state GA (tournament selection, SBX/uniform crossover, polynomial/Gaussian
    mutation, implicit elitism), or ``strategy="de"`` for differential evolution, or
    ``strategy="cma"`` for CMA-ES (one objective); on several objectives, NSGA-II's
    selection by rank and crowding distance.

    ``population``: the GA's and DE's population (None: 10), CMA-ES's lambda (None:
    Table 1's, from the space). ``sigma``: the spread of ``mutation="gaussian"``
    (None: 0.1), CMA-ES's initial step size (None: 0.3); both in the unit cube."""

    name = "evolution"
    multi_objective = True  # NSGA-II's ranks and crowding distances (see the module)
    constrained = True  # History.rank_key: feasible first
    population: int | None = None
    strategy: str = "ga"
    crossover: str = "sbx"
    mutation: str = "polynomial"
    crossover_rate: float = 0.9
    mutation_rate: float | None = None
    eta_crossover: float = 15.0
    eta_mutation: float = 20.0
    sigma: float | None = None
    tournament: int = 2
    window: int | None = None
    differential_weight: float = 0.5
    pruner: Pruner | str | None = None  # "median", "percentile" or a hp.pruners rule

    def __post_init__(self) -> None:
        object.__setattr__(self, "pruner", pruner_from(self.pruner))
        for option, allowed in _CHOICES.items():
            check_choice(getattr(self, option), option, allowed)
        if self.strategy == "cma":  # this instance ranks one objective (the class: NSGA-II)
            object.__setattr__(self, "multi_objective", False)
        if self.population is None and self.strategy != "cma":  # cma: Table 1's, per space
            object.__setattr__(self, "population", POPULATION)
        if self.sigma is None:
            object.__setattr__(
                self, "sigma", cma.INITIAL_SIGMA if self.strategy == "cma" else GA_SIGMA
            )
        if self.strategy == "de":
            set_whole(self, "population", 4, " with strategy='de'")
        if self.population is not None:
            set_whole(self, "population", 2)
        set_whole(self, "tournament", 1)
        if self.population is not None and self.tournament > self.population:
            raise MethodError(
                "`tournament <= population` must hold, but got "
                f"tournament={self.tournament!r}, population={self.population!r}"
            )
        if self.window is not None:
            set_whole(self, "window", self.population or 2, " (the population size)")
        _set_float(self, "crossover_rate", 0.0, 1.0, low_open=False)
        if self.mutation_rate is not None:
            _set_float(self, "mutation_rate", 0.0, 1.0, low_open=True)
        _set_float(self, "eta_crossover", 0.0, math.inf, low_open=False)
        _set_float(self, "eta_mutation", 0.0, math.inf, low_open=False)
        _set_float(self, "sigma", 0.0, math.inf, low_open=True)
        _set_float(self, "differential_weight", 0.0, 2.0, low_open=True)

    @property
    def size(self) -> int:
        """The GA's and DE's population (set in ``__post_init__``; CMA-ES's lambda
        depends on the space: :meth:`generation_size`)."""
        return self.population or POPULATION

    def generation_size(self, space: Space) -> int:
        """CMA-ES's lambda on ``space``: ``population``, else Table 1's default."""
        return cma.generation_size(self.population, space)

    def check(self, space: Space) -> None:
        """CMA-ES needs an ordered parameter (:func:`cma.check_space`)."""
        if self.strategy == "cma":
            cma.check_space(space)

    def check_objectives(self, objectives: Objectives) -> None:
        """CMA-ES ranks samples on one objective: several are refused (the GA and DE
        select by NSGA-II's ranks)."""
        if self.strategy == "cma":
            cma.check_objectives(objectives)
        super().check_objectives(objectives)

    def short_target(self, target: int, history: History) -> str | None:
        """Children are bred once ``population`` trials have a value (as :meth:`ask`
        counts them): when the trials with one so far and those the target still starts
        cannot pass that, every trial is a random point. CMA-ES: when the target ends
        before a generation was folded in, every trial is a draw of the initial
        distribution."""
        if self.strategy == "cma":
            return cma.short_target(self.generation_size(history.space), target)
        valued = history.count(TrialState.COMPLETE, TrialState.PRUNED)
        if valued + target - history.n_started > self.size:
            return None
        return (
            f"evolution breeds children only once {self.size} trials have a value "
            f"(population={self.size}), and the target is {target}: every trial "
            f"would be a random point. Run more than {self.size} trials (several "
            "times as many, for generations to improve), or pass a smaller population "
            "to hp.methods.Evolution"
        )

    def ask(self, history: History) -> Proposal:
        if self.strategy == "cma":
            return cma.propose(history, self.population, self.sigma or cma.INITIAL_SIGMA)
        number = history.next_number
        rng = history.rng(number)
        space = history.space
        recent, population = self._population(history)
        least = 4 if self.strategy == "de" else 2
        ranked = history.count(TrialState.COMPLETE, TrialState.PRUNED) >= self.size
        genes = _Genes(space, self.mutation_rate)
        parents: tuple[Edge, ...] = ()
        if not ranked or len(population) < least:
            child = _initial(history, self.size, rng)
            origin = Origin.SAMPLED.value
        elif self.strategy == "de":
            child, parents = self._differential(population, genes, rng)
            origin = Origin.CROSSOVER.value
        elif rng.random() < self.crossover_rate:
            first = self._select(population, rng, ())
            second = self._select(population, rng, (first,))
            x, y = genes.parents(first, second, rng=rng)
            child = self._cross(x, y, genes, rng)
            child = self._mutate(child, genes, rng, force=False)
            origin = Origin.CROSSOVER.value
            parents = tuple(
                Edge(p.number, "crossover", detail=self.crossover) for p in (first, second)
            )
        else:
            parent = self._select(population, rng, ())
            child = self._mutate(genes.parents(parent, rng=rng)[0], genes, rng, force=True)
            origin = Origin.MUTATED.value
            parents = (Edge(parent.number, "mutation", detail=self.mutation),)
        params = space.decode(child)
        idle: Proposal | None = None  # the first duplicate that no trial is running
        for attempt in range(1, 2 * RETRIES + 1):
            if not _repeats(space, params, recent):
                break
            if idle is None and not history.is_pending(params):
                idle = Proposal(params=params, origin=origin, parents=parents)
            if attempt <= RETRIES:
                child = self._mutate(child, genes, rng, force=True, widen=2.0**attempt)
            else:  # a crowded discrete space: any free point will do, and it has no parents
                child, origin, parents = rng.random(len(space)), Origin.SAMPLED.value, ()
            params = space.decode(child)
        if history.is_pending(params):  # every configuration has run: rerun a finished one
            draws = (space.decode(rng.random(len(space))) for _ in range(64))
            idle = idle or next((Proposal(p) for p in draws if not history.is_pending(p)), None)
            if idle is not None:
                return idle
        return Proposal(params=params, origin=origin, parents=parents)

    def _population(self, history: History) -> tuple[list[TrialRecord], list[TrialRecord]]:
        """(the last ``window`` trials and the best, the population best first): O(window)."""
        trials = history.trials
        first = max(0, len(trials) - (self.window or WINDOW_FACTOR * self.size))
        recent: list[TrialRecord] = list(trials[first:])
        best = history.best
        if best is not None and best.number < first:
            recent.append(best)  # the elite, and a child equal to it is a duplicate too
        if history.objectives.is_multi:
            return recent, self._crowded_population(history, recent)
        scored = [
            (history.rank_key(t), t.number, t)
            for t in recent
            if t.value is not None and t.state in _SCORED and not math.isnan(t.value)
        ]
        return recent, [t for _, _, t in heapq.nsmallest(self.size, scored)]

    def _crowded_population(
        self, history: History, candidates: Sequence[TrialRecord]
    ) -> list[TrialRecord]:
        """Several objectives: the best ``population`` of ``candidates`` that completed
        with every objective, best first by NSGA-II's crowded comparison
        (:func:`hpotrack.pareto.crowded_order`), so that a tournament's lowest index is
        its winner; those that miss a constraint after those that meet them, least
        violation first (Deb et al. 2002, section VI: constrained domination)."""
        scored = [(t, losses) for t in candidates if (losses := history.losses(t)) is not None]
        feasible = [(t, losses) for t, losses in scored if history.violation(t) == 0.0]
        chosen = []
        if feasible:
            order = pareto.crowded_order([losses for _, losses in feasible], keep=self.size)
            chosen = [feasible[i][0] for i in order]
        if len(chosen) < self.size:
            infeasible = sorted(
                (t for t, _ in scored if history.violation(t) > 0.0), key=history.violation
            )
            chosen += infeasible[: self.size - len(chosen)]
        return chosen

    def _select(
        self,
        population: Sequence[TrialRecord],
        rng: np.random.Generator,
        taken: tuple[TrialRecord, ...],
    ) -> TrialRecord:
        """Tournament: the best (lowest rank) of ``tournament`` distinct members not taken."""
        skip = {t.number for t in taken}
        ranks = [i for i, t in enumerate(population) if t.number not in skip]
        size = min(self.tournament, len(ranks))
        drawn: list[int] = rng.choice(ranks, size=size, replace=False).tolist()
        return population[min(drawn)]

    def _cross(self, x: Vector, y: Vector, genes: _Genes, rng: np.random.Generator) -> Vector:
        """One child of ``x`` and ``y``: SBX or uniform on ordered genes, a parent's option
        on categorical ones."""
        pick = rng.random(len(x)) < 0.5
        child = np.where(pick, x, y)
        if self.crossover == "sbx":
            sbx = sbx_child(x, y, self.eta_crossover, rng)
            # Deb's convention: each variable is recombined with probability 1/2.
            use = (rng.random(len(x)) < 0.5) & ~genes.categorical
            child = np.where(use, sbx, child)
        return child

    def _mutate(
        self,
        x: Vector,
        genes: _Genes,
        rng: np.random.Generator,
        *,
        force: bool,
        widen: float = 1.0,
    ) -> Vector:
        """Mutate each gene with the mutation rate (at least one if ``force``); ``widen`` > 1
        spreads the perturbation (used when retrying after a duplicate)."""
        hit = rng.random(len(x)) < genes.rate
        live = genes.active(x)  # a gene the point leaves inactive changes nothing
        if force and not (hit & live).any():
            alive = np.flatnonzero(live)
            hit[alive[rng.integers(len(alive))]] = True
        if self.mutation == "polynomial":
            moved = polynomial_mutation(x, self.eta_mutation / widen, rng)
        else:
            moved = _reflect(x + (self.sigma or GA_SIGMA) * widen * rng.standard_normal(len(x)))
        child = np.where(hit & ~genes.categorical, moved, x)
        return np.where(hit & genes.categorical, genes.resample(x, rng), child)

    def _differential(
        self, population: Sequence[TrialRecord], genes: _Genes, rng: np.random.Generator
    ) -> tuple[Vector, tuple[Edge, ...]]:
        """DE/rand/1/bin (Storn & Price 1997): donor ``a + F (b - c)``, then each
        gene from the donor with probability CR (one gene always). A categorical donor gene
        is ``a``'s option, or ``b``'s with probability F when ``b`` and ``c`` differ."""
        picks = rng.choice(len(population), size=4, replace=False).tolist()
        target, a, b, c = (population[i] for i in picks)
        xt, xa, xb, xc = genes.parents(target, a, b, c, rng=rng)
        donor = _reflect(xa + self.differential_weight * (xb - xc))
        towards_b = (xb != xc) & (rng.random(len(xa)) < self.differential_weight)
        donor = np.where(genes.categorical, np.where(towards_b, xb, xa), donor)
        take = rng.random(len(xt)) < self.crossover_rate
        take[rng.integers(len(xt))] = True
        edges = (
            Edge(target.number, "crossover", detail="de target"),
            Edge(a.number, "mutation", detail="de base"),
            Edge(b.number, "mutation", detail="de difference +"),
            Edge(c.number, "mutation", detail="de difference -"),
        )
        return np.where(take, donor, xt), edges


class _Genes:
    """Per-gene facts of a space: which genes are categorical, how many options they have."""

    def __init__(self, space: Space, rate: float | None) -> None:
        self.space = space
        self.rate = 1.0 / len(space) if rate is None else rate
        params = list(space.values())
        self.categorical = np.array([isinstance(p, Choice) for p in params])
        self.options = np.array([len(p.options) if isinstance(p, Choice) else 1 for p in params])

    def encode(self, trial: TrialRecord) -> Vector:
        return self.space.encode(trial.params)

    def parents(self, *trials: TrialRecord, rng: np.random.Generator) -> list[Vector]:
        """The genes of parents about to be crossed or mutated. In a conditional space a
        gene that a parent leaves inactive is only the placeholder of
        :meth:`Space.encode`: it takes the first other parent's gene where that one is
        active, else one uniform draw shared by all. Crossing parents of different
        branches thus mixes only genes both have (not a value with the middle of the
        range), and a mutation or crossover that activates a gene starts it at a draw."""
        genes = [self.encode(t) for t in trials]
        if not self.space.is_conditional:
            return genes
        filled = rng.random(len(self.space))
        for x in reversed(genes):
            filled = self.space.fill_inactive(x, filled)
        return [self.space.fill_inactive(x, filled) for x in genes]

    def active(self, x: Vector) -> npt.NDArray[np.bool_]:
        """Which genes of ``x`` belong to parameters it keeps active (all, unconditional)."""
        if not self.space.is_conditional:
            return np.ones(len(x), dtype=bool)
        active: npt.NDArray[np.bool_] = ~self.space.inactive_mask(x)[0]
        return active

    def resample(self, x: Vector, rng: np.random.Generator) -> Vector:
        """Each categorical gene moved to another option, uniformly (the middle of its bin)."""
        n = self.options
        current = np.minimum(np.floor(x * n), n - 1)
        shift = np.floor(rng.random(len(x)) * (n - 1)) + 1  # 1..n-1 (0 when only one option)
        other = np.where(n > 1, (current + shift) % n, current)
        return np.asarray((other + 0.5) / n, dtype=np.float64)


def sbx_child(x: Vector, y: Vector, eta: float, rng: np.random.Generator) -> Vector:
    """One child of simulated binary crossover, bounded to [0, 1] (Deb & Agrawal 1995).

    With ``lo, hi`` the parents' values and ``d = hi - lo``, the spread factor towards a bound
    at distance ``s`` is ``beta_q = (u alpha)^(1/(eta+1))`` if ``u <= 1/alpha`` else
    ``(1 / (2 - u alpha))^(1/(eta+1))``, with ``alpha = 2 - (1 + 2 s / d)^-(eta+1)``; the
    children are ``(lo + hi - beta_q d) / 2`` and ``(lo + hi + beta_q d) / 2``, one kept at random.
    """
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    d = hi - lo
    safe = np.where(d > 1e-12, d, 1.0)
    u = rng.random(len(x))
    power = 1.0 / (eta + 1.0)

    def spread(distance: Vector) -> Vector:
        alpha = 2.0 - (1.0 + 2.0 * distance / safe) ** -(eta + 1.0)
        inner = np.where(u <= 1.0 / alpha, u * alpha, 1.0 / np.maximum(2.0 - u * alpha, 1e-12))
        return np.asarray(inner**power, dtype=np.float64)

    low_child = 0.5 * (lo + hi - spread(lo) * d)
    high_child = 0.5 * (lo + hi + spread(1.0 - hi) * d)
    child = np.where(rng.random(len(x)) < 0.5, low_child, high_child)
    return np.asarray(np.where(d > 1e-12, np.clip(child, 0.0, 1.0), x), dtype=np.float64)


def polynomial_mutation(x: Vector, eta: float, rng: np.random.Generator) -> Vector:
    """Every gene perturbed by bounded polynomial mutation in [0, 1] (Deb & Goyal 1996; the
    bounded form as in Deb & Deb 2014): with ``u ~ U(0, 1)`` the step is
    ``(2u + (1 - 2u)(1 - x)^(eta+1))^(1/(eta+1)) - 1`` if ``u < 1/2``, else
    ``1 - (2(1 - u) + (2u - 1) x^(eta+1))^(1/(eta+1))``; it never leaves [0, 1]."""
    u = rng.random(len(x))
    power = 1.0 / (eta + 1.0)
    below = (2.0 * u + (1.0 - 2.0 * u) * (1.0 - x) ** (eta + 1.0)) ** power - 1.0
    above = 1.0 - (2.0 * (1.0 - u) + 2.0 * (u - 0.5) * x ** (eta + 1.0)) ** power
    return np.asarray(np.clip(x + np.where(u < 0.5, below, above), 0.0, 1.0), dtype=np.float64)


def _initial(history: History, size: int, rng: np.random.Generator) -> Vector:
    """Trials ``0..size-1`` form a Latin hypercube (McKay, Beckman & Conover 1979): in each
    dimension, each of ``size`` equal strata holds one of them. Later ones are uniform."""
    number = history.next_number
    if number >= size:
        return rng.random(len(history.space))
    strata = np.random.default_rng([history.seed, size, 2**31]).permuted(
        np.tile(np.arange(size), (len(history.space), 1)), axis=1
    )
    return np.asarray((strata[:, number] + rng.random(len(history.space))) / size)


def _repeats(space: Space, params: dict[str, Value], trials: Sequence[TrialRecord]) -> bool:
    """Whether one of ``trials`` has ``params``: ``==`` alone takes the option True for
    the option 1 (and False for 0), two options of a Choice, so :meth:`Space.key` decides
    between the few it finds equal."""
    return any(t.params == params and space.key(t.params) == space.key(params) for t in trials)


def _reflect(x: Vector) -> Vector:
    """Fold values back into [0, 1] at its bounds (a mirror, period 2)."""
    folded = np.mod(x, 2.0)
    return np.asarray(np.where(folded > 1.0, 2.0 - folded, folded), dtype=np.float64)


def _set_float(method: Evolution, name: str, low: float, high: float, *, low_open: bool) -> None:
    """Check a real option is in its range and store it as a float (for stable JSON)."""
    bound = f"{low!r} < {name}" if low_open else f"{low!r} <= {name}"
    rule = f"{bound} <= {high!r}" if math.isfinite(high) else bound
    set_real(method, name, rule, lambda x: (low < x if low_open else low <= x) and x <= high)
