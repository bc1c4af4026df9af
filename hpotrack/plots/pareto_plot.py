"""The pareto figure of a study of several objectives: every complete trial's values, the
trials of the Pareto front (no other trial is at least as good on every objective and
better on one; :mod:`hpotrack.pareto`) highlighted. With two objectives the front is
joined by the staircase that bounds the region it dominates (the region whose area is
the front's hypervolume, Zitzler & Thiele 1998), drawn each objective's way: toward the
top of a maximized axis, the bottom of a minimized one. With more, one panel per pair of
objectives (a scatter matrix's upper triangle): a pair's panel shows the projection of
the whole front, which is no staircase (a trial on the front may be beaten on those two
objectives by one that is worse on a third), so no line joins it there. In a study with
constraints the front is that of the trials that meet them (:attr:`Study.best_trials`);
the others are drawn as hollow rings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from hpotrack import pareto as dominance
from hpotrack.plots.common import (
    BEYOND_DRAWABLE,
    DRAWABLE,
    MARK_COLOUR,
    PARAM_CHARS,
    PlotError,
    Progress,
    constraint_note,
    figure_title,
    hollow,
    infeasible_numbers,
    is_wide,
    legend,
    mapped_colours,
    misses_label,
    new_axes,
    new_figure,
    read_trials,
    require_complete,
    require_matplotlib,
    ring,
    title,
)
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import cut_middle, plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

Array = npt.NDArray[np.float64]

TRIAL_COLOURS = "viridis"  # early trials dark, late ones bright, as the slice figure
FRONT_COLOUR = MARK_COLOUR  # as the best of the other figures
MANY_POINTS = 1000  # beyond, points are drawn smaller and fainter, where they overlap
COLUMNS = 3  # panels in a row of the pairs' grid
PANEL_WIDTH = 3.6  # inches
PANEL_HEIGHT = 3.2
MAX_PAIRED = 6
"""Most objectives paired in the grid (15 panels): the pairs of 10 objectives would be 45
panels too small to read; the subtitle says which are left out."""
INSTEAD = "history, slice, params or importance"  # the kinds for a study of one objective


@dataclass(frozen=True)
class _Front:
    """The complete trials drawn, their values (a row per trial, a column per objective),
    which of them miss a constraint and which are on the Pareto front of those that do
    not; how many complete trials could not be drawn (a value beyond :data:`DRAWABLE`);
    the title's note on the constraints, if the study has any."""

    trials: list[TrialRecord]
    values: Array
    infeasible: npt.NDArray[np.bool_]
    on_front: npt.NDArray[np.bool_]
    diverged: int
    rules: str | None


def pareto(study: Study, *, progress: Progress | None = None) -> Figure:
    """The complete trials' objectives against each other, coloured by trial number, the
    Pareto front circled in red; with two objectives one panel where the front is joined
    by the staircase of the region it dominates, with more one panel per pair. Axis
    labels name each objective and its direction; a :class:`PlotError` for a study of
    one objective (its kinds are history, slice, params and importance)."""
    require_matplotlib()  # first: without it no kind draws, whatever the study
    if len(study.objectives) < 2:
        raise PlotError(
            f"the pareto plot needs a study of several objectives, but study {study.name!r} "
            f"optimizes one, {study.objective} ({study.direction}): plot it with kind "
            f"{INSTEAD} instead"
        )
    trials = read_trials(study, progress)
    front = _front(study, trials)
    if len(study.objectives) == 2:
        return _two(study, trials, front)
    return _pairs(study, trials, front)


def _front(study: Study, trials: Sequence[TrialRecord]) -> _Front:
    """The complete trials with every objective drawable, and the front among those that
    meet the constraints: what :attr:`Study.best_trials` says of these trials (unless a
    value beyond :data:`DRAWABLE` is left out: the front drawn is that of the points
    drawn). A PlotError as the other kinds give when there is none."""
    require_complete(study, trials)  # none complete, or all diverged: the kinds' one error
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    values_of = study.optimizing.values  # None for a trial without every objective
    valued = [(t, values) for t in complete if (values := values_of(t.metrics)) is not None]
    if not valued:
        raise PlotError(
            f"study {study.name!r} has no complete trial with a value of every objective "
            f"({', '.join(study.objectives)}): nothing to plot"
        )
    points = np.array([values for _, values in valued], dtype=np.float64)
    drawable = np.all(np.abs(points) <= DRAWABLE, axis=1)
    if not drawable.any():
        raise PlotError(
            f"study {study.name!r} has no value to plot: its {len(valued)} complete trials "
            f"all diverged (values {BEYOND_DRAWABLE})"
        )
    kept = [t for (t, _), keep in zip(valued, drawable, strict=True) if keep]
    drawn = points[drawable]
    missing = infeasible_numbers(study, complete)
    infeasible = np.array([t.number in missing for t in kept], dtype=bool)
    on_front = np.zeros(len(kept), dtype=bool)
    if not infeasible.all():
        feasible = drawn[~infeasible] * np.array(study.optimizing.signs)
        on_front[~infeasible] = dominance.on_front(feasible)
    rules = constraint_note(study, complete, missing)
    return _Front(kept, drawn, infeasible, on_front, len(complete) - len(kept), rules)


# --- two objectives ----------------------------------------------------------------------------


def _two(study: Study, trials: Sequence[TrialRecord], front: _Front) -> Figure:
    """One panel: the trials, the front and the staircase of the region it dominates."""
    fig, ax = new_axes(width=7.5, height=5.6)
    norm = _trial_scale(front)
    _scatter(ax, front, (0, 1), norm)
    if front.on_front.any():  # none when no trial meets the constraints yet
        order = front_order(study, front.values[front.on_front])
        corner = _worst(study, front.values)
        staircase = dominated_staircase(front.values[front.on_front][order], corner)
        ax.fill(*staircase.T, color=FRONT_COLOUR, alpha=0.08, lw=0, zorder=0,
                label="dominated region")  # fmt: skip
        ax.plot(*staircase[:-1].T, color=FRONT_COLOUR, lw=1.2, zorder=3)
    _axes(ax, study, front.values, (0, 1))
    _colour_bar(fig, [ax], norm)
    count = int(front.on_front.sum())
    names = " and ".join(cut_middle(name) for name in study.objectives)
    title(
        ax,
        f"{cut_middle(study.name)}: Pareto front of {names}",
        f"{plural(count, 'trial')} on the front{_counts(trials, front)}",
        front.rules,
    )
    legend(ax)
    return fig


def front_order(study: Study, front: Array) -> npt.NDArray[np.intp]:
    """The order of the ``front``'s points along it: from the best value of the first
    objective to its worst (so the second goes from its worst to its best), ties by the
    second."""
    losses = front * np.array(study.optimizing.signs)
    return np.lexsort((losses[:, 1], losses[:, 0]))


def dominated_staircase(front: Array, corner: Array) -> Array:
    """The boundary of the region the two-objective ``front`` (in :func:`front_order`)
    dominates within ``corner`` (the worst values drawn), as a closed polygon: from the
    corner's level of the second objective up to the first point, then from each point
    along the first objective to the next one's and along the second to it, out to the
    corner's level of the first objective, and back through the corner. Drawn in values,
    not losses, so each axis goes its objective's way."""
    vertices = [(front[0, 0], corner[1]), (front[0, 0], front[0, 1])]
    for (_, y), (next_x, next_y) in pairwise(front):
        vertices += [(next_x, y), (next_x, next_y)]
    vertices += [(corner[0], front[-1, 1]), (corner[0], corner[1])]
    return np.array(vertices, dtype=np.float64)


def _worst(study: Study, values: Array) -> Array:
    """The worst drawn value of each objective: where the dominated region ends."""
    return np.array(
        [
            column.max() if direction == "minimize" else column.min()
            for column, direction in zip(values.T, study.directions, strict=True)
        ]
    )


# --- three or more objectives ------------------------------------------------------------------


def _pairs(study: Study, trials: Sequence[TrialRecord], front: _Front) -> Figure:
    """One panel per pair of the first :data:`MAX_PAIRED` objectives, the front (over
    every objective) circled in each."""
    paired = min(len(study.objectives), MAX_PAIRED)
    pairs = list(combinations(range(paired), 2))
    columns = min(COLUMNS, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    fig = new_figure(PANEL_WIDTH * columns + 1.2, PANEL_HEIGHT * rows + 1.4)
    grid = fig.subplots(rows, columns, squeeze=False).ravel().tolist()
    for empty in grid[len(pairs) :]:
        empty.remove()
    panels = grid[: len(pairs)]
    norm = _trial_scale(front)
    for ax, pair in zip(panels, pairs, strict=True):
        _scatter(ax, front, pair, norm)
        _axes(ax, study, front.values, pair)
    _colour_bar(fig, panels, norm)
    left_out = study.objectives[paired:]
    notes = [
        f"{plural(int(front.on_front.sum()), 'trial')} on the front of all "
        f"{len(study.objectives)} objectives{_counts(trials, front)}",
    ]
    if left_out:
        notes.append(f"not paired: {', '.join(cut_middle(name, PARAM_CHARS) for name in left_out)}")
    figure_title(
        fig,
        f"{cut_middle(study.name)}: Pareto front, objectives in pairs",
        "; ".join(notes),
        front.rules,
    )
    fig.legend(
        *panels[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=2,
        fontsize="small",
    )
    return fig


# --- what both draw ----------------------------------------------------------------------------


def _scatter(ax: Axes, front: _Front, pair: tuple[int, int], norm: Normalize) -> None:
    """Every drawn trial as a dot coloured by its number (a hollow ring if it misses a
    constraint), and the front's circled; the keys in grey, as their colour is the
    trial's (a key in the colour map's first colour read as "complete trials are
    purple")."""
    many = len(front.trials) > MANY_POINTS
    meets, misses = ~front.infeasible, front.infeasible
    if meets.any() or not misses.any():
        key = f"complete ({int(meets.sum())})"
        ax.plot([], [], ls="", marker="o", ms=4, color="0.45", label=key)
    numbers = np.array([t.number for t in front.trials], dtype=np.float64)
    x, y = front.values[:, pair[0]], front.values[:, pair[1]]
    if misses.any():
        label = misses_label(int(misses.sum()))
        ax.plot([], [], ls="", marker="o", ms=4, mfc="none", mec="0.45", label=label)
        colours = mapped_colours(TRIAL_COLOURS, norm, numbers[misses])
        hollow(ax, x[misses], y[misses], colours, "_", size=6 if many else 18)
    ax.scatter(
        x[meets],
        y[meets],
        c=numbers[meets],
        cmap=TRIAL_COLOURS,
        norm=norm,
        s=6 if many else 18,
        alpha=0.5 if many else 0.85,
        linewidths=0,
        zorder=2,
    )
    on = front.on_front
    if on.any() or not misses.any():  # none meets the constraints: no front to key
        ring(ax, x[on], y[on], f"Pareto front ({int(on.sum())})")


def _axes(ax: Axes, study: Study, values: Array, pair: tuple[int, int]) -> None:
    """Each axis labelled with its objective and direction; a log scale for values that
    are all positive and span more than 3 decades (:func:`is_wide`)."""
    for index, axis in zip(pair, (ax.xaxis, ax.yaxis), strict=True):
        name, direction = study.objectives[index], study.directions[index]
        axis.set_label_text(f"{cut_middle(name, PARAM_CHARS * 2)} ({direction})")
        if is_wide(values[:, index].tolist()):
            (ax.set_xscale if axis is ax.xaxis else ax.set_yscale)("log")


def _trial_scale(front: _Front) -> Normalize:
    from matplotlib.colors import Normalize

    numbers = [t.number for t in front.trials]
    return Normalize(min(numbers), max(numbers))


def _colour_bar(fig: Figure, panels: list[Axes], norm: Normalize) -> None:
    """A colour bar "trial" at whole numbers, unless one trial leaves no range."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.ticker import MaxNLocator

    if norm.vmax is None or norm.vmin is None or norm.vmax <= norm.vmin:
        return
    bar = fig.colorbar(ScalarMappable(norm, TRIAL_COLOURS), ax=panels, label="trial", pad=0.01)
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _counts(trials: Sequence[TrialRecord], front: _Front) -> str:
    """ ", of 40 complete; not drawn: 2 pruned, 3 failed": the trials without values of
    every objective to draw (counted, as the slice figure does)."""
    by_state = [
        f"{n} {state.value}"
        for state in (TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING, TrialState.QUEUED)
        if (n := sum(t.state is state for t in trials))
    ]
    if front.diverged:
        by_state.append(f"{front.diverged} complete diverged ({BEYOND_DRAWABLE}) or partial")
    drawn = f", of {len(front.trials)} complete"
    return drawn + (f"; not drawn: {', '.join(by_state)}" if by_state else "")
