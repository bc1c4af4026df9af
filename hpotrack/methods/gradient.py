"""``gradient``: hypergradient descent on continuous hyperparameters.

The function gives d objective / d hyperparameter in the hyperparameters' own units,
``return {"loss": v, "hypergrad": {"alpha": g}}`` or ``trial.report_hypergradient(...)``,
computed however it likes (closed form, implicit differentiation, autodiff). The method
moves in the unit cube of the space's encoding: the chain rule turns ``g`` into
``g · (high - low)`` for a linear parameter and ``g · x · ln(high / low)`` for a log one,
and Adam (Kingma & Ba 2015, Alg. 1) takes the step, projected back onto the cube. Each
iterate is a trial with a ``gradient-step`` edge to the one before; the first is the
centre of the space (or the first trial a user enqueued). It stops when three steps in
a row move less than ``tolerance`` each (in the cube, largest coordinate; one short step
happens where Adam's momentum changes sign) or at the trial budget.

Without hypergradients (the first complete trial returned none), the gradient is
estimated by simultaneous perturbation (SPSA; Spall 1992, eqs. 2.2-2.3; the probe size
as in Spall 1998, sec. III): iteration ``k`` runs two trials at ``x_k ± c_k Δ_k`` with
``Δ_k`` random signs and ``c_k = c / (k + 1)^γ``; Adam takes the step, at a constant
size (not Spall's decaying ``a_k``), and stops as descent does. Each trial
is a probe, so its value includes the probe's offset from the iterate ``x_k``, the mean
of the pair. Both probes are recorded (claims ``spsa:<k>+`` and ``-``, edges to the
iterate's previous probes) and may run in two processes at once.

The state (iterate, Adam's moments) is a replay of the stored trials, so the method
stays a pure function of them. The replay is kept in ``history.cache`` as far as it got
(:class:`Descent`, :class:`SpsaReplay`), and each ask carries it on over the trials
added since: an ask costs the same however long the descent. Only finished iterates and
probes are folded in, since a trial goes queued -> running -> complete | pruned | failed
and then stays as it is (but for an outcome put in the history ahead of the store, which
the next ask checks: :func:`_changed`); a new process, with an empty cache, replays from
the first trial once. A lost iterate or probe is superseded by its retry (its line goes on
through the ``retried`` edge), which the replay reads in its place. Integer and choice
parameters are refused unless fixed (a choice with one option): there is no gradient to
follow.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.options import set_real
from hpotrack.params import Choice, Float, Param
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Space

Array = np.ndarray
STEP = Origin.GRADIENT_STEP.value
SETTLED = 3  # converged once this many steps in a row were short: one short Adam step
# happens where the momentum changes sign, far from a minimum
LARGEST_GRADIENT = 1e150
"""Adam's moments hold the gradient's square: a larger coordinate is taken as this one, or
an overflow (a probe's penalty of 1e308 over its distance) turns the iterate into NaN."""


@register
@dataclass(frozen=True)
class Gradient(Method):
    """Adam on user hypergradients, or on SPSA estimates; see the module docstring."""

    name = "gradient"
    lr: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    tolerance: float = 1e-4
    perturbation: float = 0.05
    gamma: float = 0.101

    def __post_init__(self) -> None:
        for label, condition, holds in (
            ("lr", "lr > 0", _positive),
            ("beta1", "0 <= beta1 < 1", _unit),
            ("beta2", "0 <= beta2 < 1", _unit),
            ("epsilon", "epsilon > 0", _positive),
            ("tolerance", "tolerance >= 0", _non_negative),
            ("perturbation", "0 < perturbation < 0.5", lambda x: 0 < x < 0.5),
            ("gamma", "gamma >= 0", _non_negative),
        ):
            set_real(self, label, condition, holds)

    def check(self, space: Space) -> None:
        for name in space:
            param = space[name]
            if not is_fixed(param) and not is_continuous(param):
                raise MethodError(
                    f"method 'gradient' follows gradients of continuous hyperparameters, "
                    f"but {name!r} is {param!r}: make it a Float without step, fix it "
                    "(a Choice with one option), or use method='tpe'"
                )
        if not any(is_continuous(space[name]) for name in space):
            raise MethodError(
                "method 'gradient' follows gradients of continuous hyperparameters, but "
                f"every parameter is fixed ({', '.join(map(repr, space))}: a Choice with "
                "one option), so every trial would run the same configuration: add a Float "
                "without step to descend, or run it once with method='grid'"
            )

    def ask(self, history: History) -> Proposal:
        if not history.trials:
            point = np.full(len(history.space), 0.5)
            return Proposal(params=history.space.decode(point), note="gradient: starting point")
        if history.trials[0].state in (TrialState.RUNNING, TrialState.QUEUED):
            raise SearchExhausted(_SEQUENTIAL)
        # The first complete trial says whether the function returns hypergradients; until
        # one completes, descent re-proposes the start (a failed first trial is no answer).
        first = _first_complete(history)
        if first is None or "hypergrad" in first.metrics:
            return self._descend(history)
        return self._spsa(history)

    # -- user hypergradients ----------------------------------------------------------

    def _descend(self, history: History) -> Proposal:
        space, trials = history.space, history.trials
        key = f"gradient-descent:{self!r}"
        replay: Descent | None = history.cache.get(key)
        if replay is None or _changed(history, replay.latest):  # replay from the first trial
            replay = history.cache[key] = Descent(Adam(self, len(space)))
        # The chain of iterates: trial 0 (whatever its origin), then every gradient step;
        # a lost iterate's retry stands in for it (a line: the lost one is superseded).
        # Those after the replay are folded in up to the first running or queued one.
        chain: list[TrialRecord] = []
        end = len(trials)
        for number in range(replay.read, len(trials)):
            trial = trials[number]
            if history.is_superseded(number):
                continue
            first = trials[history.line_root(number)]  # the iterate, for a retry of one
            links = (first.number == 0) + (first.origin == STEP)  # trial 0 twice if a step
            if links and _pending(trial):
                end = number
                break
            chain += [trial] * links
        points = space.encode_many([t.params for t in chain])  # one pass: replay is cheap
        for trial, here in zip(chain, points, strict=True):
            replay.fold(history, trial, here.copy())
        replay.read, replay.latest = end, chain or replay.latest
        if end < len(trials):
            raise SearchExhausted(_SEQUENTIAL)
        if replay.converged(self.tolerance):
            raise SearchExhausted(self._converged(space, replay.point))
        return Proposal(
            params=space.decode(replay.point),
            origin=STEP,
            parents=(Edge(replay.last, STEP, step=replay.length),),
            note="gradient: Adam on the hypergradients the function returns",
        )

    # -- SPSA ---------------------------------------------------------------------------

    def _spsa(self, history: History) -> Proposal:
        space = history.space
        key = f"gradient-spsa:{self!r}"
        replay: SpsaReplay | None = history.cache.get(key)
        if replay is None or _changed(history, replay.latest):  # replay from the first trial
            centre = space.encode(history.trials[0].params)
            replay = history.cache[key] = SpsaReplay(Adam(self, len(space)), centre)
        # The iterations after the replay are folded in up to the first whose probes have
        # not both been proposed, or have not both finished.
        folded: list[TrialRecord] = []
        pair = _probes(history, replay.k)
        while pair is not None and not (_pending(pair[0]) or _pending(pair[1])):
            estimate = spsa_gradient(space, *pair, history)
            if estimate is not None:
                replay.recent = [*replay.recent, replay.centre][-SETTLED:]
                replay.centre = replay.adam.step(replay.centre, estimate)
            replay.stepped = estimate is not None
            replay.k += 1
            folded += pair
            pair = _probes(history, replay.k)
        replay.latest = folded or replay.latest
        if pair is not None:
            raise SearchExhausted(_SEQUENTIAL)
        k = replay.k
        sign = "+" if _probe(history, k, "+") is None else "-"
        if sign == "+" and settled(replay.recent, replay.centre, replay.stepped, self.tolerance):
            raise SearchExhausted(self._converged(space, replay.centre))
        rng = history.rng(k, 7)  # the same signs for both probes of iteration k
        signs = rng.choice([-1.0, 1.0], size=len(space))
        c_k = self.perturbation / (k + 1) ** self.gamma
        point = np.clip(replay.centre + (c_k if sign == "+" else -c_k) * signs, 0.0, 1.0)
        previous = [p for p in (_probe(history, k - 1, "+"), _probe(history, k - 1, "-")) if p]
        return Proposal(
            params=space.decode(point),
            origin=STEP,
            parents=tuple(Edge(p.number, STEP, step=k, detail="spsa") for p in previous),
            claim=f"spsa:{k}{sign}",
            note="gradient: Adam on SPSA estimates (the function returns no hypergradient)",
        )

    def unusable(
        self, trial: TrialRecord, metrics: Mapping[str, Any], history: History
    ) -> str | None:
        """A step of a descent on the function's hypergradients (an iterate: no SPSA
        claim) that returned none: the descent would take it as a failure and back
        off half way, while it was stored complete and said nothing."""
        if trial.origin != STEP or trial.claim is not None or "hypergrad" in metrics:
            return None
        first = _first_complete(history)
        if first is None or first.number >= trial.number or "hypergrad" not in first.metrics:
            return None
        return (
            "the function returned no hypergradient, but this trial is a step of a descent "
            f"on those it returns (trial {first.number} returned them): return "
            "{'hypergrad': {...}} or call trial.report_hypergradient(...) in every trial (a "
            "function that gives none from its first trial gets SPSA estimates)"
        )

    def _converged(self, space: Space, point: Array) -> str:
        """Why the search ends at ``point``, the iterate whose last steps were short."""
        return (
            f"gradient descent converged: the last {SETTLED} steps each moved less than "
            f"{self.tolerance:g}{_at_bounds(space, point)}"
        )


def is_continuous(param: Param) -> bool:
    """Whether gradient descent moves ``param``: a Float without step."""
    return isinstance(param, Float) and param.step is None


def is_fixed(param: Param) -> bool:
    """Whether ``param`` has one value (a Choice with one option): descent keeps it."""
    return isinstance(param, Choice) and len(param.options) == 1


def _positive(x: float) -> bool:
    return x > 0


def _non_negative(x: float) -> bool:
    return x >= 0


def _unit(x: float) -> bool:
    return 0 <= x < 1


_SEQUENTIAL = (
    "gradient descent is sequential: the next iterate needs the running trial's "
    "gradient (SPSA runs at most two trials at once); use one or two workers"
)
_BEFORE_COMPLETE = "gradient-before-complete"  # see _first_complete


def _first_complete(history: History) -> TrialRecord | None:
    """The first complete trial, if any. The failed and pruned trials before it stay
    failed or pruned (an outcome put in the history ahead of the store is only ever
    replaced by a failed record, see :func:`_changed`), and how many of them there are
    is cached: an ask reads only the trials after them."""
    trials = history.trials
    start: int = history.cache.get(_BEFORE_COMPLETE, 0)
    while start < len(trials) and trials[start].state in (TrialState.FAILED, TrialState.PRUNED):
        start += 1
    history.cache[_BEFORE_COMPLETE] = start
    complete = (trials[n] for n in range(start, len(trials)))
    return next((t for t in complete if t.state is TrialState.COMPLETE), None)


def _probe(history: History, k: int, sign: str) -> TrialRecord | None:
    """The SPSA probe of iteration ``k`` on the ``sign`` side, if it was proposed: the
    trial holding claim ``spsa:<k><sign>`` (claims are unique in a study), or the latest
    retry of it if it was lost (a retry holds no claim: it continues the probe's line)."""
    number = history.claimant(f"spsa:{k}{sign}")
    if number is None:
        return None
    return history.trials[history.line(history.line_root(number))[-1]]


def _probes(history: History, k: int) -> tuple[TrialRecord, TrialRecord] | None:
    """Both probes of iteration ``k``, + then -, if both were proposed."""
    plus, minus = _probe(history, k, "+"), _probe(history, k, "-")
    return None if plus is None or minus is None else (plus, minus)


def _changed(history: History, folded: list[TrialRecord]) -> bool:
    """Whether a trial folded into a replay is no longer as it was. The outcome of a trial
    that ends in this process is put in the history ahead of the store (see
    :meth:`hpotrack.study.Study.claim`), and the store's record replaces it before the
    next ask if another process marked the trial lost meanwhile: so the trials folded in
    at the latest ask that folded any are checked."""
    return any(history.trials[trial.number] != trial for trial in folded)


def _at_bounds(space: Space, point: Array) -> str:
    """What to say of the parameters a converged descent left on a bound of their range,
    where the projection stopped it (the optimum may lie beyond): ``""`` if none."""
    ends = [
        (name, "lower" if u == 0.0 else "upper", space[name].decode(float(u)))
        for name, u in zip(space, point, strict=True)
        if u in (0.0, 1.0)
    ]
    if not ends:
        return ""
    said = ", ".join(f"{name} at its {side} bound ({value!r})" for name, side, value in ends)
    return f", with {said}: the best may lie beyond; widen the range to search there"


class Adam:
    """Adam's moments, replayed step by step (Kingma & Ba 2015, Alg. 1), in the cube."""

    def __init__(self, method: Gradient, dimensions: int) -> None:
        self.method = method
        self.m = np.zeros(dimensions)
        self.v = np.zeros(dimensions)
        self.t = 0

    def step(self, point: Array, gradient: Array) -> Array:
        """The next iterate from ``point`` along ``-gradient``, projected on [0, 1]^d."""
        method = self.method
        gradient = np.clip(gradient, -LARGEST_GRADIENT, LARGEST_GRADIENT)
        self.t += 1
        self.m = method.beta1 * self.m + (1 - method.beta1) * gradient
        self.v = method.beta2 * self.v + (1 - method.beta2) * gradient**2
        m_hat = self.m / (1 - method.beta1**self.t)
        v_hat = self.v / (1 - method.beta2**self.t)
        step = method.lr * m_hat / (np.sqrt(v_hat) + method.epsilon)
        moved: Array = np.clip(point - step, 0.0, 1.0)
        return moved


@dataclass
class Descent:
    """The descent on user hypergradients replayed as far as it got, kept between asks in
    ``history.cache``: the first ``read`` trials were read, and the iterates among them
    (all finished) are folded in; the other trials never count."""

    adam: Adam
    read: int = 0
    latest: list[TrialRecord] = field(default_factory=list)  # see _changed
    length: int = 0  # iterates folded in
    last: int = 0  # the number of the last one
    good: Array | None = None  # the last iterate that gave a gradient
    stepped: bool = False  # whether that was the last iterate
    recent: list[Array] = field(default_factory=list)  # the last SETTLED iterates
    point: Array = field(default_factory=lambda: np.zeros(0))  # the next iterate

    def fold(self, history: History, trial: TrialRecord, here: Array) -> None:
        """Take iterate ``trial``, at ``here`` in the cube, into the replay."""
        gradient = hypergradient(history.space, trial)
        if gradient is None:  # failed: go back half way to the last good iterate
            self.point = here if self.good is None else (self.good + here) / 2
        else:
            ascent = history.loss(1.0)  # -1 if maximizing
            self.good, self.point = here, self.adam.step(here, gradient * ascent)
        self.stepped = gradient is not None
        self.recent = [*self.recent, here][-SETTLED:]
        self.length += 1
        self.last = trial.number

    def converged(self, tolerance: float) -> bool:
        """Whether the last SETTLED steps, up to the next iterate, each moved less than
        ``tolerance`` (largest coordinate), the last one from a gradient."""
        return settled(self.recent, self.point, self.stepped, tolerance)


def settled(recent: list[Array], point: Array, stepped: bool, tolerance: float) -> bool:
    """Whether the steps from the SETTLED points in ``recent`` on to ``point`` each moved
    less than ``tolerance`` (largest coordinate), the last one from a gradient (``stepped``)."""
    steps = np.vstack([*recent, point])
    moved = np.max(np.abs(np.diff(steps, axis=0)), axis=1)
    return stepped and len(moved) == SETTLED and bool(np.all(moved < tolerance))


@dataclass
class SpsaReplay:
    """SPSA replayed as far as it got, kept between asks in ``history.cache``: the
    iterations before ``k``, whose probes both finished, are folded in."""

    adam: Adam
    centre: Array  # the iterate x_k
    k: int = 0
    latest: list[TrialRecord] = field(default_factory=list)  # see _changed
    recent: list[Array] = field(default_factory=list)  # the last SETTLED iterates stepped from
    stepped: bool = False  # whether the last iteration gave an estimate (its probes complete)


def hypergradient(space: Space, trial: TrialRecord) -> Array | None:
    """The trial's hypergradient in the cube (chain rule per parameter), or None if it
    did not complete with one. Parameters it gives no derivative for get 0."""
    given = trial.metrics.get("hypergrad") if trial.state is TrialState.COMPLETE else None
    if not isinstance(given, dict):
        return None
    out = np.zeros(len(space))
    for i, name in enumerate(space):
        param, value = space[name], given.get(name)
        if isinstance(param, Float) and isinstance(value, int | float) and math.isfinite(value):
            x = float(trial.params[name])
            scale = x * math.log(param.high / param.low) if param.log else param.high - param.low
            out[i] = value * scale
    return out


def spsa_gradient(
    space: Space, plus: TrialRecord, minus: TrialRecord, history: History
) -> Array | None:
    """(f+ - f-) / (x+ - x-) per coordinate (the probes may have been clipped to the
    cube); None when a probe did not complete."""
    if plus.value is None or minus.value is None:
        return None
    difference = space.encode(plus.params) - space.encode(minus.params)
    change = history.loss(plus.value) - history.loss(minus.value)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # Adam bounds it
        estimate: Array = np.where(np.abs(difference) > 1e-12, change / difference, 0.0)
    return estimate


def _pending(trial: TrialRecord) -> bool:
    return trial.state in (TrialState.RUNNING, TrialState.QUEUED)
