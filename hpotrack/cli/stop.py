"""``hpotrack stop``: ask every process running a study to start no more trials.

The request is a count in the study's row (:meth:`hpotrack.study.Study.stop`), which
each ask of a run reads with the trials it reads anyway: the processes need not be
children of one parent, nor on a terminal anyone can reach, and each finishes and
stores the trials it is running. ``--wait`` then waits until none is running.
"""

from __future__ import annotations

import time

import click

from hpotrack import lost
from hpotrack.cli.common import cli, study_of, user_errors
from hpotrack.records import TrialState
from hpotrack.study import Study
from hpotrack.text import plural

WAIT_POLL_S = 0.2  # how often --wait looks at the running trials


@cli.command()
@click.argument("study")
@click.option(
    "--wait",
    is_flag=True,
    help="Return once no trial of the study is running (those of a worker that is gone "
    "do not count).",
)
@click.pass_context
@user_errors
def stop(ctx: click.Context, study: str, wait: bool) -> None:
    """Ask every run of STUDY to start no more trials.

    Every process running the study (optimize(), hpotrack resume, each worker of
    n_jobs), on this machine, started from any terminal, finishes the trials it is
    running, stores them and returns. A run begun after this is not affected: hpotrack
    resume STUDY goes on with the study.
    """
    opened = study_of(ctx, study)
    opened.stop()
    running = _alive(opened)
    name = opened.name
    if not running:
        click.echo(f"asked the runs of study {name!r} to stop; none of its trials is running")
        return
    trials = plural(len(running), "running trial")
    if not wait:
        click.echo(
            f"asked the runs of study {name!r} to stop: they start no more trials, and "
            f"finish the {trials} ({', '.join(map(str, running))}) first (--wait waits "
            "for them)"
        )
        return
    click.echo(f"asked the runs of study {name!r} to stop; waiting for the {trials} to finish")
    while running:
        time.sleep(WAIT_POLL_S)
        running = _alive(opened)
    click.echo(f"study {name!r} has no trial running")


def _alive(study: Study) -> list[int]:
    """The numbers of the study's running trials whose worker is alive (one whose worker
    is gone stays running until an ask of a run finds it: nobody would finish it)."""
    running = study.refresh().unfinished(TrialState.RUNNING)
    gone = {trial.number for trial, _ in lost.find(study.store, study.id, running)}
    return [number for number in running if number not in gone]
