"""The figure class of every plot: a matplotlib ``Figure`` that Jupyter and IPython show
as an image. Imported only when a plot is drawn (matplotlib is an optional extra)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure

from hpotrack.notebook import shows_images
from hpotrack.plots.common import PlotError


class InlineFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` with IPython's ``_repr_png_``. Made without
    pyplot, a plain Figure is shown in a notebook only as its text, ``<Figure size
    800x480 with 1 Axes>``, until ``%matplotlib inline`` or a pyplot figure registered
    matplotlib's formatter (which then takes precedence over this one)."""

    def _repr_png_(self) -> bytes:
        stream = io.BytesIO()
        self.savefig(stream, format="png", bbox_inches="tight")
        return stream.getvalue()

    def show(self, warn: bool = True) -> None:
        """Display the figure in the notebook, as ``fig.show()`` does for a pyplot or
        plotly figure there (matplotlib refuses a figure made without pyplot: an
        AttributeError). Elsewhere there is no window to open: a :class:`PlotError` says
        how to see it. ``warn`` is matplotlib's, kept so that a call written for a pyplot
        figure works."""
        if not shows_images():
            raise PlotError(
                "fig.show() displays a hpotrack figure only in a notebook (it is drawn "
                'without pyplot, so no window opens): write it with fig.savefig("plot.png") '
                'or hpotrack.plots.save(study, "history", "plot.png")'
            )
        from IPython.display import display

        display(self)  # type: ignore[no-untyped-call]
