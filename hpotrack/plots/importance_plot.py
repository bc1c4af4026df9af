"""Parameter importance: each parameter's share of the objective's variance by fANOVA on a
random forest (Hutter et al. 2014; :mod:`hpotrack.importance`), as numbers and as a figure."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from hpotrack.importance import ESTIMATOR, MIN_LEAF, fanova
from hpotrack.plots.common import (
    PARAM_CHARS,
    PlotError,
    Progress,
    complete,
    diverged_note,
    first_of,
    has_value,
    new_axes,
    read_trials,
    title,
    value_of,
)
from hpotrack.records import TrialState, worst_value
from hpotrack.space import Value
from hpotrack.study import Study
from hpotrack.text import cut_middle, plural

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Array = npt.NDArray[np.float64]

MIN_IMPORTANCE_TRIALS = 2 * MIN_LEAF
"""The fewest values importance is computed on: below, no tree of the forest can split
(5 drew every share as 0, "interactions and the rest: 100%")."""


def importance_values(study: Study) -> dict[str, tuple[float, float]]:
    """Each parameter's share of the objective's variance explained by its main effect:
    (mean, standard deviation over the forest's trees), in the space's order. fANOVA on a
    random forest over the complete trials, or where too few completed (successive
    halving stops most early) over the values at one budget step (:func:`_observed`).
    A conditional parameter's share is of the variance among the trials where it is
    active (:func:`_where_active`)."""
    return _shares(study, _observed(study))[0]


def _shares(study: Study, observed: _Observations) -> tuple[dict[str, tuple[float, float]], float]:
    """The shares, and what the main effects of one forest over every trial leave
    (interactions and the rest)."""
    if len(set(observed.values)) == 1:
        raise PlotError(
            f"importance needs the objective to vary, but all {observed.where} of study "
            f"{study.name!r} have the value {observed.values[0]:g}: no parameter explains "
            "anything"
        )
    cube = study.space.encode_many(observed.params)
    mean, std = fanova(cube, observed.values, seed=study.seed)
    shares = {name: (float(m), float(s)) for name, m, s in zip(study.space, mean, std, strict=True)}
    rest = max(0.0, 1.0 - float(mean.sum()))
    if study.space.is_conditional:
        shares.update(_where_active(study, cube, np.asarray(observed.values)))
    return shares, rest


def _where_active(study: Study, cube: Array, values: Array) -> dict[str, tuple[float, float]]:
    """Each conditional parameter's share among the trials where it is active: elsewhere
    it sits at the constant the encoding gives it, which tells nothing (and a forest over
    every trial credits the parent with what the parameter does). (0, 0) when fewer than
    ``MIN_IMPORTANCE_TRIALS`` of those trials, or the objective does not vary there."""
    space, out = study.space, {}
    inactive = space.inactive_mask(cube)
    for j, name in enumerate(space):
        if space[name].when is None:
            continue
        rows = ~inactive[:, j]
        if rows.sum() < MIN_IMPORTANCE_TRIALS or np.ptp(values[rows]) == 0:
            out[name] = (0.0, 0.0)
            continue
        mean, std = fanova(cube[rows], values[rows], seed=study.seed)
        out[name] = (float(mean[j]), float(std[j]))
    return out


@dataclass(frozen=True)
class _Observations:
    """Configurations with their objective values, all measured alike, and how many and
    where they were measured, for a figure's subtitle."""

    params: list[Mapping[str, Value]]
    values: list[float]
    where: str


def _observed(study: Study) -> _Observations:
    """What importance is computed on: the complete trials if there are at least
    ``MIN_IMPORTANCE_TRIALS``, all trained alike; else the values at the largest step that
    many trials reached: in a study with a budget their checks there and the complete ones'
    final values, as BOHB models the largest budget with enough observations; in a
    population (PBT) the segments that ended at that step. Values at different steps are
    not compared. A lost trial's checks count once, with its retry."""
    trials = study.trials
    done = complete(trials)
    budgets = {t.budget for t in done}  # a population's segments end at different steps
    if len(done) >= MIN_IMPORTANCE_TRIALS and len(budgets) == 1:
        return _Observations(
            [t.params for t in done], [value_of(t) for t in done], f"{len(done)} complete trials"
        )
    if study.budget is None and len(budgets) <= 1:
        raise PlotError(
            f"importance needs at least {MIN_IMPORTANCE_TRIALS} complete trials; study "
            f"{study.name!r} has {len(done)}{diverged_note(trials)}"
        )
    top = None if study.budget is None else study.budget.max
    at: dict[float, list[tuple[Mapping[str, Value], float]]] = {}
    worst = worst_value(study.direction)  # how a diverged check is stored
    for trial in trials:
        if trial.state is TrialState.FAILED:  # a lost trial's checks: its retry has them
            continue
        for step, value in trial.checks.items():
            if value is not None and math.isfinite(value) and value != worst:
                at.setdefault(step, []).append((trial.params, value))
        end = top if trial.budget is None else trial.budget
        if trial.state is TrialState.COMPLETE and has_value(trial) and end is not None:
            at.setdefault(end, []).append((trial.params, value_of(trial)))
    enough = [step for step, found in at.items() if len(found) >= MIN_IMPORTANCE_TRIALS]
    if not enough:
        most = max(map(len, at.values()), default=0)
        raise PlotError(
            f"importance needs at least {MIN_IMPORTANCE_TRIALS} values measured at one step; "
            f"study {study.name!r} has {len(done)} complete trials{diverged_note(trials)} "
            f"and at most {most} values at one step: run more trials"
        )
    largest = max(enough)
    found = at[largest]
    where = f"{len(found)} trials' {cut_middle(study.objective)} at step {largest:g}"
    return _Observations([p for p, _ in found], [v for _, v in found], where)


@dataclass(frozen=True)
class ImportanceSummary:
    """What the importance figure draws, as numbers: each parameter's share (mean,
    standard deviation over the trees), what the main effects leave (interactions and
    the rest), and what it was computed on ("40 complete trials")."""

    shares: dict[str, tuple[float, float]]
    rest: float
    where: str


def importance_summary(study: Study) -> ImportanceSummary:
    """:func:`importance_values` with what they leave and what they were computed on;
    a :class:`PlotError` saying why when they cannot be computed."""
    observed = _observed(study)
    shares, rest = _shares(study, observed)
    return ImportanceSummary(shares, rest, observed.where)


def importance(study: Study, *, progress: Progress | None = None) -> Figure:
    """Horizontal bars of :func:`importance_values`, largest on top, with the trees' standard
    deviation; the estimator is named in the title, and what the main effects leave
    (interactions) below."""
    read_trials(study, progress)
    observed = _observed(study)
    shares, rest = _shares(study, observed)
    order = sorted(shares, key=lambda name: shares[name][0])
    labels = [_label(study, name, observed.params) for name in order]
    fig, ax = new_axes(height=max(3.0, 0.45 * len(order) + 1.8))
    means = [shares[name][0] for name in order]
    ax.barh(labels, means, xerr=_spread(shares[name] for name in order), color="C0", capsize=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        f"share of the variance of {cut_middle(study.objective)}{first_of(study)} "
        "(main effect)\n"
        f"interactions and the rest: {rest:.0%}"  # two lines: one ran off the figure
    )
    title(ax, f"{cut_middle(study.name)}: parameter importance", f"{ESTIMATOR}, {observed.where}")
    return fig


def _label(study: Study, name: str, observed: list[Mapping[str, Value]]) -> str:
    """A bar's label: the name, and "(where active)" for a conditional parameter, or
    "(active in 1 trial: too few)" when too few of the ``observed`` configurations have
    it to tell (its bar is empty then, which read as "no effect")."""
    short = cut_middle(name, PARAM_CHARS)
    if study.space[name].when is None:
        return short
    active = sum(name in params for params in observed)
    if active < MIN_IMPORTANCE_TRIALS:
        return f"{short} (active in {plural(active, 'trial')}: too few)"
    return f"{short} (where active)"


def _spread(shares: Iterable[tuple[float, float]]) -> list[list[float]]:
    """The error bars of shares (mean, standard deviation) as matplotlib's lengths below
    and above each mean, kept within 0 to 1 where a share can be: mean ± std ran past
    0 for the parameters that matter little, and the axis cut them off mid-bar."""
    below, above = [], []
    for mean, std in shares:
        below.append(min(std, max(0.0, mean)))  # no further than 0
        above.append(min(std, max(0.0, 1.0 - mean)))  # nor than 1
    return [below, above]
