"""``hpotrack plot``: a figure of a study to an image file (hpotrack.plots, matplotlib)."""

from __future__ import annotations

from pathlib import Path

import click

from hpotrack import plots
from hpotrack.cli.common import cli, study_of, user_errors
from hpotrack.progress import Counter
from hpotrack.text import plural


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
    type=click.Path(dir_okay=False, path_type=Path),
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
    importance  each parameter's share of the objective's variance (fANOVA)
    lineage     PBT: members' segments over steps and exploit jumps;
                else the parent -> child graph by trial number
    """
    plots.require_matplotlib()
    opened = study_of(ctx, study)
    count = len(opened.trials)
    with Counter(f"plot {kind}", count) as progress:
        plots.save(opened, kind, output, progress=progress.advance)
    click.echo(
        f"wrote the {kind} plot of study {opened.name!r} ({plural(count, 'trial')}) to {output}"
    )
