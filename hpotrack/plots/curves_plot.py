"""The curves figure: every trial's intermediate values by state, joined across the
checkpoints trials continue, with the rung budgets where the method decided (Li et al.
2018, Hyperband, fig. 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from hpotrack.checkpoints import source_edge
from hpotrack.plots.common import (
    BEYOND_DRAWABLE,
    DRAWABLE,
    STATE_COLOURS,
    PlotError,
    Progress,
    faint,
    log_if_wide,
    new_axes,
    read_trials,
    title,
    whole_x,
)
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import cut_middle, plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_RUNG_LINES = 12  # more distinct check steps than this (a pruner checking every step): none
MAX_CURVE_POINTS = 4_000  # longer: 4 points of 1,000 buckets of steps (the figure: 800 pixels)
_ROW = np.dtype([("step", np.int64), ("value", np.float64)])  # a stored point
PointAt = Callable[[int, int], tuple[int, float | None] | None]  # (number, step) -> its point


def curves(study: Study, *, metric: str | None = None, progress: Progress | None = None) -> Figure:
    """Every trial's intermediate values of ``metric`` (default: the objective) against step,
    coloured by state; dotted lines at the rung budgets where the method decided (the
    trials' check steps), and where pruned trials stopped. A trial that continues
    another's checkpoint (a promotion, a resumed retry, a PBT segment) is joined to that
    trial's line where it started, so a configuration reads as one curve; a stopped trial
    that was promoted later is not marked as stopped. Read one trial at a time, a curve
    longer than :data:`MAX_CURVE_POINTS` (a report every batch) is drawn :func:`thinned`."""
    name = study.objective if metric is None else metric
    trials = read_trials(study)
    promoted = {e.parent for t in trials for e in t.parents if e.kind == Origin.PROMOTED.value}
    lines: dict[TrialState, list[list[np.ndarray]]] = {}  # each trial's runs of points
    stops: list[np.ndarray] = []  # where pruned trials stopped
    breaks: list[np.ndarray] = []  # the last points before a report that diverged
    diverged = 0  # trials with reports of which none can be drawn
    broken = 0  # trials with some reports that cannot be drawn: their lines break there
    point_at = _point_at(study, name)
    with study.store.reading():  # one trial's points at a time: a curve can be 100,000s
        for trial in trials:
            joined = _joined(trial, _stored(study, trial.number, name), point_at)
            runs = drawable_runs(joined)
            if runs:
                lines.setdefault(trial.state, []).append([thinned(joined[a:b]) for a, b in runs])
                if trial.state is TrialState.PRUNED and trial.number not in promoted:
                    stops.append(joined[runs[-1][1] - 1])
                breaks.extend(joined[b - 1] for _, b in runs if b < len(joined))
                broken += sum(b - a for a, b in runs) < len(joined)
            elif len(joined):
                diverged += 1
            if progress is not None:
                progress(1)
    if not lines:
        with study.store.reading():
            others = study.store.metric_names(study.id)
        raise PlotError(_no_curves(study, name, others, trials))
    fig, ax = new_axes()
    _draw_curves(ax, lines)
    rungs = sorted({float(step) for t in trials for step in t.checks})
    if rungs and study.budget is not None:
        rungs = sorted({*rungs, float(study.budget.max)})  # the last rung: the full budget
    if 0 < len(rungs) <= MAX_RUNG_LINES:
        for i, step in enumerate(rungs):
            label = "rung budgets" if i == 0 else None
            ax.axvline(step, ls=":", lw=1, color="0.35", label=label, zorder=1)
    if stops:
        steps, values = np.array(stops).T
        ax.scatter(steps, values, marker="x", s=16, color="k", label="pruned here", zorder=4)
    if breaks:
        steps, values = np.array(breaks).T
        ax.scatter(
            steps,
            values,
            marker="o",
            s=22,
            facecolors="none",
            edgecolors="C3",
            label="diverged next",
            zorder=4,
        )
    drawn = [float(v) for ls in lines.values() for runs in ls for run in runs for v in run[:, 1]]
    log_if_wide(ax, drawn)
    count = sum(len(ls) for ls in lines.values())
    ax.set(xlabel="step", ylabel=cut_middle(name))
    whole_x(ax)
    title(
        ax,
        f"{cut_middle(study.name)}: intermediate {cut_middle(name)} of {count} trials",
        _divergence_note(broken, diverged),
    )
    legend = fig.legend(loc="outside lower center", ncols=4, fontsize="small")  # not over them
    for handle in legend.legend_handles:  # opaque: at 20,000 trials' alpha a key is invisible
        if handle is not None:
            handle.set_alpha(1.0)
    return fig


def drawable_runs(points: np.ndarray) -> list[tuple[int, int]]:
    """The (start, stop) rows of each run of drawable points (no NaN, infinity or value
    beyond :data:`DRAWABLE`): a curve is drawn as these runs, broken where a report
    diverged, not joined across it (a run that diverged after step 5 read as stopped
    there, one with a NaN in the middle as smooth)."""
    drawable = (np.abs(points) <= DRAWABLE).all(axis=1)  # NaN is not <=
    edges = np.flatnonzero(np.diff(np.concatenate([[False], drawable, [False]]).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _stored(study: Study, number: int, name: str) -> np.ndarray:
    """Trial ``number``'s stored points of metric ``name``: (step, value) rows by step, a
    value stored without one (NULL) as NaN."""
    rows = np.fromiter(study.store.metric_points(study.id, number, name), dtype=_ROW)
    return np.column_stack([rows["step"], rows["value"]])  # floats, as matplotlib draws


def _point_at(study: Study, name: str) -> PointAt:
    """(number, step) -> that trial's last point of ``name`` at or before ``step``."""
    return lambda number, step: study.store.metric_at(study.id, number, name, step)


def _joined(trial: TrialRecord, points: np.ndarray, point_at: PointAt) -> np.ndarray:
    """``trial``'s ``points``, led by the point of the trial it continues at the step it
    started after (when it did not train again from scratch)."""
    edge = source_edge(trial)
    if edge is None or edge.step is None or not len(points) or points[0, 0] <= edge.step:
        return points
    before = point_at(edge.parent, edge.step)
    if before is None:
        return points
    lead = np.array([before], dtype=np.float64)  # a value stored as NULL is NaN
    return np.concatenate([lead, points])


def thinned(points: np.ndarray, bound: int = MAX_CURVE_POINTS) -> np.ndarray:
    """``points`` (step, value rows by step) cut to at most ``bound`` rows that look the
    same drawn: the steps split into ``bound // 4`` buckets of equal width, and of each
    bucket its first, lowest, highest and last point, in step order, so spikes and the
    envelope survive (M4: Jugel et al. 2014, "M4: a visualization-oriented time series
    data aggregation"). A curve of at most ``bound`` (4 or more) points is returned as it
    is."""
    if len(points) <= bound:
        return points
    buckets = bound // 4
    steps = points[:, 0]
    span = (steps[-1] - steps[0]) or 1.0
    bucket = np.minimum(((steps - steps[0]) * (buckets / span)).astype(np.int64), buckets - 1)
    firsts = np.flatnonzero(np.diff(bucket, prepend=-1))  # where each bucket starts
    lasts = np.append(firsts[1:], len(points)) - 1
    by_value = np.lexsort((points[:, 1], bucket))  # each bucket keeps its place, sorted
    keep = np.unique(np.concatenate([firsts, lasts, by_value[firsts], by_value[lasts]]))
    kept: np.ndarray = points[keep]
    return kept


def _divergence_note(broken: int, diverged: int) -> str | None:
    """What the lines leave out: reports that diverged (NaN, infinite or too large)."""
    what = f"(NaN, infinite or {BEYOND_DRAWABLE})"
    broke = f"{plural(broken, 'trial')} with reports that diverged {what}: lines broken there"
    notes = [broke] if broken else []
    if diverged:
        notes.append(f"{diverged} more diverged{'' if broken else ' ' + what}: not drawn")
    return "; ".join(notes) or None


def _draw_curves(ax: Axes, lines: dict[TrialState, list[list[np.ndarray]]]) -> None:
    """One LineCollection per state (fast for thousands of trials), complete on top; each
    trial drawn as its runs of points (:func:`drawable_runs`)."""
    from matplotlib.collections import LineCollection

    count = sum(len(ls) for ls in lines.values())
    alpha = faint(count)
    for state in (TrialState.QUEUED, TrialState.RUNNING, TrialState.FAILED, TrialState.PRUNED):
        _add_lines(ax, LineCollection, lines.get(state, []), state, alpha)
    _add_lines(ax, LineCollection, lines.get(TrialState.COMPLETE, []), TrialState.COMPLETE, alpha)
    ax.autoscale_view()


def _add_lines(
    ax: Axes, kind: Any, trials: list[list[np.ndarray]], state: TrialState, alpha: float
) -> None:
    if trials:
        label = f"{state.value} ({len(trials)})"
        segments = [run for runs in trials for run in runs]
        colour = STATE_COLOURS[state]
        ax.add_collection(kind(segments, colors=colour, linewidths=1, alpha=alpha, label=label))
        single = [line for line in segments if len(line) == 1]  # one report: a dot, not a line
        if single:
            steps, values = np.array([line[0] for line in single]).T
            ax.scatter(steps, values, s=6, color=colour)


def _no_curves(study: Study, name: str, others: set[str], trials: list[TrialRecord]) -> str:
    if name in others:
        return (
            f"study {study.name!r} has no intermediate value of {name!r} to plot: all "
            f"diverged (NaN, infinite or {BEYOND_DRAWABLE})"
        )
    if others:
        names = ", ".join(sorted(map(repr, others)))
        return (
            f"study {study.name!r} has no intermediate values of {name!r} "
            f"(it has {names}; from Python: hpotrack.plots.curves(study, metric=...))"
        )
    if all(t.state in (TrialState.QUEUED, TrialState.RUNNING) for t in trials):
        return (  # not the advice to report: the function may well, once a trial runs
            f"study {study.name!r} has no intermediate values yet: its "
            f"{plural(len(trials), 'trial')} {'is' if len(trials) == 1 else 'are'} queued or "
            "running and none has reported one"
        )
    return (
        f"study {study.name!r} has no intermediate values to plot: report them with "
        "trial.report(value, step) while a trial runs"
    )
