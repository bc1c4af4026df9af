"""``hpotrack stop``: ask every process running a study to start no more trials.

The request is a count in the study's row (:meth:`hpotrack.study.Study.stop`), which
each ask of a run reads with the trials it reads anyway: the processes need not be
children of one parent, nor on a terminal anyone can reach, and each finishes and
stores the trials it is running. ``--wait`` then waits until none is running.
"""

from __future__ import annotations

import os
import shlex
import signal
import time

import click

from hpotrack import lost
from hpotrack.cli.common import cli, study_of, user_errors
from hpotrack.provenance import hostname
from hpotrack.records import TrialState
from hpotrack.recovery import lost_reason
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
@click.option(
    "--now",
    is_flag=True,
    help="Also interrupt the running trials: each process running one on this machine "
    "gets SIGTERM, stores its trial as interrupted (run again first when the study "
    "resumes) and stops.",
)
@click.pass_context
@user_errors
def stop(ctx: click.Context, study: str, wait: bool, now: bool) -> None:
    """Ask every run of STUDY to start no more trials.

    Every process running the study (optimize(), hpotrack resume, each worker of
    n_jobs), on this machine, started from any terminal, finishes the trials it is
    running, stores them and returns; with --now it interrupts them instead. A run
    begun after this is not affected: hpotrack resume STUDY goes on with the study.
    """
    opened = study_of(ctx, study)
    opened.stop()
    running, gone = _running(opened)
    name = opened.name
    if not running:
        click.echo(f"asked the runs of study {name!r} to stop; none of its trials is running{gone}")
        return
    trials = _listed(running)
    ending = "to stop" if now else "to finish"  # interrupted, or finished
    if now:
        click.echo(f"asked the runs of study {name!r} to stop; {_interrupted(opened, running)}")
    if not wait:
        click.echo(
            f"their processes store the {trials} as interrupted and stop (--wait waits for "
            f"them){gone}"
            if now
            else f"asked the runs of study {name!r} to stop: they start no more trials, and "
            f"finish the {trials} first (--wait waits for them){gone}"
        )
        return
    try:  # from the line that says it waits: Ctrl-C right after it ends the wait too
        asked = "" if now else f"asked the runs of study {name!r} to stop; "
        click.echo(f"{asked}waiting for the {trials} {ending}{gone}")
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


def _interrupted(study: Study, running: list[int]) -> str:
    """Send SIGTERM to the process of each of the ``running`` trials on this machine
    (the one that claimed it, alive: :func:`hpotrack.recovery.lost_reason`), which
    stores its trial as interrupted and stops; what was done, and which trials run on
    another machine, where no signal reaches."""
    rows = study.store.running(study.id, running)
    here = [r for r in rows if r.host == hostname() and r.pid is not None]
    signalled: dict[int, list[int]] = {}
    for row in here:
        if row.pid is None or row.pid == os.getpid() or lost_reason(row, time.time()):
            continue
        try:
            os.kill(row.pid, signal.SIGTERM)
        except ProcessLookupError:  # it ended meanwhile
            continue
        signalled.setdefault(row.pid, []).append(row.number)
    said = [
        f"sent SIGTERM to process {pid} (trial {', '.join(map(str, numbers))})"
        for pid, numbers in sorted(signalled.items())
    ]
    elsewhere = [f"trial {r.number} on {r.host}" for r in rows if r not in here]
    if elsewhere:
        said.append(
            f"{', '.join(elsewhere)} run on another machine, where no signal reaches: "
            "they finish first"
        )
    return "; ".join(said) if said else "no running trial's process was found on this machine"
