"""A study's parameter importance: each parameter's share of the objective's variance by
fANOVA on a random forest (Hutter et al. 2014), as ``hpotrack plot --kind importance``
draws it. Its own page, computed when asked: a forest over 10,000 trials takes a second,
too long to redo at every commit of a running study."""

from __future__ import annotations

import time

from hpotrack.dashboard.layout import Html, esc, link, url
from hpotrack.importance import ESTIMATOR
from hpotrack.plots.common import PlotError
from hpotrack.plots.importance_plot import importance_summary
from hpotrack.study import Study


def importance(opened: Study) -> Html:
    """The shares as a table of bars, largest first, or why there are none yet."""
    title = f"<h1>Parameter importance of {esc(opened.name)}</h1>"
    try:
        summary = importance_summary(opened)
    except PlotError as exc:
        return Html(f"{title}<p>{esc(exc)}</p>")
    order = sorted(summary.shares, key=lambda name: -summary.shares[name][0])
    rows = "".join(_row(opened, name, *summary.shares[name]) for name in order)
    computed = time.strftime("%H:%M:%S")
    again = link("compute again", url("/importance", name=opened.name))
    return Html(
        f"{title}<p class=note>{esc(ESTIMATOR)}, over {esc(summary.where)}: each "
        f"parameter's share of the variance of {esc(opened.objective)} (its main effect, "
        f"± the standard deviation over the forest's trees). Computed at {computed}, "
        f"not live: {again} after more trials.</p>"
        "<table><thead><tr><th>parameter</th><th class=num>share</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<p>interactions and the rest: {summary.rest:.0%}</p>"
    )


def _row(opened: Study, name: str, share: float, spread: float) -> str:
    conditional = " (where active)" if opened.space[name].when is not None else ""
    width = max(0.0, min(1.0, share)) * 100
    bar = f'<div class="bar"><span style="width:{width:.1f}%"></span></div>'
    return (
        f"<tr><td>{esc(name + conditional)}</td>"
        f"<td class=num>{share:.0%} ± {spread:.0%}</td><td>{bar}</td></tr>"
    )
