"""Figures of a study, drawn with matplotlib (the ``plots`` extra: ``pip install
"hpotrack[plots]"``).

Each function returns a :class:`matplotlib.figure.Figure` on an Agg canvas, made without
pyplot: no window ever opens and no global figure list grows, so a long-running process can
draw as many as it likes (matplotlib's "embedding" guide: figures without pyplot).
:func:`save` writes one to a file, atomically.

- :func:`history`: the objective of every trial, with the best so far (Optuna's
  ``plot_optimization_history``); pruned and failed trials marked.
- :func:`curves`: the intermediate values of every trial, by state, with the rung budgets
  where the method decided (Li et al. 2018, Hyperband, fig. 1).
- :func:`params`: parallel coordinates of the parameters in the unit-cube encoding the
  methods use (``Space.encode``; a ``Choice`` as its categories) and the objective, each
  line coloured by its value (Inselberg 1985).
- :func:`importance`: each parameter's share of the objective's variance, by fANOVA on a
  random forest (Hutter et al. 2014; :mod:`hpotrack.importance`).
- :func:`lineage`: for population-based training, members' segments over steps and the
  exploit jumps between them (Jaderberg et al. 2017, fig. 5); for other studies, the
  parent -> child graph by trial number, edges coloured by kind.

Every function takes ``progress``, called with a number of trials as they are read (the
counts add up to ``len(study.trials)``), for a progress bar on long plots.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hpotrack import lineage as lineage_of
from hpotrack.checkpoints import source_edge
from hpotrack.errors import HpotrackError, MissingDependency
from hpotrack.files import write_replacing
from hpotrack.importance import ESTIMATOR, fanova
from hpotrack.params import Choice
from hpotrack.records import Origin, TrialRecord, TrialState, is_better, worst_value
from hpotrack.space import Value
from hpotrack.study import Study

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KINDS = ("history", "curves", "params", "importance", "lineage")
FORMATS = ("png", "pdf", "svg")
INSTALL = 'pip install "hpotrack[plots]"'
MIN_IMPORTANCE_TRIALS = 5
MAX_RUNG_LINES = 12  # more distinct check steps than this (a pruner checking every step): none
MAX_ANNOTATED = 40  # lineage: label segments and nodes only up to this many
STATE_COLOURS = {
    TrialState.COMPLETE: "C0",
    TrialState.PRUNED: "C1",
    TrialState.FAILED: "C3",
    TrialState.RUNNING: "0.55",
    TrialState.QUEUED: "0.75",
}
KIND_COLOURS = {  # apart from the states' colours
    Origin.PROMOTED.value: "C2",
    Origin.MUTATED.value: "C4",
    Origin.CROSSOVER.value: "C6",
    Origin.RETRIED.value: "C5",
    Origin.GRADIENT_STEP.value: "C8",
    Origin.EXPLOITED.value: "C9",
    Origin.CONTINUED.value: "C7",
}
TEXT: dict[str, Any] = {  # a label on lines: small, on a light box
    "fontsize": 7,
    "va": "center",
    "zorder": 5,
    "bbox": {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
}
SEGMENT = re.compile(r"([^:#]+):(\d+):(\d+)(?:#\d+)?")  # pbt:<member>:<segment>[#attempt]
Progress = Callable[[int], None]


class PlotError(HpotrackError):
    """A plot cannot be drawn or written (the message says why and what to do)."""


# --- entry points ------------------------------------------------------------------------------


def figure(study: Study, kind: str, *, progress: Progress | None = None) -> Figure:
    """The figure of ``kind`` (one of :data:`KINDS`) for ``study``."""
    draw = _DRAW.get(kind)
    if draw is None:
        raise PlotError(f"unknown plot kind {kind!r}; use one of {', '.join(KINDS)}")
    require_matplotlib()
    return draw(study, progress=progress)


def save(
    study: Study, kind: str, path: str | Path, *, progress: Progress | None = None, dpi: int = 100
) -> Path:
    """Draw ``kind`` for ``study`` and write it to ``path`` (.png, .pdf or .svg by its
    suffix) atomically (:func:`hpotrack.files.write_replacing`). Returns the path."""
    target = Path(path)
    fmt = target.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise PlotError(f"cannot tell the image format of {target}: name it .png, .pdf or .svg")
    if not target.parent.is_dir():
        raise PlotError(f"cannot write {target}: the folder {target.parent} does not exist")
    drawn = figure(study, kind, progress=progress)
    try:
        write_replacing(
            target, lambda stream: drawn.savefig(stream, format=fmt, dpi=dpi), text=False
        )
    except OSError as exc:
        raise PlotError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target


def require_matplotlib() -> None:
    """A :class:`PlotError` naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        missing = f"plots need matplotlib, which is not installed: {INSTALL}"
        raise MissingDependency(missing) from None


# --- history -----------------------------------------------------------------------------------


def history(study: Study, *, progress: Progress | None = None) -> Figure:
    """The objective of each trial by number, the best so far as a step line; pruned trials
    (at the budget they stopped at) and failed ones (at the bottom) marked."""
    trials = _trials(study, progress)
    failed = [t.number for t in trials if t.state is TrialState.FAILED]
    if not failed and not any(_valued(t) for t in trials):
        raise PlotError(f"study {study.name!r} has no finished trial yet: nothing to plot")
    fig, ax = _axes()
    for state, marker in ((TrialState.PRUNED, "x"), (TrialState.COMPLETE, "o")):
        done = [t for t in trials if t.state is state and _valued(t)]
        # pruned trials whose last report was NaN or infinite: no point to draw, counted
        diverged = sum(t.state is state and not _valued(t) for t in trials)
        note = f"; {diverged} diverged, not drawn" if diverged else ""
        if done:
            ax.scatter(
                [t.number for t in done],
                [_value(t) for t in done],
                marker=marker,
                s=18,
                color=STATE_COLOURS[state],
                label=f"{state.value} ({len(done)}{note})",
                zorder=3,
            )
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
    steps, best = _best_so_far(trials, study.direction)
    if steps:
        ax.step(steps, best, where="post", color="k", lw=1.2, label="best so far", zorder=2)
    _log_if_wide(ax, [_value(t) for t in trials if _valued(t)])
    numbers = [t.number for t in trials]  # failed markers do not widen the axis themselves
    margin = max(0.5, 0.02 * (max(numbers) - min(numbers)))
    ax.set_xlim(min(numbers) - margin, max(numbers) + margin)
    ax.set(xlabel="trial", ylabel=study.objective)
    _title(ax, f"{study.name}: {study.objective} per trial ({study.direction})")
    ax.legend(loc="best", fontsize="small")
    return fig


def _best_so_far(trials: Sequence[TrialRecord], direction: str) -> tuple[list[int], list[float]]:
    """The best complete value after each complete trial, to the last trial's number."""
    numbers: list[int] = []
    values: list[float] = []
    for trial in trials:
        if trial.state is TrialState.COMPLETE and _valued(trial):
            value = _value(trial)
            leader = values[-1] if values else None
            numbers.append(trial.number)
            values.append(value if is_better(value, leader, direction) else values[-1])
    if numbers and trials[-1].number > numbers[-1]:
        numbers.append(trials[-1].number)
        values.append(values[-1])
    return numbers, values


# --- curves ------------------------------------------------------------------------------------


def curves(study: Study, *, metric: str | None = None, progress: Progress | None = None) -> Figure:
    """Every trial's intermediate values of ``metric`` (default: the objective) against step,
    coloured by state; dotted lines at the rung budgets where the method decided (the
    trials' check steps), and where pruned trials stopped. A trial that continues
    another's checkpoint (a promotion, a resumed retry, a PBT segment) is joined to that
    trial's line where it started, so a configuration reads as one curve; a stopped trial
    that was promoted later is not marked as stopped."""
    name = study.objective if metric is None else metric
    trials = _trials(study)
    found: dict[int, list[tuple[int, float]]] = {}
    others: set[str] = set()
    for trial in trials:
        curve = study.curve(trial.number)
        others.update(curve)
        found[trial.number] = curve.get(name, [])
        if progress is not None:
            progress(1)
    promoted = {e.parent for t in trials for e in t.parents if e.kind == Origin.PROMOTED.value}
    lines: dict[TrialState, list[np.ndarray]] = {}
    stops = []
    for trial in trials:
        joined = _joined(trial, found)
        points = np.array(joined, dtype=np.float64).reshape(-1, 2)
        points = points[np.isfinite(points).all(axis=1)]
        if len(points):
            lines.setdefault(trial.state, []).append(points)
            if trial.state is TrialState.PRUNED and trial.number not in promoted:
                stops.append(points[-1])
    if not lines:
        raise PlotError(_no_curves(study, name, others))
    fig, ax = _axes()
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
    _log_if_wide(ax, [float(v) for ls in lines.values() for line in ls for v in line[:, 1]])
    count = sum(len(ls) for ls in lines.values())
    ax.set(xlabel="step", ylabel=name)
    _title(ax, f"{study.name}: intermediate {name} of {count} trials")
    fig.legend(loc="outside lower center", ncols=4, fontsize="small")  # not over the curves
    return fig


def _joined(trial: TrialRecord, found: dict[int, list[tuple[int, float]]]) -> list[Any]:
    """``trial``'s points, led by the point of the trial it continues at the step it
    started after (when it did not train again from scratch)."""
    points = found[trial.number]
    edge = source_edge(trial)
    if edge is None or edge.step is None or not points or points[0][0] <= edge.step:
        return list(points)
    before = [point for point in found.get(edge.parent, []) if point[0] <= edge.step]
    return [before[-1], *points] if before else list(points)


def _draw_curves(ax: Axes, lines: dict[TrialState, list[np.ndarray]]) -> None:
    """One LineCollection per state (fast for thousands of trials), complete on top."""
    from matplotlib.collections import LineCollection

    count = sum(len(ls) for ls in lines.values())
    alpha = 0.8 if count <= 50 else max(0.15, 0.8 * math.sqrt(50 / count))
    for state in (TrialState.QUEUED, TrialState.RUNNING, TrialState.FAILED, TrialState.PRUNED):
        _add_lines(ax, LineCollection, lines.get(state, []), state, alpha)
    _add_lines(ax, LineCollection, lines.get(TrialState.COMPLETE, []), TrialState.COMPLETE, alpha)
    ax.autoscale_view()


def _add_lines(
    ax: Axes, kind: Any, segments: list[np.ndarray], state: TrialState, alpha: float
) -> None:
    if segments:
        label = f"{state.value} ({len(segments)})"
        colour = STATE_COLOURS[state]
        ax.add_collection(kind(segments, colors=colour, linewidths=1, alpha=alpha, label=label))
        single = [line for line in segments if len(line) == 1]  # one report: a dot, not a line
        if single:
            steps, values = np.array([line[0] for line in single]).T
            ax.scatter(steps, values, s=6, color=colour)


def _no_curves(study: Study, name: str, others: set[str]) -> str:
    if others:
        names = ", ".join(sorted(map(repr, others)))
        return (
            f"study {study.name!r} has no intermediate values of {name!r} "
            f"(it has {names}; from Python: hpotrack.plots.curves(study, metric=...))"
        )
    return (
        f"study {study.name!r} has no intermediate values to plot: report them with "
        "trial.report(value, step) while a trial runs"
    )


# --- params ------------------------------------------------------------------------------------


def params(study: Study, *, progress: Progress | None = None) -> Figure:
    """Parallel coordinates: one vertical axis per parameter (its unit-cube encoding, with
    its values labelled) and one for the objective; a line per complete trial coloured by
    its value, the best in red, pruned trials in grey underneath."""
    trials = _trials(study, progress)
    from matplotlib.collections import LineCollection

    done = _complete(trials)
    if not done:
        raise PlotError(f"study {study.name!r} has no complete trial yet: nothing to plot")
    names = list(study.space)
    values = np.array([_value(t) for t in done])
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.full(len(values), 0.5)
    cube = study.space.encode_many([t.params for t in done])
    x = np.arange(len(names) + 1, dtype=np.float64)
    fig, ax = _axes(width=max(7.0, 1.5 * len(x) + 1.5))
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    if pruned:
        grey = study.space.encode_many([t.params for t in pruned])
        segments = [np.column_stack([x[:-1], row]) for row in grey]
        label = f"pruned ({len(pruned)}, no objective axis)"
        grey_lines = LineCollection(segments, colors="0.8", linewidths=0.6, zorder=1, label=label)
        ax.add_collection(grey_lines)
    segments = [np.column_stack([x, [*row, v]]) for row, v in zip(cube, scaled, strict=True)]
    lines = LineCollection(segments, array=values, cmap=_cmap(study.direction), linewidths=1)
    lines.set_alpha(0.8 if len(done) <= 100 else 0.4)
    ax.add_collection(lines)
    best = int(np.argmin(values) if study.direction == "minimize" else np.argmax(values))
    ax.plot(x, segments[best][:, 1], color="C3", lw=2.2, label=f"best (#{done[best].number})")
    fig.colorbar(lines, ax=ax, label=study.objective, pad=0.01)
    _param_axes(ax, study, names, x, (low, high))
    _title(ax, f"{study.name}: parameters of {len(done)} complete trials", _cube_note(study))
    fig.legend(loc="outside lower center", ncols=2, fontsize="small")
    return fig


def _param_axes(
    ax: Axes, study: Study, names: list[str], x: np.ndarray, value_range: tuple[float, float]
) -> None:
    """Vertical axes with value labels: a Choice's options at their cells, a number's
    low, middle and high; the objective's range on the last axis."""
    for position in x:
        ax.axvline(position, color="0.2", lw=0.8, zorder=0)
    for position, name in zip(x[:-1], names, strict=True):
        param = study.space[name]
        if isinstance(param, Choice):
            n = len(param.options)
            ticks = [((i + 0.5) / n, option) for i, option in enumerate(param.options)]
        else:
            ticks = [(u, param.decode(u)) for u in (0.0, 0.5, 1.0)]
        for u, label in ticks:
            ax.text(position + 0.03, u, _label(label), **TEXT)
    low, high = value_range
    for u, value in ((0.0, low), (1.0, high)):
        ax.text(x[-1] + 0.03, u, _label(value), **TEXT)
    ax.set_xticks(x, [*names, study.objective], rotation=20 if len(x) > 6 else 0)
    ax.set_xlim(-0.1, x[-1] + 0.45)
    ax.set_ylim(-0.04, 1.04)
    ax.set_yticks([])
    ax.set_ylabel("position in the parameter's range")


def _label(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    text = str(value)
    return text if len(text) <= 12 else text[:11] + "…"


# --- importance --------------------------------------------------------------------------------


def importance_values(study: Study) -> dict[str, tuple[float, float]]:
    """Each parameter's share of the objective's variance explained by its main effect:
    (mean, standard deviation over the forest's trees), in the space's order. fANOVA on a
    random forest over the complete trials, or where too few completed (successive
    halving stops most early) over the values at one budget step (:func:`_observed`)."""
    return _shares(study, _observed(study))


def _shares(study: Study, observed: _Observations) -> dict[str, tuple[float, float]]:
    cube = study.space.encode_many(observed.params)
    mean, std = fanova(cube, observed.values, seed=study.seed)
    return {name: (float(m), float(s)) for name, m, s in zip(study.space, mean, std, strict=True)}


@dataclass(frozen=True)
class _Observations:
    """Configurations with their objective values, all measured alike, and how many and
    where they were measured, for a figure's subtitle."""

    params: list[Mapping[str, Value]]
    values: list[float]
    where: str


def _observed(study: Study) -> _Observations:
    """What importance is computed on: the complete trials if there are at least
    ``MIN_IMPORTANCE_TRIALS``; else, in a study with a budget, the values at the largest
    step that many trials reached (their checks there, the complete ones' final values
    at the max), as BOHB models the largest budget with enough observations. Values at
    different steps are not compared. A lost trial's checks count once, with its retry."""
    done = _complete(study.trials)
    if len(done) >= MIN_IMPORTANCE_TRIALS:
        return _Observations(
            [t.params for t in done], [_value(t) for t in done], f"{len(done)} complete trials"
        )
    if study.budget is None:
        raise PlotError(
            f"importance needs at least {MIN_IMPORTANCE_TRIALS} complete trials; study "
            f"{study.name!r} has {len(done)}"
        )
    at: dict[int, list[tuple[Mapping[str, Value], float]]] = {}
    worst = worst_value(study.direction)  # how a diverged check is stored
    for trial in study.trials:
        if trial.state is TrialState.FAILED:  # a lost trial's checks: its retry has them
            continue
        for step, value in trial.checks.items():
            if value is not None and math.isfinite(value) and value != worst:
                at.setdefault(step, []).append((trial.params, value))
        if trial.state is TrialState.COMPLETE and _valued(trial):
            at.setdefault(int(study.budget.max), []).append((trial.params, _value(trial)))
    enough = [step for step, found in at.items() if len(found) >= MIN_IMPORTANCE_TRIALS]
    if not enough:
        raise PlotError(
            f"importance needs at least {MIN_IMPORTANCE_TRIALS} complete trials, or as many "
            f"measured at one step; study {study.name!r} has {len(done)} complete"
        )
    step = max(enough)
    found = at[step]
    where = f"{len(found)} trials' {study.objective} at step {step}"
    return _Observations([p for p, _ in found], [v for _, v in found], where)


def importance(study: Study, *, progress: Progress | None = None) -> Figure:
    """Horizontal bars of :func:`importance_values`, largest on top, with the trees' standard
    deviation; the estimator is named in the title, and what the main effects leave
    (interactions) below."""
    _trials(study, progress)
    observed = _observed(study)
    shares = _shares(study, observed)
    order = sorted(shares, key=lambda name: shares[name][0])
    fig, ax = _axes(height=max(3.0, 0.45 * len(order) + 1.8))
    means = [shares[name][0] for name in order]
    ax.barh(order, means, xerr=[shares[name][1] for name in order], color="C0", capsize=3)
    rest = max(0.0, 1.0 - sum(means))
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        f"share of the variance of {study.objective} (main effect); "
        f"interactions and the rest: {rest:.0%}"
    )
    _title(ax, f"{study.name}: parameter importance", f"{ESTIMATOR}, {observed.where}")
    return fig


# --- lineage -----------------------------------------------------------------------------------


def lineage(study: Study, *, progress: Progress | None = None) -> Figure:
    """PBT: each member's segments over steps (x: step, one lane and colour per member, a
    segment from the step it starts at to its budget), exploit jumps as arrows from the
    copied segment's end, the best final member's chain outlined. Other studies: the parent
    -> child graph (x: trial number, y: objective), edges coloured by kind."""
    trials = _trials(study, progress)
    members = _members(trials)
    if members:
        return _population(study, trials, members)
    if not any(t.parents for t in trials):
        raise PlotError(
            f"study {study.name!r} has no lineage to plot: no trial has a parent (edges come "
            "from pbt, evolution, promotions, gradient steps and retries)"
        )
    return _graph(study, trials)


def _members(trials: Sequence[TrialRecord]) -> dict[tuple[str, int], list[TrialRecord]]:
    """Segments by member, from claims ``<family>:<member>:<segment>[#attempt]``."""
    found: dict[tuple[str, int], list[TrialRecord]] = {}
    for trial in trials:
        match = SEGMENT.fullmatch(trial.claim or "")
        if match is not None:
            found.setdefault((match[1], int(match[2])), []).append(trial)
    return dict(sorted(found.items()))


def _start(trial: TrialRecord) -> float:
    """The step a segment starts from: its checkpoint's step, else 0."""
    edge = source_edge(trial)
    return 0.0 if edge is None or edge.step is None else float(edge.step)


def _end(trial: TrialRecord) -> float:
    return _start(trial) if trial.budget is None else float(trial.budget)


def _population(
    study: Study, trials: Sequence[TrialRecord], members: dict[tuple[str, int], list[TrialRecord]]
) -> Figure:
    from matplotlib import colormaps
    from matplotlib.collections import LineCollection

    lane = {t.number: i for i, segs in enumerate(members.values()) for t in segs}
    palette = colormaps["tab10" if len(members) <= 10 else "tab20"]
    colour = {number: palette(i % palette.N) for number, i in lane.items()}
    fig, ax = _axes(height=min(30.0, max(3.5, 0.45 * len(members) + 1.8)))
    chain = _best_chain(trials, members, study.direction)
    segments = {n: [(_start(trials[n]), y), (_end(trials[n]), y)] for n, y in lane.items()}
    if chain:
        outline = [segments[n] for n in sorted(chain)]
        ax.add_collection(LineCollection(outline, colors="k", linewidths=9, alpha=0.25))
    for failed in (False, True):  # one collection per line style: fast for big populations
        drawn = [n for n in lane if (trials[n].state is TrialState.FAILED) is failed]
        lines = LineCollection(
            [segments[n] for n in drawn],
            colors=[colour[n] for n in drawn],
            linewidths=4,
            linestyles=":" if failed else "-",
        )
        ax.add_collection(lines)
    ends = np.array([segments[n][1] for n in lane])
    ax.scatter(ends[:, 0], ends[:, 1], marker="|", s=100, color="k", zorder=3)
    _exploit_arrows(ax, trials, lane, colour)
    _population_legend(ax, bool(chain))
    families = {family for family, _ in members}
    ax.set_yticks(
        range(len(members)),
        [f"{f} member {m}" if len(families) > 1 else f"member {m}" for f, m in members],
    )
    ax.set_ylim(len(members) - 0.5, -0.5)
    ax.set_xlabel("step")
    _title(
        ax,
        f"{study.name}: population lineage, {len(members)} members, {len(lane)} segments",
        "an arrow: an exploit (a copy of another member's checkpoint, then explore)",
    )
    return fig


def _exploit_arrows(
    ax: Axes, trials: Sequence[TrialRecord], lane: dict[int, int], colour: dict[int, Any]
) -> None:
    """An arrow from each exploited segment's end to the segment that copied it, in the
    copied member's colour (one quiver: fast for thousands)."""
    tails, heads, colours = [], [], []
    for trial in (trials[n] for n in lane):
        edge = source_edge(trial)
        if edge is None or edge.kind != Origin.EXPLOITED.value or edge.parent not in lane:
            continue
        source = trials[edge.parent]
        tails.append((_end(source), lane[source.number]))
        heads.append((_start(trial), lane[trial.number]))
        colours.append(colour[source.number])
    if tails:
        tail, head = np.array(tails, dtype=np.float64), np.array(heads, dtype=np.float64)
        ax.quiver(
            tail[:, 0],
            tail[:, 1],
            head[:, 0] - tail[:, 0],
            head[:, 1] - tail[:, 1],
            color=colours,
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.004,
            zorder=4,
        )


def _best_chain(
    trials: Sequence[TrialRecord],
    members: dict[tuple[str, int], list[TrialRecord]],
    direction: str,
) -> set[int]:
    """The segments the best member's latest complete segment continues (its weights'
    history, :func:`hpotrack.lineage.chain`); empty before any segment completes."""
    best: TrialRecord | None = None
    for segments in members.values():
        done = [t for t in segments if t.state is TrialState.COMPLETE and _valued(t)]
        if done and is_better(_value(done[-1]), None if best is None else best.value, direction):
            best = done[-1]
    return set() if best is None else {t.number for t in lineage_of.chain(trials, best.number)}


def _population_legend(ax: Axes, with_chain: bool) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color="0.3", lw=4, label="segment (start step to budget)"),
        Line2D([], [], color="0.3", lw=4, ls=":", label="failed segment"),
        Line2D([], [], color="0.3", lw=1.2, marker=">", label="exploit"),
    ]
    if with_chain:
        handles.append(Line2D([], [], color="k", lw=9, alpha=0.25, label="best member's chain"))
    ax.figure.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize="small"
    )


def _graph(study: Study, trials: Sequence[TrialRecord]) -> Figure:
    """Trials at (number, value) - at a 'no value' line below when they have none - and
    their parent -> child edges as arrows coloured by kind."""
    valued = [_value(t) for t in trials if _valued(t)]
    low, high = (min(valued), max(valued)) if valued else (0.0, 1.0)
    floor = low - 0.08 * ((high - low) or 1.0)
    y = {t.number: _value(t) if _valued(t) else floor for t in trials}
    fig, ax = _axes()
    for state in TrialState:
        group = [t.number for t in trials if t.state is state]
        if group:
            colour = STATE_COLOURS[state]
            ax.scatter(group, [y[n] for n in group], s=14, color=colour, label=state.value)
    edges: dict[str, list[tuple[int, int]]] = {}
    for trial in trials:
        for edge in trial.parents:
            edges.setdefault(edge.kind, []).append((edge.parent, trial.number))
    for kind, pairs in sorted(edges.items()):
        start = np.array([(p, y[p]) for p, _ in pairs], dtype=np.float64)
        end = np.array([(c, y[c]) for _, c in pairs], dtype=np.float64)
        ax.quiver(
            *start.T,
            *(end - start).T,
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.003,
            color=KIND_COLOURS.get(kind, "C9"),
            label=f"{kind} ({len(pairs)})",
        )
    if len(valued) < len(trials):
        ax.axhline(floor, color="0.6", lw=0.8, ls="--")
        ax.text(0, floor, " no value", va="bottom", fontsize=7, color="0.4")
    ax.set(xlabel="trial", ylabel=study.objective)
    _title(ax, f"{study.name}: lineage", "parent -> child edges by trial number, coloured by kind")
    ax.legend(loc="best", fontsize="small")
    return fig


# --- shared ------------------------------------------------------------------------------------


def _trials(study: Study, progress: Progress | None = None) -> list[TrialRecord]:
    """The study's trials (a PlotError if none, or without matplotlib); counted as read
    when ``progress`` is given."""
    require_matplotlib()
    trials = study.trials
    if not trials:
        raise PlotError(f"study {study.name!r} has no trials yet: nothing to plot")
    if progress is not None:
        progress(len(trials))
    return trials


def _complete(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    return [t for t in trials if t.state is TrialState.COMPLETE and _valued(t)]


def _valued(trial: TrialRecord) -> bool:
    return trial.value is not None and math.isfinite(trial.value)


def _value(trial: TrialRecord) -> float:
    assert trial.value is not None
    return float(trial.value)


def _axes(width: float = 8.0, height: float = 4.8) -> tuple[Figure, Axes]:
    """A figure on an Agg canvas (no pyplot) with one Axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _title(ax: Axes, main: str, detail: str | None = None) -> None:
    """A title, and a smaller line of detail under it."""
    ax.set_title(main if detail is None else f"{main}\n{detail}", fontsize="medium")


def _cube_note(study: Study) -> str:
    logs = [name for name, p in study.space.items() if getattr(p, "log", False)]
    scale = f"; log scale: {', '.join(logs)}" if logs else ""
    return f"each axis spans a parameter's range as the methods encode it{scale}"


def _cmap(direction: str) -> str:
    """Bright for good values: viridis reversed when lower is better."""
    return "viridis_r" if direction == "minimize" else "viridis"


def _log_if_wide(ax: Axes, values: Sequence[float]) -> None:
    """A log y axis when every value is positive and they span more than 3 decades."""
    if values and min(values) > 0 and max(values) / min(values) > 1e3:
        ax.set_yscale("log")


_DRAW: dict[str, Callable[..., Figure]] = {
    "history": history,
    "curves": curves,
    "params": params,
    "importance": importance,
    "lineage": lineage,
}
