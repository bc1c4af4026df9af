"""The figure class of every plot: a matplotlib ``Figure`` that Jupyter and IPython show
as an image. Imported only when a plot is drawn (matplotlib is an optional extra)."""

from __future__ import annotations

import io

from matplotlib.figure import Figure


class InlineFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` with IPython's ``_repr_png_``. Made without
    pyplot, a plain Figure is shown in a notebook only as its text, ``<Figure size
    800x480 with 1 Axes>``, until ``%matplotlib inline`` or a pyplot figure registered
    matplotlib's formatter (which then takes precedence over this one)."""

    def _repr_png_(self) -> bytes:
        stream = io.BytesIO()
        self.savefig(stream, format="png", bbox_inches="tight")
        return stream.getvalue()
