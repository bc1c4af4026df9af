"""``hpotrack plot``: a figure of a study to an image file (hpotrack.plots, matplotlib)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import click

from hpotrack import plots
from hpotrack.cli.common import FileName, cli, study_of, user_errors
from hpotrack.progress import Counter
from hpotrack.text import cut, plural


@cli.command()
@click.argument("study")
@click.option(
    "--kind",
    type=click.Choice(plots.KINDS),
    default="history",
    show_default=True,
    help="What to draw (see above).",
)
@click.option(
    "-o",
    "--output",
    type=FileName(dir_okay=False),
    required=True,
    help="Image file to write, atomically: .png, .pdf or .svg.",
)
@click.pass_context
@user_errors
def plot(ctx: click.Context, study: str, kind: str, output: Path) -> None:
    """Draw a figure of STUDY to an image file (PNG, PDF or SVG).

    Needs matplotlib: pip install "hpotrack[plots]". The kinds:

    \b
    history     the objective per trial, the best so far, pruned and failed marked
    curves      intermediate values per trial by state, rung budgets marked
    params      parallel coordinates of the parameters, coloured by the objective
    slice       the objective against each parameter's values, coloured by trial
    importance  each parameter's share of the objective's variance (fANOVA)
    pareto      several objectives: every trial's values, the Pareto front
                highlighted (two: joined by the region it dominates)
    lineage     PBT: members' segments over steps and exploit jumps;
                else the parent -> child graph by trial number
    timeline    each trial as a bar from start to end, a row per worker
                process (host:pid), coloured by state

    On a study of several objectives, history, params, slice and importance
    draw the first objective, and say so in their labels.
    """
    plots.require_matplotlib()
    opened = study_of(ctx, study)
    count = len(opened.trials)
    with Counter(f"plot {kind}", count) as progress, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        plots.save(opened, kind, output, progress=progress.advance)
    click.echo(
        f"wrote the {kind} plot of study {opened.name!r} ({plural(count, 'trial')}) to {output}"
    )
    _missing_glyphs(seen, output)


# matplotlib's warning for each character its font cannot draw, one per character and draw;
# before matplotlib 3.9 it names no font: "Glyph 23398 (...) missing from current font."
GLYPH = re.compile(r"Glyph (\d+) .*missing from (?:font\(s\) (.+?)|current font)\.?$")


def _missing_glyphs(seen: list[warnings.WarningMessage], output: Path) -> None:
    """One line for the characters (of study, parameter or metric names) that the font
    could not draw, instead of matplotlib's warning per character and draw, each with
    its source line (30 lines for a name in Chinese); other warnings as they came."""
    missing: dict[str, str] = {}
    for warning in seen:
        found = GLYPH.match(str(warning.message))
        if found is None:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        else:
            missing.setdefault(chr(int(found.group(1))), found.group(2) or _current_font())
    if missing:
        fonts = ", ".join(sorted(set(missing.values())))
        click.echo(
            f"note: the font {fonts} cannot draw {cut(''.join(missing), 20)}: those characters "
            f"show as boxes in {output}; to draw them, add a font that has them to "
            "matplotlib's font.family (in a matplotlibrc file)",
            err=True,
        )


def _current_font() -> str:
    """The font matplotlib draws text in by default, which its warnings before 3.9 call
    "current font" without naming it."""
    from matplotlib.font_manager import FontProperties

    return str(FontProperties().get_name())
