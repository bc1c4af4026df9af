"""What every plot kind shares: the error, the matplotlib check, reading a study's trials
and their values, which of them miss the study's constraints, and a figure made without
pyplot."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from hpotrack.errors import HpotrackError, MissingDependency
from hpotrack.lineage import best_result
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import cut_middle

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import PathCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure, SubFigure
    from matplotlib.legend import Legend

INSTALL = 'pip install "hpotrack[plots]"'
STATE_COLOURS = {
    TrialState.COMPLETE: "C0",
    TrialState.PRUNED: "C1",
    TrialState.FAILED: "C3",
    TrialState.RUNNING: "0.55",
    TrialState.QUEUED: "0.75",
}
Progress = Callable[[int], None]
RGBA = tuple[float, float, float, float]
DRAWABLE = 1e300
"""Largest magnitude drawn: an axis spanning beyond the float range breaks matplotlib, and
values this large are diverged runs (treated like NaN and infinity: counted, not drawn)."""
BEYOND_DRAWABLE = "beyond ±1e300"
MIN_ALPHA = 0.02  # of a line among very many: lower, antialiased lines vanish
PARAM_CHARS = 16  # a parameter's name on a tick: about the 1.5 inch between parallel axes
TITLE_CHARS_PER_INCH = 12  # characters of a medium-size title that fit in an inch of figure
BEST_PLACE_POINTS = 2000
"""Most points drawn on an axes whose legend goes where it hides the fewest of them:
matplotlib weighs every place against every point, at each layout pass and draw (2 of
the 6 s of CPU of plotting the history of 100,000 trials). Beyond, it goes below the axes."""


class PlotError(HpotrackError):
    """A plot cannot be drawn or written (the message says why and what to do)."""


def require_matplotlib() -> None:
    """A :class:`PlotError` naming the extra to install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        missing = f"plots need matplotlib, which is not installed: {INSTALL}"
        raise MissingDependency(missing) from None


# --- trials ------------------------------------------------------------------------------------


def read_trials(study: Study, progress: Progress | None = None) -> list[TrialRecord]:
    """The study's trials (a PlotError if none, or without matplotlib); counted as read
    when ``progress`` is given."""
    require_matplotlib()
    trials = study.trials
    if not trials:
        raise PlotError(f"study {study.name!r} has no trials yet: nothing to plot")
    if progress is not None:
        progress(len(trials))
    return trials


def complete(trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    return [t for t in trials if t.state is TrialState.COMPLETE and has_value(t)]


def require_complete(study: Study, trials: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The complete trials with a value to draw; a PlotError saying why there is none."""
    done = complete(trials)
    if done:
        return done
    beyond = sum(t.state is TrialState.COMPLETE for t in trials)
    if beyond:
        raise PlotError(
            f"study {study.name!r} has no value to plot: its {beyond} complete trials all "
            f"diverged (values {BEYOND_DRAWABLE})"
        )
    raise PlotError(f"study {study.name!r} has no complete trial yet: nothing to plot")


def diverged_note(trials: Sequence[TrialRecord]) -> str:
    """' (and k diverged ...)' for complete trials whose values are left out, else ''."""
    beyond = sum(t.state is TrialState.COMPLETE and not has_value(t) for t in trials)
    return f" (and {beyond} diverged {BEYOND_DRAWABLE})" if beyond else ""


def has_value(trial: TrialRecord) -> bool:
    """Whether the trial has a value that can be drawn (see :data:`DRAWABLE`)."""
    return trial.value is not None and abs(trial.value) <= DRAWABLE


def value_of(trial: TrialRecord) -> float:
    assert trial.value is not None
    return float(trial.value)


def first_of(study: Study) -> str:
    """The note after the objective's name in a study of several objectives, " (first
    of 2 objectives)", else "": the kinds that draw one value per trial draw its
    ``value``, the first objective's (:attr:`Study.objective`); ``pareto`` draws all."""
    count = len(study.objectives)
    return f" (first of {count} objectives)" if count > 1 else ""


def best_label(study: Study, best: TrialRecord) -> str:
    """The key of the best trial marked: "best (#7)", or with several objectives, where
    no one trial is best, "best f1 (#7)": the best of the first objective drawn."""
    name = f" {cut_middle(study.objective, PARAM_CHARS)}" if len(study.objectives) > 1 else ""
    return f"best{name} (#{best.number})"


def best_index(
    trials: Sequence[TrialRecord],
    done: Sequence[TrialRecord],
    values: npt.NDArray[np.float64],
    direction: str,
    infeasible: Collection[int] = frozenset(),
) -> int | None:
    """The position in ``done`` (complete trials, with their ``values``) of the study's
    best result, as :attr:`Study.best` says: the best value among the trials whose numbers
    are not ``infeasible`` (:func:`infeasible_numbers`), but in a population (PBT) the
    best member's latest segment, as ``hpotrack best`` says, not a segment its member
    trained on from. None when every one of ``done`` misses a constraint."""
    allowed = np.array([t.number not in infeasible for t in done], dtype=bool)
    if not allowed.any():
        return None
    signed = values if direction == "minimize" else -values
    best = int(np.argmin(np.where(allowed, signed, np.inf)))  # the first on a tie
    kept = best_result(trials, done[best], direction)
    return next((i for i, t in enumerate(done) if t is kept), best)


# --- constraints -------------------------------------------------------------------------------

MISSES = "misses a constraint"
"""The legend's key of the complete trials that miss a constraint, drawn hollow."""


def infeasible_numbers(study: Study, trials: Iterable[TrialRecord]) -> frozenset[int]:
    """The numbers of the complete ``trials`` that miss one of the study's constraints
    (``not study.is_feasible(trial)``, read from each trial's metrics here rather than
    by a query per trial); empty for a study without constraints."""
    optimizing = study.optimizing
    if not optimizing.constrained:
        return frozenset()
    return frozenset(
        t.number
        for t in trials
        if t.state is TrialState.COMPLETE and optimizing.violation(t.metrics) > 0.0
    )


def misses_label(count: int, note: str = "") -> str:
    """The key of ``count`` trials drawn hollow: "misses a constraint (3)", with a
    ``note`` after the count ("; 1 diverged, not drawn")."""
    return f"{MISSES} ({count}{note})"


def constraint_note(
    study: Study, trials: Iterable[TrialRecord], infeasible: Collection[int]
) -> str | None:
    """The title's note of a study with constraints: "subject to latency <= 10", or when
    none of the complete ``trials`` meets them (all are ``infeasible``), "no trial meets
    the constraints yet (latency <= 10)": why no best is marked. None without them."""
    if not study.optimizing.constrained:
        return None
    rules = study.optimizing.describe_constraints()
    if any(t.state is TrialState.COMPLETE and t.number not in infeasible for t in trials):
        return f"subject to {rules}"
    return f"no trial meets the constraints yet ({rules})"


def hollow(
    ax: Axes,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    colours: str | Sequence[RGBA],
    label: str,
    size: float = 18,
) -> PathCollection:
    """The trials that miss a constraint: rings of their ``colours`` (one, or one per
    point), hollow where the others are filled, so they read as tried but no answer."""
    return ax.scatter(x, y, s=size, facecolors="none", edgecolors=colours, linewidths=1.0,
                      label=label, zorder=2)  # fmt: skip


# --- figures -----------------------------------------------------------------------------------


def new_figure(width: float, height: float) -> Figure:
    """An empty figure on an Agg canvas (no pyplot), shown inline in a notebook."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from hpotrack.plots.inline import InlineFigure

    fig = InlineFigure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def new_axes(width: float = 8.0, height: float = 4.8) -> tuple[Figure, Axes]:
    """A figure on an Agg canvas (no pyplot) with one Axes, shown inline in a notebook."""
    fig = new_figure(width, height)
    return fig, fig.add_subplot()


def legend(ax: Axes, *, below: bool = False) -> Legend:
    """The legend of ``ax``'s labelled artists: inside, where it hides the fewest points,
    or below the axes when they hold more than :data:`BEST_PLACE_POINTS` (thousands of
    points leave no free place to find, and finding one took seconds) or when ``below``
    (a figure whose shapes fill the axes, such as the timeline's bars)."""
    if not below and drawn_points(ax) <= BEST_PLACE_POINTS:
        return ax.legend(loc="best", fontsize="small")
    keys = len(ax.get_legend_handles_labels()[1])
    return ax.figure.legend(loc="outside lower center", ncols=min(keys, 4) or 1, fontsize="small")


MARK_COLOUR = "C3"
"""The colour that marks the answer in every figure: the best trial, the Pareto front."""


def ring(ax: Axes, x: npt.ArrayLike, y: npt.ArrayLike, label: str, size: float = 70) -> None:
    """Circle the points (x, y) in :data:`MARK_COLOUR` above the others, as ``label``:
    the trials that are the study's answer, drawn over their own dots."""
    ax.scatter(x, y, s=size, facecolors="none", edgecolors=MARK_COLOUR, linewidths=1.5,
               zorder=4, label=label)  # fmt: skip


def drawn_points(ax: Axes) -> int:
    """How many points the scatters (and line vertices) on ``ax`` draw."""
    arrays = [c.get_offsets() for c in ax.collections] + [line.get_xydata() for line in ax.lines]
    return sum(int(np.shape(points)[0]) for points in arrays)


def title(ax: Axes, main: str, *details: str | None) -> None:
    """A title, and a line under it for each of the ``details`` that is not None (the
    note on a study's constraints has its own, so a long detail does not cut it); each
    line cut to what fits the figure's width (:func:`hpotrack.text.cut_middle`)."""
    ax.set_title(_fitted(ax.figure, main, details), fontsize="medium")


def figure_title(fig: Figure, main: str, *details: str | None) -> None:
    """:func:`title` over the whole figure, for a grid of panels that each have their own."""
    fig.suptitle(_fitted(fig, main, details), fontsize="medium")


def _fitted(fig: Figure | SubFigure, main: str, details: Sequence[str | None]) -> str:
    """The title's lines, each cut to what fits the figure's width."""
    fits = int(TITLE_CHARS_PER_INCH * fig.bbox.width / fig.dpi)
    return "\n".join(cut_middle(line, fits) for line in (main, *details) if line is not None)


def whole_x(ax: Axes) -> None:
    """x ticks at whole numbers only: trial numbers and steps (one trial had ticks at
    -0.4, -0.2, ..., and steps 1 to 5 at 1.5, 2.5, ...)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))


def is_wide(values: Sequence[float]) -> bool:
    """Whether every value is positive and they span more than 3 decades: on a linear
    axis all but the largest would lie on one line, so they are drawn on a log scale."""
    return bool(len(values)) and min(values) > 0 and max(values) / min(values) > 1e3


def is_wide_below_zero(values: Sequence[float]) -> bool:
    """Whether every value is negative and their magnitudes are :func:`is_wide` (a
    maximized negative error or log-likelihood, -1e6 to -0.1)."""
    return is_wide([-value for value in values])


def faint(count: int) -> float:
    """The alpha of each of ``count`` overlapping lines: fainter the more there are, so
    where many run the colour is dense and where few run it is light (20,000 curves at
    0.15 filled their whole envelope with one solid colour)."""
    return 0.8 if count <= 50 else max(MIN_ALPHA, 0.8 * math.sqrt(50 / count))


def log_if_wide(ax: Axes, values: Sequence[float]) -> None:
    """A log y axis when the values are :func:`is_wide`; when they are
    :func:`is_wide_below_zero`, a symmetric log axis whose linear part lies above them
    all, so it is a log scale of their magnitudes (-10^6 ... -10^-1, best on top)."""
    if is_wide(values):
        ax.set_yscale("log")
    elif is_wide_below_zero(values):
        ax.set_yscale("symlog", linthresh=-max(values))
        ax.autoscale_view(scalex=False)  # the linear limits stay otherwise: 5% above 0


def mapped_colours(cmap: str, norm: Normalize, values: npt.ArrayLike) -> list[RGBA]:
    """The colours of ``values`` on colour map ``cmap`` scaled by ``norm``, for points
    drawn :func:`hollow`, whose rings a scatter's own colour mapping cannot colour."""
    from matplotlib import colormaps

    rgba = np.asarray(colormaps[cmap](norm(values)), dtype=np.float64)
    return [(r, g, b, a) for r, g, b, a in rgba.tolist()]
