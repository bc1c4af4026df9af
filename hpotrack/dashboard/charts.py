"""The dashboard's charts of a study, as SVG: the history of its objective (with the best
so far, as ``hpotrack plot --kind history`` draws it), the Pareto front of a study of
several objectives, and the intermediate curves of its best and running trials."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from hpotrack import views
from hpotrack.dashboard.layout import Html, number, url
from hpotrack.dashboard.svg import TOOLTIPS_PER_SERIES, Point, Series, chart
from hpotrack.plots.common import has_value, infeasible_numbers, is_wide
from hpotrack.plots.history_plot import best_so_far
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study

MAX_CURVES = 24  # curves drawn on a study's page: its running trials, then its best
MAX_LEGEND = 6  # more curves than this: told apart by their tooltips, not a legend
TIPS_PER_STUDY_CURVE = 40  # points of a curve on a study's page with a link and tooltip
TIPS_PER_TRIAL_CURVE = 200  # and on a trial's page, where a chart has one curve
"""A link and a tooltip is an element of its own (some 130 bytes), and the chart keeps
up to 5,000: a few per curve, spread along it, keep a page of long curves small (every
point of 24 curves of 10,000 steps had them: 1.4 MB, redrawn at each commit)."""


def trial_url(study: Study, number: int) -> str:
    return _trial_url_start(study.name) + str(number)


@functools.lru_cache(maxsize=256)
def _trial_url_start(name: str) -> str:
    """``/trial?study=NAME&number=``, encoded once per study, not once per point."""
    return url("/trial", study=name, number="")


def _spread(count: int, keep: int) -> set[int]:
    """``keep`` of the indices ``0..count-1``, evenly spread, the last among them (the
    latest step of a curve, the newest trial): those drawn with a link and tooltip. The
    others are drawn without, and cost no URL nor label to build."""
    if keep >= count:
        return set(range(count))
    if keep <= 1:
        return {count - 1} if keep == 1 else set()
    return {round(i * (count - 1) / (keep - 1)) for i in range(keep)}


def _points(
    items: Sequence[tuple[float, float]], keep: int, describe: Callable[[int], Point]
) -> tuple[Point, ...]:
    """The points at ``items``, those at :func:`_spread`'s indices as ``describe`` makes
    them (with a link and a tooltip), the others bare."""
    tipped = _spread(len(items), keep)
    return tuple(describe(i) if i in tipped else Point(x, y) for i, (x, y) in enumerate(items))


def _trial_points(
    study: Study, group: Sequence[TrialRecord], values: Sequence[float], what: str
) -> tuple[Point, ...]:
    """A point per trial of ``group`` at (its number, its value), at most
    :data:`TOOLTIPS_PER_SERIES` of them a link to the trial, with a tooltip."""

    def described(i: int) -> Point:
        trial, value = group[i], values[i]
        label = f"trial {trial.number}{what}: {number(value)}"
        return Point(trial.number, value, href=trial_url(study, trial.number), label=label)

    items = [(float(t.number), v) for t, v in zip(group, values, strict=True)]
    return _points(items, TOOLTIPS_PER_SERIES, described)


def history(study: Study, trials: Sequence[TrialRecord]) -> Html:
    """The objective of every complete trial by number, pruned trials' last values, and
    the best so far; complete trials that miss a constraint apart (they cannot be best)."""
    infeasible = infeasible_numbers(study, trials)
    done = [t for t in trials if t.state is TrialState.COMPLETE and has_value(t)]
    pruned = [t for t in trials if t.state is TrialState.PRUNED and has_value(t)]
    series = []
    kept = [t for t in done if t.number not in infeasible]
    missed = [t for t in done if t.number in infeasible]
    for name, group, what in (
        ("complete", kept, ""),
        ("misses a constraint", missed, " (misses a constraint)"),
        ("pruned (last value)", pruned, " (pruned)"),
    ):
        if group:
            points = _trial_points(study, group, [_value(t) for t in group], what)
            series.append(Series(name, points))
    steps, best = best_so_far(trials, study.direction, infeasible)
    if steps:
        line = tuple(Point(float(x), y) for x, y in _corners(steps, best))
        series.append(Series("best so far", line, kind="steps", emphasis=True))
    values = [_value(t) for t in (*done, *pruned)]
    return Html(
        chart(
            series,
            x_label="trial",
            y_label=study.objective,
            log_y=is_wide(values),
            empty="no complete trial yet",
            whole_x=True,
        )
    )


def front(study: Study, trials: Sequence[TrialRecord]) -> Html:
    """The first two objectives of every complete trial, the Pareto front apart."""
    first, second = study.objectives[:2]
    on_front = {t.number for t in study.best_trials}
    groups: dict[bool, list[Point]] = {True: [], False: []}
    for trial in trials:
        values = study.values(trial) if trial.state is TrialState.COMPLETE else ()
        if len(values) >= 2:
            x, y = values[0], values[1]
            label = f"trial {trial.number}: {first}={number(x)}, {second}={number(y)}"
            point = Point(x, y, href=trial_url(study, trial.number), label=label)
            groups[trial.number in on_front].append(point)
    series = [Series("dominated", tuple(groups[False]))] if groups[False] else []
    if groups[True]:
        series.append(Series("Pareto front", tuple(groups[True]), emphasis=True))
    return Html(chart(series, x_label=first, y_label=second, empty="no complete trial yet"))


def curves(study: Study, ranked: Sequence[TrialRecord]) -> tuple[Html, int]:
    """The objective's intermediate values of the running trials and of the best of
    ``ranked`` (best first), :data:`MAX_CURVES` in all, the best one emphasised; with how
    many trials had a curve to draw. Empty when no trial reported one."""
    running = [t for t in ranked if t.state is TrialState.RUNNING]
    ended = [t for t in ranked if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    chosen = (running + ended)[:MAX_CURVES]
    best = ended[0].number if ended else None
    series = []
    for trial in chosen:
        points = views.stored_curve(study.store, study.id, trial.number).get(study.objective)
        if not points:
            continue
        line = _curve_points(study, trial, points)
        name = f"#{trial.number} {trial.state.value}"
        series.append(Series(name, line, kind="line", emphasis=trial.number == best))
    if not series:
        return Html(""), 0
    values = [p.y for s in series for p in s.points]
    drawn = chart(
        series,
        x_label="step",
        y_label=study.objective,
        log_y=is_wide(values),
        whole_x=True,
        legend=len(series) <= MAX_LEGEND,
    )
    return Html(drawn), len(series)


def trial_curves(study: Study, curve: dict[str, list[tuple[int, float]]]) -> list[Html]:
    """One chart per reported metric of a trial, the objective first."""
    names = sorted(curve, key=lambda name: (name != study.objective, name))
    charts = []
    for name in names:
        steps = curve[name]

        def described(i: int, steps: list[tuple[int, float]] = steps) -> Point:
            step, value = steps[i]
            return Point(step, value, label=f"step {step}: {number(value)}")

        line = _points(steps, TIPS_PER_TRIAL_CURVE, described)
        values = [p.y for p in line]
        drawn = chart(
            [Series(name, line, kind="line")],
            x_label="step",
            y_label=name,
            log_y=is_wide(values),
            whole_x=True,
        )
        charts.append(Html(drawn))
    return charts


def _curve_points(
    study: Study, trial: TrialRecord, steps: list[tuple[int, float]]
) -> tuple[Point, ...]:
    """A trial's curve on its study's page, :data:`TIPS_PER_STUDY_CURVE` of its points a
    link to the trial, with a tooltip."""

    def described(i: int) -> Point:
        step, value = steps[i]
        label = f"trial {trial.number}, step {step}: {number(value)}"
        return Point(step, value, href=trial_url(study, trial.number), label=label)

    return _points(steps, TIPS_PER_STUDY_CURVE, described)


def _corners(steps: Sequence[int], best: Sequence[float]) -> list[tuple[int, float]]:
    """The best-so-far staircase by its corners: where the best changed, and the last
    trial (the same drawing, not a point per trial of a study of 100,000)."""
    kept = [
        (x, y)
        for i, (x, y) in enumerate(zip(steps, best, strict=True))
        if i == 0 or y != best[i - 1]
    ]
    if kept[-1][0] != steps[-1]:
        kept.append((steps[-1], best[-1]))
    return kept


def _value(trial: TrialRecord) -> float:
    return float(trial.value) if trial.value is not None else float("nan")
