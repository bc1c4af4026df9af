"""The lineage figure: for population-based training, members' segments over steps and the
exploit jumps between them (Jaderberg et al. 2017, fig. 5); for other studies, the parent
-> child graph by trial number, edges coloured by kind, complete trials that miss a
constraint drawn hollow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hpotrack import lineage as lineage_of
from hpotrack.checkpoints import source_edge
from hpotrack.plots.common import (
    STATE_COLOURS,
    PlotError,
    Progress,
    constraint_note,
    faint,
    first_of,
    has_value,
    hollow,
    infeasible_numbers,
    is_wide,
    is_wide_below_zero,
    legend,
    log_if_wide,
    misses_label,
    new_axes,
    read_trials,
    title,
    value_of,
    whole_x,
)
from hpotrack.records import Origin, TrialRecord, TrialState, is_better
from hpotrack.study import Study
from hpotrack.text import cut_middle

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_ARROWS = 300  # more edges: faint lines (9,000 arrows were one solid blob, drawn in 7 s)
UNLINKED_ALPHA = 0.3  # the parent graph: trials on no edge, drawn faint
KIND_COLOURS = {  # apart from the states' colours
    Origin.PROMOTED.value: "C2",
    Origin.MUTATED.value: "C4",
    "mutation": "C4",  # evolution's edge kind (its origin is "mutated")
    Origin.CROSSOVER.value: "C6",
    Origin.RETRIED.value: "C5",
    Origin.GRADIENT_STEP.value: "C8",
    Origin.EXPLOITED.value: "C9",
    Origin.CONTINUED.value: "C7",
}


def lineage(study: Study, *, progress: Progress | None = None) -> Figure:
    """PBT: each member's segments over steps (x: step, one lane and colour per member, a
    segment from the step it starts at to its budget), exploit jumps as arrows from the
    copied segment's end, the best final member's chain outlined. Other studies: the parent
    -> child graph (x: trial number, y: objective), edges coloured by kind."""
    trials = read_trials(study, progress)
    members = lineage_of.members(trials)
    if members:
        return _population(study, trials, members)
    if not any(t.parents for t in trials):
        raise PlotError(
            f"study {study.name!r} has no lineage to plot: no trial has a parent (edges come "
            "from pbt, evolution, promotions, gradient steps and retries)"
        )
    return _graph(study, trials)


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
    fig, ax = new_axes(height=min(30.0, max(3.5, 0.45 * len(members) + 1.8)))
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
    title(
        ax,
        f"{cut_middle(study.name)}: population lineage, {len(members)} members, "
        f"{len(lane)} segments",
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
        done = [t for t in segments if t.state is TrialState.COMPLETE and has_value(t)]
        if done and is_better(value_of(done[-1]), None if best is None else best.value, direction):
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
    their parent -> child edges as arrows coloured by kind (more than :data:`MAX_ARROWS`:
    faint lines, left to right as the trials came); trials on no edge small and
    faint, so that in a large study (20,000 trials, 120 promotions) the lineage is not
    buried under the trials that have none."""
    valued = [value_of(t) for t in trials if has_value(t)]
    low, high = (min(valued), max(valued)) if valued else (0.0, 1.0)
    fig, ax = new_axes()
    if is_wide(valued) or is_wide_below_zero(valued):  # log or symlog, set once drawn
        floor = low * (low / high) ** 0.08
    else:
        floor = low - 0.08 * ((high - low) or 1.0)
    y = {t.number: value_of(t) if has_value(t) else floor for t in trials}
    linked = {n for t in trials for e in t.parents for n in (e.parent, t.number)}
    infeasible = infeasible_numbers(study, trials)
    for state in TrialState:
        group = [t.number for t in trials if t.state is state and t.number not in infeasible]
        _nodes(ax, group, y, linked, STATE_COLOURS[state], f"{state.value} ({len(group)})")
        if state is TrialState.COMPLETE and infeasible:
            misses = sorted(infeasible)
            _nodes(ax, misses, y, linked, STATE_COLOURS[state], misses_label(len(misses)), True)
    edges: dict[str, list[tuple[int, int]]] = {}
    for trial in trials:
        for edge in trial.parents:
            edges.setdefault(edge.kind, []).append((edge.parent, trial.number))
    count = sum(map(len, edges.values()))
    arrows = count <= MAX_ARROWS
    for kind, pairs in sorted(edges.items()):
        start = np.array([(p, y[p]) for p, _ in pairs], dtype=np.float64)
        end = np.array([(c, y[c]) for _, c in pairs], dtype=np.float64)
        colour = KIND_COLOURS.get(kind, "C9")
        _edges(ax, start, end, colour, f"{kind} ({len(pairs)})", None if arrows else faint(count))
    # as the history: 1e-6 to 0.5 drew 490 of 500 trials on one line; after the points, as
    # symlog autoscaled over no data yet warns that all values lie below its threshold
    log_if_wide(ax, valued)
    if len(valued) < len(trials):
        ax.axhline(floor, color="0.6", lw=0.8, ls="--")
        ax.text(0, floor, " no value", va="bottom", fontsize=7, color="0.4")
    ax.set(xlabel="trial", ylabel=cut_middle(study.objective) + first_of(study))
    whole_x(ax)
    how = "" if arrows else ", left to right"  # a parent always precedes its child
    title(
        ax,
        f"{cut_middle(study.name)}: lineage",
        f"parent -> child edges by trial number{how}, coloured by kind",
        constraint_note(study, trials, infeasible),
    )
    for handle in legend(ax).legend_handles:  # opaque: many edges' alpha made their keys vanish
        if handle is not None:
            handle.set_alpha(1.0)
    return fig


def _nodes(
    ax: Axes,
    numbers: Sequence[int],
    y: dict[int, float],
    linked: set[int],
    colour: str,
    label: str,
    misses: bool = False,
) -> None:
    """Trials ``numbers`` at (number, ``y``) in ``colour``, one legend entry ``label``:
    those on an edge (in ``linked``) full size, the others small and faint; hollow when
    they are trials that miss a constraint."""
    for on_edge, size, alpha in ((True, 14, 1.0), (False, 5, UNLINKED_ALPHA)):
        drawn = [n for n in numbers if (n in linked) is on_edge]
        if drawn:
            ys = [y[n] for n in drawn]
            if misses:
                hollow(ax, drawn, ys, colour, label, size=size).set_alpha(alpha)
            else:
                ax.scatter(drawn, ys, s=size, color=colour, alpha=alpha, label=label)
            label = "_"  # one legend entry per group


def _edges(
    ax: Axes, start: np.ndarray, end: np.ndarray, colour: str, label: str, alpha: float | None
) -> None:
    """Edges from ``start`` to ``end`` points: arrows, or given the ``alpha`` of too many
    for arrows to stay apart (:func:`faint`), thin lines (fast, dense where many run)."""
    if alpha is None:
        ax.quiver(
            *start.T,
            *(end - start).T,
            angles="xy",
            scale_units="xy",
            scale=1,
            width=0.003,
            color=colour,
            label=label,
        )
        return
    from matplotlib.collections import LineCollection

    segments = list(np.stack([start, end], axis=1))  # one (2, 2) array an edge
    ax.add_collection(
        LineCollection(segments, colors=colour, linewidths=0.8, alpha=alpha, label=label)
    )
