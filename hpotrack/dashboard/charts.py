"""The dashboard's charts of a study, as SVG: the history of its objective (with the best
so far, as ``hpotrack plot --kind history`` draws it), the Pareto front of a study of
several objectives, and the intermediate curves of its best and running trials."""

from __future__ import annotations

from collections.abc import Sequence

from hpotrack import views
from hpotrack.dashboard.layout import Html, number, url
from hpotrack.dashboard.svg import Point, Series, chart
from hpotrack.plots.common import has_value, infeasible_numbers, is_wide
from hpotrack.plots.history_plot import best_so_far
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study

MAX_CURVES = 24  # curves drawn on a study's page: its running trials, then its best
MAX_LEGEND = 6  # more curves than this: told apart by their tooltips, not a legend


def trial_url(study: Study, number: int) -> str:
    return url("/trial", study=study.name, number=number)


def _point(study: Study, trial: TrialRecord, x: float, y: float, what: str = "") -> Point:
    label = f"trial {trial.number}{what}: {number(y)}"
    return Point(x, y, href=trial_url(study, trial.number), label=label)


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
            points = tuple(_point(study, t, t.number, _value(t), what) for t in group)
            series.append(Series(name, points))
    steps, best = best_so_far(trials, study.direction, infeasible)
    if steps:
        line = tuple(Point(x, y) for x, y in zip(steps, best, strict=True))
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
        line = tuple(
            Point(
                step,
                value,
                href=trial_url(study, trial.number),
                label=f"trial {trial.number}, step {step}: {number(value)}",
            )
            for step, value in points
        )
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
        line = tuple(
            Point(step, value, label=f"step {step}: {number(value)}") for step, value in curve[name]
        )
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


def _value(trial: TrialRecord) -> float:
    return float(trial.value) if trial.value is not None else float("nan")
