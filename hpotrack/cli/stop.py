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
from pathlib import Path

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
    "resumes) and stops; not one that also runs another study's trial, or that does not "
    "catch SIGTERM (an ask()/tell() loop, a run outside its main thread): it is named.",
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
    signalled: list[int] = []
    if now:
        said, signalled = _interrupted(opened, running)
        click.echo(f"asked the runs of study {name!r} to stop; {said}")
        finishing = [number for number in running if number not in signalled]
        ending = "to stop" if not finishing else "to stop or finish" if signalled else "to finish"
    if not wait:
        click.echo(
            _after_now(signalled, finishing, gone)
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
        left = _listed(running)
        stopping = set(running) & set(signalled)  # what --now signalled stops; the rest finish
        verb = (
            "finish" if not stopping else "stop" if stopping == set(running) else "finish or stop"
        )
        fate = f"{verb} the {left}"
        click.echo(
            f"stopped waiting; the request stands: the runs of study {name!r} start no "
            f"more trials and {fate} (hpotrack show {shlex.quote(name)} shows them)",
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


def _after_now(signalled: list[int], finishing: list[int], gone: str) -> str:
    """What becomes of the running trials after ``--now``: those signalled are stored as
    interrupted, the others (whose process was not signalled) finish."""
    said = []
    if signalled:
        said.append(f"their processes store the {_listed(signalled)} as interrupted and stop")
    if finishing:
        verb = "finishes" if len(finishing) == 1 else "finish"
        said.append(f"the {_listed(finishing)} {verb} first")
    return f"{'; '.join(said)} (--wait waits for them){gone}"


def _interrupted(study: Study, running: list[int]) -> tuple[str, list[int]]:
    """Send SIGTERM to the process of each of the ``running`` trials on this machine
    (the one that claimed it, alive: :func:`hpotrack.recovery.lost_reason`) that stores
    its trial as interrupted when it gets one, and stops; what was done, and the trials
    signalled. Not signalled: a process also running a trial of another study of the
    file (SIGTERM stops the trial of its run, whichever study that is), and one that
    does not catch SIGTERM (:func:`sigterm_disposition`: an ``ask()``/``tell()`` loop,
    a run outside its main thread, a notebook's kernel, which SIGTERM would end without
    storing anything) or ignores it; a trial on another machine, where no signal
    reaches. Those finish first."""
    rows = study.store.running(study.id, running)
    here = [r for r in rows if r.host == hostname() and r.pid is not None]
    now = time.time()
    trials_of: dict[int, list[int]] = {}
    for row in here:
        if row.pid is not None and row.pid != os.getpid() and not lost_reason(row, now):
            trials_of.setdefault(row.pid, []).append(row.number)
    others: dict[int, list[str]] = {}
    for pid, study_name, number in study.store.running_in_processes(hostname(), trials_of):
        if study_name != study.name:
            others.setdefault(pid, []).append(f"trial {number} of study {study_name!r}")
    said: list[str] = []
    signalled: list[int] = []
    for pid, numbers in sorted(trials_of.items()):
        listed = f"trial {', '.join(map(str, numbers))}"
        disposition = sigterm_disposition(pid)
        if pid in others:
            said.append(
                f"process {pid} ({listed}) also runs {', '.join(others[pid])}, which "
                "SIGTERM would stop too: not signalled"
            )
        elif disposition in ("default", "ignored"):
            why = (
                "ignores SIGTERM"
                if disposition == "ignored"
                else "does not catch SIGTERM (an ask()/tell() loop, or a run outside its "
                "main thread), which would end it without storing its trial"
            )
            said.append(f"process {pid} ({listed}) {why}: not signalled")
        else:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:  # it ended meanwhile
                continue
            said.append(f"sent SIGTERM to process {pid} ({listed})")
            signalled += numbers
    elsewhere = [f"trial {r.number} on {r.host}" for r in rows if r not in here]
    if elsewhere:
        said.append(
            f"{', '.join(elsewhere)} run on another machine, where no signal reaches: "
            "they finish first"
        )
    text = "; ".join(said) if said else "no running trial's process was found on this machine"
    return text, sorted(signalled)


def sigterm_disposition(pid: int) -> str | None:
    """What process ``pid`` does with SIGTERM: ``"caught"`` by a handler (a run's, in its
    main thread: :func:`hpotrack.runner.terminated_as_interrupted`), ``"ignored"``, or
    ``"default"`` (it ends), read from the ``SigCgt`` and ``SigIgn`` masks of
    ``/proc/PID/status`` (bit ``signum - 1``, proc(5)); None where there is no ``/proc``
    (macOS), and then the signal is sent."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    masks = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    bit = 1 << (signal.SIGTERM - 1)
    try:
        caught, ignored = int(masks["SigCgt"], 16), int(masks["SigIgn"], 16)
    except (KeyError, ValueError):
        return None
    return "caught" if caught & bit else "ignored" if ignored & bit else "default"
