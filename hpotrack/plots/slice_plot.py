"""The slice figure: the objective against each parameter's own values, one panel per
parameter, the points coloured by trial number (Optuna's ``plot_slice``): where along
each parameter the good values lie, and whether the search found them early or late.
Trials that miss one of the study's constraints are hollow rings, never the best."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from hpotrack.params import Choice, Float, Int
from hpotrack.plots.common import (
    BEYOND_DRAWABLE,
    MARK_COLOUR,
    MISSES,
    PARAM_CHARS,
    Progress,
    best_index,
    best_label,
    constraint_note,
    figure_title,
    first_of,
    has_value,
    hollow,
    infeasible_numbers,
    log_if_wide,
    mapped_colours,
    misses_label,
    new_figure,
    read_trials,
    require_complete,
    ring,
    value_of,
    whole_x,
)
from hpotrack.plots.params_plot import option_labels
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import cut_middle

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

Array = npt.NDArray[np.float64]

COLUMNS = 4  # panels in a row: 4 of 3.2 inches, as wide as the params figure gets
PANEL_WIDTH = 3.2  # inches
PANEL_HEIGHT = 2.6
JITTER = 0.2
"""How far stacked points spread, as a share of the gap between neighbouring values
(a Choice's options are 1 apart): they no longer hide one another, and none reaches
halfway to the next value, so each still reads as its own."""
MAX_OPTION_TICKS = 8  # a Choice's options labelled under a panel; of more, every k-th
OPTION_ROW_CHARS = 24  # characters of option labels that fit flat under a panel
MANY_POINTS = 1000  # beyond, the points of a panel are drawn smaller and fainter
TRIAL_COLOURS = "viridis"  # early trials dark, late ones bright
BEST_COLOUR = MARK_COLOUR  # as the best line of the params figure


@dataclass(frozen=True)
class _Drawn:
    """The trials drawn, complete ones first, then pruned ones with a value: their
    numbers, objective values, cube points, which parameters each leaves inactive and
    which miss a constraint."""

    trials: list[TrialRecord]
    complete: int  # how many of ``trials`` are complete (the first ones)
    numbers: Array
    values: Array
    inactive: npt.NDArray[np.bool_]
    cube: Array
    best: int | None  # the row of the study's best result; None: none meets the constraints
    infeasible: npt.NDArray[np.bool_]  # the complete rows that miss a constraint


def slices(study: Study, *, progress: Progress | None = None) -> Figure:
    """One panel per parameter (a grid of up to :data:`COLUMNS` a row), the objective
    against the parameter's values: its log axis for ``log=True``, its options for a
    Choice, only the trials where it is active for a conditional one. Complete trials
    as dots and pruned ones (where they stopped) as crosses, coloured by trial number,
    complete ones that miss a constraint as rings; the best that meets them circled in
    red. Failed trials have no value: the subtitle counts them. With several
    objectives, the first (each trial's ``value``), as the title says."""
    trials = read_trials(study, progress)
    infeasible = infeasible_numbers(study, trials)
    drawn = _drawn(study, trials, infeasible)
    rules = constraint_note(study, trials, infeasible)
    names = list(study.space)
    fig, panels = _grid(len(names))
    norm = _trial_scale(drawn.numbers)
    for column, (name, ax) in enumerate(zip(names, panels, strict=True)):
        _panel(ax, study, name, column, drawn, norm)
    log_if_wide(panels[0], drawn.values.tolist())  # the panels share the objective's axis
    for ax in panels[::COLUMNS]:
        ax.set_ylabel(cut_middle(study.objective, PARAM_CHARS * 2))
    if drawn.numbers.max() > drawn.numbers.min():  # one trial: no range to colour by
        _trial_colour_bar(fig, panels, norm)
    figure_title(
        fig,
        f"{cut_middle(study.name)}: {cut_middle(study.objective)}{first_of(study)} by parameter "
        f"({study.direction})",
        _counts(trials, drawn),
        rules,
    )
    fig.legend(handles=_keys(study, drawn), loc="outside lower center", ncols=3, fontsize="small")
    return fig


def _drawn(study: Study, trials: Sequence[TrialRecord], infeasible: Collection[int]) -> _Drawn:
    """What the panels draw (a PlotError when no complete trial has a value), the trials
    numbered in ``infeasible`` as missing a constraint."""
    done = require_complete(study, trials)
    pruned = [t for t in trials if t.state is TrialState.PRUNED and has_value(t)]
    both = [*done, *pruned]
    values = np.array([value_of(t) for t in both])
    cube = study.space.encode_many([t.params for t in both])
    return _Drawn(
        trials=both,
        complete=len(done),
        numbers=np.array([t.number for t in both], dtype=np.float64),
        values=values,
        inactive=study.space.inactive_mask(cube),
        cube=cube,
        best=best_index(trials, done, values[: len(done)], study.direction, infeasible),
        infeasible=np.array([t.number in infeasible for t in both], dtype=bool),
    )


def _grid(count: int) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` panels sharing the objective's axis, :data:`COLUMNS` a row;
    the figure grows with the rows, and the last row's empty places are left blank."""
    columns = min(COLUMNS, count)
    rows = math.ceil(count / columns)
    fig = new_figure(max(6.0, PANEL_WIDTH * columns + 1.2), PANEL_HEIGHT * rows + 1.4)
    grid = fig.subplots(rows, columns, sharey=True, squeeze=False).ravel().tolist()
    for empty in grid[count:]:
        empty.remove()
    return fig, grid[:count]


def _panel(ax: Axes, study: Study, name: str, column: int, drawn: _Drawn, norm: Normalize) -> None:
    """The objective against parameter ``name`` (the ``column`` of the cube) for the
    trials where it is active; titled with its name, "(where active)" if conditional."""
    param = study.space[name]
    conditional = param.when is not None
    ax.set_title(
        cut_middle(name, PARAM_CHARS) + (" (where active)" if conditional else ""), fontsize="small"
    )
    rows = np.flatnonzero(~drawn.inactive[:, column])
    if not len(rows):
        ax.text(0.5, 0.5, "active in no trial drawn", transform=ax.transAxes, ha="center")
        ax.set_xticks([])
        return
    x = _positions(param, name, drawn, column, rows)
    x = _jittered(x, np.random.default_rng(column), log=_is_log(param))  # same study, same image
    y = drawn.values[rows]
    complete = rows < drawn.complete
    missing = drawn.infeasible[rows]
    meets = complete & ~missing
    _points(ax, x[meets], y[meets], drawn.numbers[rows[meets]], "o", norm)
    if not complete.all():
        _points(ax, x[~complete], y[~complete], drawn.numbers[rows[~complete]], "x", norm)
    if missing.any():
        colours = mapped_colours(TRIAL_COLOURS, norm, drawn.numbers[rows[missing]])
        hollow(ax, x[missing], y[missing], colours, MISSES, size=16)
    best = np.flatnonzero(rows == drawn.best)
    if len(best):
        ring(ax, x[best], y[best], "best", size=90)
    _x_axis(ax, param)


def _points(ax: Axes, x: Array, y: Array, numbers: Array, marker: str, norm: Normalize) -> None:
    """One scatter of points coloured by their trial ``numbers``: smaller and fainter
    beyond :data:`MANY_POINTS`, where they overlap."""
    many = len(x) > MANY_POINTS
    label = "complete" if marker == "o" else "pruned"
    ax.scatter(
        x,
        y,
        c=numbers,
        cmap=TRIAL_COLOURS,
        norm=norm,
        marker=marker,
        s=6 if many else 16,
        alpha=0.5 if many else 0.8,
        linewidths=0 if marker == "o" else 1,
        label=label,
        zorder=2,
    )


def _is_log(param: Choice | Float | Int) -> bool:
    return not isinstance(param, Choice) and param.log


def _positions(
    param: Choice | Float | Int, name: str, drawn: _Drawn, column: int, rows: npt.NDArray[np.intp]
) -> Array:
    """Where the ``rows`` lie on the parameter's axis: a Choice's option number (from the
    cube, vectorised), a number its value."""
    if isinstance(param, Choice):
        size = len(param.options)
        option = np.minimum(np.floor(drawn.cube[rows, column] * size), size - 1)
        return np.asarray(option, dtype=np.float64)
    return np.array([drawn.trials[i].params[name] for i in rows], dtype=np.float64)


def _jittered(x: Array, rng: np.random.Generator, *, log: bool) -> Array:
    """``x`` with points that share a value spread by up to :data:`JITTER` of the
    smallest gap between the values (on a log axis, in decades); values that are all
    different, or all the same number, are left where they are."""
    position = np.log10(x) if log else x
    distinct = np.unique(position)
    if len(distinct) == len(position) or len(distinct) == 1:
        return x
    spread = position + rng.uniform(-JITTER, JITTER, len(x)) * float(np.diff(distinct).min())
    return np.asarray(10.0**spread if log else spread, dtype=np.float64)


def _x_axis(ax: Axes, param: Choice | Float | Int) -> None:
    """The parameter's scale: a log axis for ``log=True``, whole ticks for an Int, the
    options for a Choice (every k-th of more than :data:`MAX_OPTION_TICKS`, slanted when
    they do not fit flat)."""
    if isinstance(param, Choice):
        size = len(param.options)
        every = math.ceil(size / MAX_OPTION_TICKS)
        shown = list(range(0, size, every))
        labels = option_labels([param.options[i] for i in shown])
        slanted = sum(map(len, labels)) + 2 * len(labels) > OPTION_ROW_CHARS
        rotation, align = (30, "right") if slanted else (0, "center")
        ax.set_xticks(shown, labels, rotation=rotation, ha=align, fontsize="small")
        ax.set_xlim(-0.5, size - 0.5)
    elif param.log:
        ax.set_xscale("log")
        if isinstance(param, Int):  # 20, not 2×10¹ (matplotlib's labels of a log axis)
            from matplotlib.ticker import LogFormatter

            ax.xaxis.set_major_formatter(LogFormatter())
            ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    elif isinstance(param, Int):
        whole_x(ax)
    ax.tick_params(axis="x", labelsize="small")


def _trial_scale(numbers: Array) -> Normalize:
    """Trial numbers to colours, from the first drawn to the last."""
    from matplotlib.colors import Normalize

    return Normalize(float(numbers.min()), float(numbers.max()))


def _trial_colour_bar(fig: Figure, panels: list[Axes], norm: Normalize) -> None:
    """One colour bar beside the panels: "trial", at whole numbers."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.ticker import MaxNLocator

    bar = fig.colorbar(ScalarMappable(norm, TRIAL_COLOURS), ax=panels, label="trial", pad=0.01)
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _keys(study: Study, drawn: _Drawn) -> list[Line2D]:
    """The legend's keys, in grey (their colour is the trial's): complete (that meet the
    constraints), pruned if any, those that miss a constraint if any, the best if any."""
    from matplotlib.lines import Line2D

    pruned = len(drawn.trials) - drawn.complete
    missing = int(drawn.infeasible.sum())
    meets = drawn.complete - missing
    keys = []
    if meets or not missing:
        keys.append(Line2D([], [], ls="", marker="o", color="0.45", label=f"complete ({meets})"))
    if pruned:
        label = f"pruned ({pruned}, at the value where they stopped)"
        keys.append(Line2D([], [], ls="", marker="x", color="0.45", label=label))
    if missing:
        key = Line2D([], [], ls="", marker="o", mfc="none", mec="0.45", label=misses_label(missing))
        keys.append(key)
    if drawn.best is None:
        return keys
    keys.append(
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=9,
            mfc="none",
            mec=BEST_COLOUR,
            mew=1.6,
            label=best_label(study, drawn.trials[drawn.best]),
        )
    )
    return keys


def _counts(trials: Sequence[TrialRecord], drawn: _Drawn) -> str | None:
    """ "not drawn: 3 failed, 1 running, 2 diverged (...)" for the trials without a value
    to draw; None when every trial is drawn."""
    by_state = [
        f"{n} {state.value}"
        for state in (TrialState.FAILED, TrialState.RUNNING, TrialState.QUEUED)
        if (n := sum(t.state is state for t in trials))
    ]
    ended = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    if diverged := sum(t.value is not None and not has_value(t) for t in ended):
        by_state.append(f"{diverged} diverged (NaN, infinite or {BEYOND_DRAWABLE})")
    if silent := sum(t.value is None for t in ended):  # pruned before any report
        by_state.append(f"{silent} pruned before reporting")
    return f"not drawn: {', '.join(by_state)}" if by_state else None
