"""The params figure: parallel coordinates of the parameters in the unit-cube encoding the
methods use and the objective, each line coloured by its value (Inselberg 1985); trials
that miss one of the study's constraints grey and dashed, never the best."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hpotrack.params import Choice
from hpotrack.plots.common import (
    PARAM_CHARS,
    Progress,
    best_index,
    best_label,
    constraint_note,
    first_of,
    infeasible_numbers,
    is_wide,
    is_wide_below_zero,
    misses_label,
    new_axes,
    read_trials,
    require_complete,
    title,
    value_of,
)
from hpotrack.records import TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import cut, cut_middle, plural

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

TEXT: dict[str, Any] = {  # a label on lines: small, on a light box
    "fontsize": 7,
    "va": "center",
    "zorder": 5,
    "bbox": {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
}


MAX_WIDTH = 20.0  # inches: 30 parameters drew a 48-inch strip no viewer shows readably
MAX_OPTION_LABELS = 16  # a Choice's options labelled on its axis; of more, every k-th
LABEL_CHARS = 12  # a value's label beside its axis
INACTIVE_ROW = -0.1  # where a line crosses the axis of a parameter its trial left inactive


def params(study: Study, *, progress: Progress | None = None) -> Figure:
    """Parallel coordinates: one vertical axis per parameter (its unit-cube encoding, with
    its values labelled) and one for the objective; a line per complete trial coloured by
    its value, the best in red, pruned trials in grey underneath; complete trials that
    miss a constraint dashed in grey, and the best the best of those that meet them. With
    several objectives, the first (each trial's ``value``), as the colour bar and the
    best's key say."""
    trials = read_trials(study, progress)
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection

    done = require_complete(study, trials)
    names = list(study.space)
    values = np.array([value_of(t) for t in done])
    low, high = float(values.min()), float(values.max())
    log = is_wide(values.tolist())  # linear, 1e-10 to 1e11 put 18 of 20 lines at the bottom
    negative = is_wide_below_zero(values.tolist())  # and -1e6 to -0.1 all but one at the top
    position = np.log10(values) if log else -np.log10(-values) if negative else values
    ends = (float(position.min()), float(position.max()))
    scaled = (position - ends[0]) / (ends[1] - ends[0]) if high > low else np.full(len(values), 0.5)
    cube = _cube(study, done)
    x = np.arange(len(names) + 1, dtype=np.float64)
    fig, ax = new_axes(width=min(MAX_WIDTH, max(7.0, 1.5 * len(x) + 1.5)))
    pruned = [t for t in trials if t.state is TrialState.PRUNED]
    if pruned:
        grey = _cube(study, pruned)
        segments = [np.column_stack([x[:-1], row]) for row in grey]
        label = f"pruned ({len(pruned)}, no objective axis)"
        grey_lines = LineCollection(segments, colors="0.8", linewidths=0.6, zorder=1, label=label)
        ax.add_collection(grey_lines)
    segments = [np.column_stack([x, [*row, v]]) for row, v in zip(cube, scaled, strict=True)]
    infeasible = infeasible_numbers(study, done)
    misses = np.array([t.number in infeasible for t in done], dtype=bool)
    if misses.any():  # on the objective's axis, but in no colour of it: they are no answer
        label = misses_label(int(misses.sum()))
        dashed = [segments[i] for i in np.flatnonzero(misses)]
        ax.add_collection(LineCollection(dashed, colors="0.6", linewidths=0.8, linestyles="--",
                                         zorder=1, label=label))  # fmt: skip
    norm = _colour_scale(low, high, log=log, negative=negative)
    # the best drawn last, on top: in trial order, 5,000 lines buried the good region
    worst_first = np.argsort(-values if study.direction == "minimize" else values, kind="stable")
    worst_first = worst_first[~misses[worst_first]]
    lines = LineCollection(
        [segments[i] for i in worst_first],
        array=values[worst_first],
        cmap=_cmap(study.direction),
        norm=norm,
        linewidths=1,
    )
    lines.set_alpha(0.8 if len(done) <= 100 else 0.4)
    ax.add_collection(lines)
    best = best_index(trials, done, values, study.direction, infeasible)
    if best is not None:
        ax.plot(x, segments[best][:, 1], color="C3", lw=2.2, label=best_label(study, done[best]))
    if high > low:  # a constant objective has no range: a colour bar would invent one
        # its own mappable: the lines' faintness (over 100 trials) paled the whole scale
        scale = ScalarMappable(norm, lines.get_cmap())
        label = cut_middle(study.objective) + first_of(study)
        fig.colorbar(scale, ax=ax, label=label, pad=0.01)
    _param_axes(ax, study, names, x, (low, high))
    rules = constraint_note(study, trials, infeasible)
    title(
        ax,
        f"{cut_middle(study.name)}: parameters of {plural(len(done), 'complete trial')}",
        _cube_note(study, log or negative),
        rules,
    )
    fig.legend(loc="outside lower center", ncols=2, fontsize="small")
    return fig


def _cube(study: Study, trials: list[TrialRecord]) -> npt.NDArray[np.float64]:
    """The trials' points of the unit cube, a conditional parameter's "inactive" mark
    below its axis's range where the trial left it inactive (the encoding's 0.5 is a
    value it never had, and a gap would cut the line off from its objective)."""
    cube = study.space.encode_many([t.params for t in trials])
    if study.space.is_conditional:
        cube[study.space.inactive_mask(cube)] = INACTIVE_ROW
    return cube


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
            every = math.ceil(n / MAX_OPTION_LABELS)  # 60 options' labels were one black bar
            shown = range(0, n, every)
            labels = option_labels([param.options[i] for i in shown])
            ticks = [((i + 0.5) / n, label) for i, label in zip(shown, labels, strict=True)]
        else:
            ticks = [(u, _label(param.decode(u))) for u in (0.0, 0.5, 1.0)]
        if param.when is not None:
            ticks.append((INACTIVE_ROW, "inactive"))
        for u, label in ticks:
            ax.text(position + 0.03, u, label, **TEXT)
    low, high = value_range
    ends = ((0.0, low), (1.0, high)) if high > low else ((0.5, low),)
    for u, value in ends:
        ax.text(x[-1] + 0.03, u, _label(value), **TEXT)
    labels = [cut_middle(label, PARAM_CHARS) for label in (*names, study.objective)]
    crowded = len(x) > MAX_WIDTH / 1.5  # under 1.5 inch apart: steep names, right-aligned
    rotation = 45 if crowded else 20 if len(x) > 6 else 0
    ax.set_xticks(x, labels, rotation=rotation, ha="right" if rotation else "center")
    ax.set_xlim(-0.1, x[-1] + 0.45)
    ax.set_ylim(INACTIVE_ROW - 0.04 if study.space.is_conditional else -0.04, 1.04)
    ax.set_yticks([])
    ax.set_ylabel("position in the parameter's range")


def _label(value: object, shorten: Callable[[str, int], str] = cut) -> str:
    """A value beside an axis: a float to 3 digits, anything else ``shorten``-ed."""
    if isinstance(value, float):
        return f"{value:.3g}"
    return shorten(str(value), LABEL_CHARS)


def option_labels(options: Sequence[object]) -> list[str]:
    """The labels of a Choice's options, told apart: cut at the end ("resnet18_pr…"), or
    where that makes two alike in the middle ("a_rat…ber_00"), or where that does too from
    where the options start to differ (30 options "a_rather_long_option_name_00" to
    "_29" were all labelled "a_rather_lo…")."""
    for shorten in (cut, cut_middle):
        labels = [_label(option, shorten) for option in options]
        if len(set(labels)) == len(labels):
            return labels
    texts = [str(option) for option in options]
    long = [text for text, label in zip(texts, labels, strict=True) if text != label]
    columns = enumerate(zip(*long, strict=False))  # the i-th character of each cut option
    shared = next((i for i, chars in columns if len(set(chars)) > 1), min(map(len, long)))
    start = "…" if shared else ""
    return [
        label if label == text else cut(start + text[shared:], LABEL_CHARS)
        for label, text in zip(labels, texts, strict=True)
    ]


def _cube_note(study: Study, log_objective: bool) -> str:
    logs = [
        cut_middle(name, PARAM_CHARS) for name, p in study.space.items() if getattr(p, "log", False)
    ]
    if log_objective:
        logs.append(cut_middle(study.objective, PARAM_CHARS))
    scale = f"; log scale: {', '.join(logs)}" if logs else ""
    return f"each axis spans a parameter's range as the methods encode it{scale}"


def _colour_scale(low: float, high: float, *, log: bool, negative: bool) -> Normalize:
    """How values map to colours, as to positions on the objective's axis: by decades
    when they span many (of their size when negative), else linearly."""
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm

    if log:
        return LogNorm(low, high)
    if negative:
        return SymLogNorm(-high, vmin=low, vmax=high)
    return Normalize(low, high)


def _cmap(direction: str) -> str:
    """Bright for good values: viridis reversed when lower is better."""
    return "viridis_r" if direction == "minimize" else "viridis"
