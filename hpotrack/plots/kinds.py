"""The plot kinds by name: :func:`figure` draws one, :func:`save` writes it to an image
file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hpotrack.files import folder_problem, write_replacing
from hpotrack.plots.common import PlotError, Progress, require_matplotlib
from hpotrack.plots.curves_plot import curves
from hpotrack.plots.history_plot import history
from hpotrack.plots.importance_plot import importance
from hpotrack.plots.lineage_plot import lineage
from hpotrack.plots.params_plot import params
from hpotrack.plots.pareto_plot import pareto
from hpotrack.plots.slice_plot import slices
from hpotrack.plots.timeline_plot import timeline
from hpotrack.study import Study

if TYPE_CHECKING:
    from matplotlib.figure import Figure

KINDS = ("history", "curves", "params", "slice", "importance", "pareto", "lineage", "timeline")
FORMATS = ("png", "pdf", "svg")
DRAW: dict[str, Callable[..., Figure]] = {  # kind -> the function that draws it
    "history": history,
    "curves": curves,
    "params": params,
    "slice": slices,
    "importance": importance,
    "pareto": pareto,
    "lineage": lineage,
    "timeline": timeline,
}


def figure(study: Study, kind: str, *, progress: Progress | None = None) -> Figure:
    """The figure of ``kind`` (one of :data:`KINDS`) for ``study``."""
    draw = DRAW.get(kind)
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
    problem = folder_problem(target)
    if problem is not None:
        raise PlotError(f"cannot write {target}: {problem}")
    drawn = figure(study, kind, progress=progress)
    try:
        write_replacing(
            target, lambda stream: drawn.savefig(stream, format=fmt, dpi=dpi), text=False
        )
    except OSError as exc:
        raise PlotError(f"cannot write {target}: {exc.strerror or exc}") from None
    return target
