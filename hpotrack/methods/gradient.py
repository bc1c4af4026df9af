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
size (not Spall's decaying ``a_k``). Each trial
is a probe, so its value includes the probe's offset from the iterate ``x_k``, the mean
of the pair. Both probes are recorded (claims ``spsa:<k>+`` and ``-``, edges to the
iterate's previous probes) and may run in two processes at once.

The whole state (iterate, Adam's moments) is replayed from the history at every ask, so
the method stays a pure function of the stored trials. Integer and choice parameters
are refused unless fixed (a choice with one option): there is no gradient to follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpotrack.errors import MethodError, SearchExhausted
from hpotrack.methods.base import History, Method, Proposal, register
from hpotrack.options import set_real
from hpotrack.params import Choice, Float
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.space import Space

Array = np.ndarray
STEP = Origin.GRADIENT_STEP.value
SETTLED = 3  # converged once this many steps in a row were short: one short Adam step
# happens where the momentum changes sign, far from a minimum


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
            fixed = isinstance(param, Choice) and len(param.options) == 1
            if not fixed and not (isinstance(param, Float) and param.step is None):
                raise MethodError(
                    f"method 'gradient' follows gradients of continuous hyperparameters, "
                    f"but {name!r} is {param!r}: make it a Float without step, fix it "
                    "(a Choice with one option), or use method='tpe'"
                )

    def ask(self, history: History) -> Proposal:
        if not history.trials:
            point = np.full(len(history.space), 0.5)
            return Proposal(params=history.space.decode(point), note="gradient: starting point")
        if history.trials[0].state in (TrialState.RUNNING, TrialState.QUEUED):
            raise SearchExhausted(_SEQUENTIAL)
        # The first complete trial says whether the function returns hypergradients; until
        # one completes, descent re-proposes the start (a failed first trial is no answer).
        first = next((t for t in history.trials if t.state is TrialState.COMPLETE), None)
        if first is None or "hypergrad" in first.metrics:
            return self._descend(history)
        return self._spsa(history)

    # -- user hypergradients ----------------------------------------------------------

    def _descend(self, history: History) -> Proposal:
        space = history.space
        chain = [history.trials[0], *(t for t in history.trials if t.origin == STEP)]
        if any(t.state in (TrialState.RUNNING, TrialState.QUEUED) for t in chain):
            raise SearchExhausted(_SEQUENTIAL)
        points = space.encode_many([t.params for t in chain])  # one pass: replay is cheap
        adam = Adam(self, len(space))
        good: int | None = None  # the last iterate that gave a gradient
        point: Array = points[0]
        for index, (trial, here) in enumerate(zip(chain, points, strict=True)):
            gradient = hypergradient(space, trial)
            if gradient is None:  # failed: go back half way to the last good iterate
                point = here if good is None else (points[good] + here) / 2
                continue
            good, point = index, adam.step(here, gradient * history.loss(1.0))  # ascent if max
        last = chain[-1]
        steps = np.vstack([points[-SETTLED:], point])  # the last iterates and the next one
        moved = np.max(np.abs(np.diff(steps, axis=0)), axis=1)
        if good == len(chain) - 1 and len(moved) == SETTLED and np.all(moved < self.tolerance):
            raise SearchExhausted(
                f"gradient descent converged: the last {SETTLED} steps each moved less than "
                f"{self.tolerance:g}"
            )
        return Proposal(
            params=space.decode(point),
            origin=STEP,
            parents=(Edge(last.number, STEP, step=len(chain)),),
            note="gradient: Adam on the hypergradients the function returns",
        )

    # -- SPSA ---------------------------------------------------------------------------

    def _spsa(self, history: History) -> Proposal:
        space = history.space
        probes = {t.claim: t for t in history.trials if (t.claim or "").startswith("spsa:")}
        adam = Adam(self, len(space))
        centre = space.encode(history.trials[0].params)
        k = 0
        while (plus := probes.get(f"spsa:{k}+")) and (minus := probes.get(f"spsa:{k}-")):
            if _pending(plus) or _pending(minus):
                raise SearchExhausted(_SEQUENTIAL)
            estimate = spsa_gradient(space, plus, minus, history)
            if estimate is not None:
                centre = adam.step(centre, estimate)
            k += 1
        sign = "+" if f"spsa:{k}+" not in probes else "-"
        rng = history.rng(k, 7)  # the same signs for both probes of iteration k
        signs = rng.choice([-1.0, 1.0], size=len(space))
        c_k = self.perturbation / (k + 1) ** self.gamma
        point = np.clip(centre + (c_k if sign == "+" else -c_k) * signs, 0.0, 1.0)
        previous = [p for p in (probes.get(f"spsa:{k - 1}+"), probes.get(f"spsa:{k - 1}-")) if p]
        return Proposal(
            params=space.decode(point),
            origin=STEP,
            parents=tuple(Edge(p.number, STEP, step=k, detail="spsa") for p in previous),
            claim=f"spsa:{k}{sign}",
            note="gradient: Adam on SPSA estimates (the function returns no hypergradient)",
        )


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
        self.t += 1
        self.m = method.beta1 * self.m + (1 - method.beta1) * gradient
        self.v = method.beta2 * self.v + (1 - method.beta2) * gradient**2
        m_hat = self.m / (1 - method.beta1**self.t)
        v_hat = self.v / (1 - method.beta2**self.t)
        step = method.lr * m_hat / (np.sqrt(v_hat) + method.epsilon)
        moved: Array = np.clip(point - step, 0.0, 1.0)
        return moved


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
            x = float(trial.params[name])  # type: ignore[arg-type]
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
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate: Array = np.where(np.abs(difference) > 1e-12, change / difference, 0.0)
    return estimate


def _pending(trial: TrialRecord) -> bool:
    return trial.state in (TrialState.RUNNING, TrialState.QUEUED)
