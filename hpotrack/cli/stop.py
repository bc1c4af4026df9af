"""``hpotrack stop``: ask every process running a study to start no more trials.

The request is a count in the study's row (:meth:`hpotrack.study.Study.stop`), which
each ask of a run reads with the trials it reads anyway: the processes need not be
children of one parent, nor on a terminal anyone can reach, and each finishes and
stores the trials it is running. ``--wait`` then waits until none is running.
"""

from __future__ import annotations

import shlex
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
    "do not count; those of a run begun after the stop do).",
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
    running, gone = _running(opened)
    name = opened.name
    if not running:
        click.echo(f"asked the runs of study {name!r} to stop; none of its trials is running{gone}")
        return
    trials = _listed(running)
    if not wait:
        click.echo(
            f"asked the runs of study {name!r} to stop: they start no more trials, and "
            f"finish the {trials} first (--wait waits for them){gone}"
        )
        return
    try:  # from the line that says it waits: Ctrl-C right after it ends the wait too
        click.echo(
            f"asked the runs of study {name!r} to stop; waiting for the {trials} to finish{gone}"
        )
        while running:
            time.sleep(WAIT_POLL_S)
            running, _ = _running(opened)
    except KeyboardInterrupt:  # the request stands: say so, not click's "Aborted!"
        click.echo(
            f"stopped waiting; the request stands: the runs of study {name!r} start no "
            f"more trials and finish the {_listed(running)} (hpotrack show "
            f"{shlex.quote(name)} shows them)",
            err=True,
        )
        ctx.exit(130)  # what a shell reports for Ctrl-C
    click.echo(f"study {name!r} has no trial running")


def _listed(running: list[int]) -> str:
    """``2 running trials (4, 5)``."""
    return f"{plural(len(running), 'running trial')} ({', '.join(map(str, running))})"


def _running(study: Study) -> tuple[list[int], str]:
    """The numbers of the study's running trials whose worker is alive, and what to say
    of those whose worker is gone ('' when none is): they stay running until an ask of a
    run finds them, as nobody would finish them."""
    running = study.refresh().unfinished(TrialState.RUNNING)
    gone = sorted(trial.number for trial, _ in lost.find(study.store, study.id, running))
    alive = [number for number in running if number not in gone]
    if not gone:
        return alive, ""
    numbers = ", ".join(map(str, gone))
    said = (
        f" (trial {numbers} reads running, but its worker is gone: the study's next run "
        "marks it lost and retries it)"
        if len(gone) == 1
        else f" (trials {numbers} read running, but their workers are gone: the study's "
        "next run marks them lost and retries them)"
    )
    return alive, said
