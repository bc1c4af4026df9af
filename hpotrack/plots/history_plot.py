"""The history figure: every trial's objective by number with the best so far (Optuna's
``plot_optimization_history``), pruned and failed trials marked, and trials that miss a
constraint drawn hollow (the best so far is the best of those that meet them)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from hpotrack.lineage import segment_of
from hpotrack.plots.common import (
    BEYOND_DRAWABLE,
    STATE_COLOURS,
    PlotError,
    Progress,
    constraint_note,
    first_of,
    has_value,
    hollow,
    infeasible_numbers,
    legend,
    log_if_wide,
    misses_label,
    new_axes,
    read_trials,
    title,
    value_of,
    whole_x,
)
from hpotrack.records import TrialRecord, TrialState, is_better
from hpotrack.study import Study
from hpotrack.text import cut_middle

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def history(study: Study, *, progress: Progress | None = None) -> Figure:
    """The objective of each trial by number, the best so far as a step line; pruned trials
    (at the budget they stopped at) and failed ones (at the bottom) marked. Complete
    trials that miss a constraint are hollow, and the best so far is that of the trials
    that meet them (:attr:`Study.best`). With several objectives, the first (each
    trial's ``value``), as its label says."""
    trials = read_trials(study, progress)
    failed = [t.number for t in trials if t.state is TrialState.FAILED]
    ended = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    if not failed and not ended:
        raise PlotError(f"study {study.name!r} has no finished trial yet: nothing to plot")
    if not failed and not any(has_value(t) for t in ended):
        raise PlotError(
            f"study {study.name!r} has no value to plot: its {len(ended)} finished trials "
            f"all diverged (NaN, infinite or {BEYOND_DRAWABLE})"
        )
    fig, ax = new_axes()
    infeasible = infeasible_numbers(study, trials)
    for state, marker in ((TrialState.PRUNED, "x"), (TrialState.COMPLETE, "o")):
        done = [t for t in trials if t.state is state and has_value(t)]
        # trials whose last report was NaN or infinite: no point to draw, counted
        diverged = sum(t.state is state and not has_value(t) for t in trials)
        note = f"; {diverged} diverged, not drawn" if diverged else ""
        misses = [t for t in done if t.number in infeasible]
        done = [t for t in done if t.number not in infeasible]
        if done:
            ax.scatter(
                [t.number for t in done],
                [value_of(t) for t in done],
                marker=marker,
                s=18,
                color=STATE_COLOURS[state],
                label=f"{state.value} ({len(done)}{note})",
                zorder=3,
            )
        if misses:  # the diverged counted here when no trial that meets them is drawn
            label = misses_label(len(misses), "" if done else note)
            x, y = [t.number for t in misses], [value_of(t) for t in misses]
            hollow(ax, x, y, STATE_COLOURS[state], label)
    if failed:
        ax.scatter(
            failed,
            [0.02] * len(failed),
            transform=ax.get_xaxis_transform(),
            marker="v",
            s=22,
            color=STATE_COLOURS[TrialState.FAILED],
            label=f"failed ({len(failed)})",
            clip_on=False,
            zorder=3,
        )
    steps, best = best_so_far(trials, study.direction, infeasible)
    if len(steps) > 1:  # one point draws no line, but its key in the legend said it did
        # over the points: thousands of them hid it where it runs, among the best values
        population = any(segment_of(t) is not None for t in trials)  # its best can get worse
        label = "best so far (members' latest segments)" if population else "best so far"
        ax.step(steps, best, where="post", color="k", lw=1.2, label=label, zorder=4)
    valued = [value_of(t) for t in trials if has_value(t)]
    log_if_wide(ax, valued)
    if not valued:  # only failed trials: a value axis around 0 would be made up
        ax.set_yticks([])
    numbers = [t.number for t in trials]  # failed markers do not widen the axis themselves
    margin = max(0.5, 0.02 * (max(numbers) - min(numbers)))
    ax.set_xlim(min(numbers) - margin, max(numbers) + margin)
    objective = cut_middle(study.objective) + first_of(study)
    ax.set(xlabel="trial", ylabel=objective)
    whole_x(ax)
    missing = None if valued else "no trial has a value to draw"
    title(
        ax,
        f"{cut_middle(study.name)}: {objective} per trial ({study.direction})",
        "; ".join(note for note in (missing, _unfinished(trials)) if note) or None,
        constraint_note(study, trials, infeasible),
    )
    legend(ax)
    return fig


def _unfinished(trials: Sequence[TrialRecord]) -> str | None:
    """ "2 running, 1 queued: not drawn yet" for a study plotted while it runs (their
    numbers are on the axis, with nothing at them); None when every trial has ended."""
    counts = [
        f"{n} {state.value}"
        for state in (TrialState.RUNNING, TrialState.QUEUED)
        if (n := sum(t.state is state for t in trials))
    ]
    return f"{', '.join(counts)}: not drawn yet" if counts else None


def best_so_far(
    trials: Sequence[TrialRecord], direction: str, infeasible: Collection[int] = frozenset()
) -> tuple[list[int], list[float]]:
    """The study's best after each complete trial that meets the constraints (its number
    not ``infeasible``), to the last trial's number: what ``Study.best`` said then
    (:func:`hpotrack.lineage.best_result`), so in a population (PBT) the best of each
    member's latest segment, not a mid-run segment its member trained on from (the line
    drew one, and ended apart from ``hpotrack best``). Empty before one meets them."""
    numbers: list[int] = []
    values: list[float] = []
    alone: float | None = None  # the best complete trial outside a population
    members: dict[tuple[str, int], float] = {}  # each member's latest complete segment
    for trial in trials:
        if trial.state is TrialState.COMPLETE and has_value(trial):
            if trial.number in infeasible:
                continue
            value = value_of(trial)
            segment = segment_of(trial)
            if segment is not None:
                members[segment.family, segment.member] = value
            elif is_better(value, alone, direction):
                alone = value
            best = value
            for candidate in (alone, *members.values()):
                if candidate is not None and is_better(candidate, best, direction):
                    best = candidate
            numbers.append(trial.number)
            values.append(best)
    if numbers and trials[-1].number > numbers[-1]:
        numbers.append(trials[-1].number)
        values.append(values[-1])
    return numbers, values
