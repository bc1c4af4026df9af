"""The timeline figure: each trial a bar from its start to its end, one row (lane) per
worker process, coloured by state.

Optuna's ``plot_timeline`` is the peer: it has a row per trial, which shows when trials
ran but not which process ran them. Several processes share an hpotrack study (the
workers of ``optimize(n_jobs=...)``, scripts started by hand on other hosts), and each
trial stores the ``host`` and ``pid`` that ran it, so here the rows are the processes:
who ran what, where a worker sat idle, and a worker that died (its last trial failed
"worker lost", ended at its last heartbeat, and nothing after it in its lane).

Bars are drawn with one ``broken_barh`` per lane and state, not one artist per trial, so
10,000 trials draw in a fraction of a second.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from hpotrack.plots.common import (
    STATE_COLOURS,
    PlotError,
    Progress,
    legend,
    new_axes,
    read_trials,
    title,
)
from hpotrack.records import WORKER_LOST, TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import cut_middle, plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Lane = tuple[str, int]  # a worker process: its host and pid
Spans = dict[tuple[TrialState, int], list[tuple[float, float]]]  # (state, row) -> (x, width)
DRAWN_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAILED, TrialState.RUNNING)
BAR_HEIGHT = 0.8  # of a lane's 1: a gap between lanes
EDGE_SHADE = 0.55  # a bar's edge: its colour's channels times this (darker)
LANE_INCHES = 0.35  # of figure height per lane, above a base for the title, axis and legend
MIN_HEIGHT_INCHES = 3.2
MAX_HEIGHT_INCHES = 12.0
MAX_LANE_LABELS = 40  # more lanes: every k-th labelled, so the labels stay apart
HOST_CHARS = 24  # of a host's name on a lane's label
MINUTE, HOUR = 60.0, 3600.0


def timeline(study: Study, *, progress: Progress | None = None) -> Figure:
    """A bar per started trial from its start to its end (a running trial to now, hatched,
    with a "now" line), one lane per worker process (``host:pid``, by first start, the
    first on top); x: time since the first drawn trial started, in seconds, minutes or
    hours by the span (:func:`_unit`). Queued trials, and
    trials no process is recorded for (an import from Optuna), are counted in the subtitle."""
    trials = read_trials(study, progress)
    now = time.time()
    drawn = _drawn(study, trials)
    lanes = _lanes(drawn)
    origin = min(_start(t) for t in drawn)
    fig, ax = new_axes(8.0, _height(len(lanes)))
    unit, seconds = _unit(max(_end(t, now) for t in drawn) - origin)
    spans = _spans(drawn, lanes, origin, now, seconds)
    _bars(ax, spans, drawn)
    if any(t.state is TrialState.RUNNING for t in drawn):
        ax.axvline((now - origin) / seconds, color="k", lw=0.8, ls=":", label="now")
    _label_lanes(ax, list(lanes))
    ax.set_xlim(left=0.0)
    started = datetime.fromtimestamp(origin).strftime("%Y-%m-%d %H:%M:%S")
    ax.set(xlabel=f"{unit} since the first trial started ({started})", ylabel="worker process")
    processes = plural(len(lanes), "worker process", "worker processes")
    title(
        ax,
        f"{cut_middle(study.name)}: {plural(len(drawn), 'trial')} run by {processes}",
        "; ".join(note for note in (_host_note(lanes), _left_out(trials, drawn)) if note) or None,
    )
    legend(ax, below=True)  # the bars fill the axes' width: no free place inside
    return fig


def _drawn(study: Study, trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The trials with a start and a process to draw them in (a PlotError if none):
    queued trials have not started, and a trial without host or pid has no lane."""
    started = [t for t in trials if t.state is not TrialState.QUEUED and t.started is not None]
    if not started:
        raise PlotError(f"study {study.name!r} has no started trial yet: nothing to plot")
    drawn = [t for t in started if _lane(t) is not None]
    if not drawn:
        raise PlotError(
            f"study {study.name!r} has no trial with a worker process to plot: its "
            f"{plural(len(started), 'started trial')} record no host and pid (imported)"
        )
    return drawn


def _lane(trial: TrialRecord) -> Lane | None:
    return None if trial.host is None or trial.pid is None else (trial.host, trial.pid)


def _start(trial: TrialRecord) -> float:
    assert trial.started is not None
    return trial.started


def _lanes(drawn: Sequence[TrialRecord]) -> dict[Lane, int]:
    """Each process's row, in the order they first started a trial."""
    first: dict[Lane, float] = {}
    for trial in drawn:
        lane = _lane(trial)
        assert lane is not None
        first[lane] = min(first.get(lane, math.inf), _start(trial))
    order = sorted(first, key=lambda lane: (first[lane], lane))
    return {lane: row for row, lane in enumerate(order)}


def _unit(span: float) -> tuple[str, float]:
    """The unit of the time axis for a study that ran ``span`` seconds, and its seconds:
    a day of trials in seconds read as 86400 with an offset label."""
    if span > 2 * HOUR:
        return "hours", HOUR
    if span > 2 * MINUTE:
        return "minutes", MINUTE
    return "seconds", 1.0


def _end(trial: TrialRecord, now: float) -> float:
    """Where the trial's bar ends: now while running; its start when it has ended without
    a finished time (data from elsewhere), or finished before it started (another host's
    clock), so it is a line at its start rather than a made-up length."""
    if trial.state is TrialState.RUNNING:
        return max(now, _start(trial))
    if trial.finished is None:
        return _start(trial)
    return max(trial.finished, _start(trial))


def _spans(
    drawn: Sequence[TrialRecord],
    lanes: dict[Lane, int],
    origin: float,
    now: float,
    seconds: float,
) -> Spans:
    """The bars (x, width) of each state in each row, x since ``origin``, in units of
    ``seconds``."""
    spans: Spans = {}
    for trial in drawn:
        lane = _lane(trial)
        assert lane is not None
        start = _start(trial)
        spans.setdefault((trial.state, lanes[lane]), []).append(
            ((start - origin) / seconds, (_end(trial, now) - start) / seconds)
        )
    return spans


def _bars(ax: Axes, spans: Spans, drawn: Sequence[TrialRecord]) -> None:
    """One ``broken_barh`` per state and row; a legend key per state with its count.
    Edges a darker shade of the bar's colour: trials back to back in a lane stay apart,
    and a trial that failed at once is a hairline, not nothing. Running trials are
    hatched: they are still growing."""
    from matplotlib.colors import to_rgb

    for state in DRAWN_STATES:
        label = _state_label(state, drawn)
        colour = STATE_COLOURS[state]
        edge = tuple(EDGE_SHADE * channel for channel in to_rgb(colour))
        running = state is TrialState.RUNNING
        for (kind, row), bars in sorted(spans.items(), key=lambda item: item[0][1]):
            if kind is state:
                ax.broken_barh(
                    bars,
                    (row - BAR_HEIGHT / 2, BAR_HEIGHT),
                    facecolors=colour,
                    edgecolors="0.25" if running else edge,
                    linewidths=0.5,
                    hatch="///" if running else None,
                    label=label,
                )
                label = "_"  # one legend key per state


def _state_label(state: TrialState, drawn: Sequence[TrialRecord]) -> str:
    """ "failed (3, 1 worker lost)", "running (2, to now)", "complete (40)"."""
    of_state = [t for t in drawn if t.state is state]
    detail = ""
    if state is TrialState.FAILED:
        lost = sum((t.error or "").startswith(WORKER_LOST) for t in of_state)
        detail = f", {lost} {WORKER_LOST}" if lost else ""
    elif state is TrialState.RUNNING:
        detail = ", to now"
    return f"{state.value} ({len(of_state)}{detail})"


def _label_lanes(ax: Axes, lanes: Sequence[Lane]) -> None:
    """A tick per lane, "pid 1234" when every process ran on one host, "host:pid"
    otherwise; of more than :data:`MAX_LANE_LABELS` lanes every k-th. The first on top."""
    one_host = len({host for host, _ in lanes}) == 1
    every = math.ceil(len(lanes) / MAX_LANE_LABELS)
    rows = range(0, len(lanes), every)
    ax.set_yticks(
        list(rows),
        [_lane_label(lanes[row], one_host) for row in rows],
        fontsize="small" if len(lanes) > 8 else "medium",
    )
    ax.set_ylim(len(lanes) - 0.5, -0.5)


def _lane_label(lane: Lane, one_host: bool) -> str:
    host, pid = lane
    return f"pid {pid}" if one_host else f"{cut_middle(host, HOST_CHARS)}:{pid}"


def _height(lanes: int) -> float:
    """The figure's height: room for each lane, within bounds."""
    return min(MAX_HEIGHT_INCHES, max(MIN_HEIGHT_INCHES, 1.9 + LANE_INCHES * lanes))


def _host_note(lanes: dict[Lane, int]) -> str | None:
    """ "on host gpu-3" when every process ran there (the lanes then say only the pid)."""
    hosts = {host for host, _ in lanes}
    return f"on host {cut_middle(hosts.pop())}" if len(hosts) == 1 else None


def _left_out(trials: Sequence[TrialRecord], drawn: Sequence[TrialRecord]) -> str | None:
    """What is not drawn, or drawn without a length, and why: "not drawn: 2 queued, 3
    without a worker process (imported); 1 without an end time, drawn at its start"."""
    queued = sum(t.state is TrialState.QUEUED for t in trials)
    ran = [t for t in trials if t.state is not TrialState.QUEUED]
    nowhere = sum(_lane(t) is None for t in ran)
    unstarted = sum(_lane(t) is not None and t.started is None for t in ran)
    counts = [
        f"{n} {what}"
        for n, what in (
            (queued, "queued"),
            (nowhere, "without a worker process (imported)"),
            (unstarted, "without a start time"),
        )
        if n
    ]
    notes = [f"not drawn: {', '.join(counts)}"] if counts else []
    endless = sum(t.state is not TrialState.RUNNING and t.finished is None for t in drawn)
    if endless:
        notes.append(
            f"{endless} without an end time, drawn at {'its' if endless == 1 else 'their'} start"
        )
    return "; ".join(notes) or None
