"""``hpotrack runs``: the processes that ran a study, from which code and command line,
how many trials each started, and which are still at it.

Each process that runs a study stores a row of ``runs`` (docs/storage.md), and each of
its trials names it; until now only ``hpotrack trial`` showed one (a trial's provenance)
and ``export`` carried them. Whether a run's process is alive is what the study itself
asks of a running trial's worker (:func:`hpotrack.recovery.lost_reason`), asked of the run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

from hpotrack.cli.common import (
    cli,
    emit,
    format_option,
    on_terminal,
    study_of,
    table,
    terminal_width,
    unambiguous,
    user_errors,
    when,
)
from hpotrack.cli.fitting import empty_columns, table_width, without
from hpotrack.provenance import hostname, shown_argv, shown_cells, shown_script_argv
from hpotrack.records import TrialState
from hpotrack.recovery import lost_reason
from hpotrack.store import RunSummary
from hpotrack.text import cut, plural

# the order a run's trials are counted in: the finished ones, then those still at it
STATES = (
    TrialState.COMPLETE,
    TrialState.PRUNED,
    TrialState.FAILED,
    TrialState.RUNNING,
    TrialState.QUEUED,
)
RUN_COLUMNS = (
    "run",
    "host",
    "pid",
    "started",
    "trials",
    *(state.value for state in STATES),
    "status",
    "git_commit",
    "source_hash",
    "command",
    "script_argv",
    "ran_in",
)  # JSON and CSV (a CSV of no runs still has them)
SHORT_COMMIT = 7  # as git abbreviates a commit
HASHES = ("commit", "source")  # text that may read as a number (0e053947): shown as it is
SHORT_SOURCE = 8
MIN_COMMAND = 20  # the narrowest cut command worth showing on a terminal


@cli.command()
@click.argument("study")
@format_option()
@click.pass_context
@user_errors
def runs(ctx: click.Context, study: str, fmt: str) -> None:
    """List the processes that ran STUDY, oldest first.

    Every process that runs a study (optimize(), hpotrack resume, each worker process
    of n_jobs, started from any terminal or by a scheduler) stores one run: its host,
    pid, when it started, the git commit and source hash of the function, and its
    command line. A worker of n_jobs stores its parent's command line (the parent
    itself runs no trial and stores no run); a resumed run, hpotrack resume's.

    \b
    Status of each run:
      running   its process is alive (on this host: that pid, and the same process,
                not a later one that was given its pid); on another host, one of its
                trials is running and its heartbeat is fresh
      ended     its process is gone
      gone      its process is gone, but trials it started still read running (killed,
                say): the study's next run marks them lost and retries them
      unknown   another host's run with no trial running: whether it is alive cannot
                be told from here

    The table counts each run's trials by state, shortens the commit and source hash,
    and on a terminal cuts the command line to fit (to a pipe or a file it stays
    whole). --format json or csv gives every field whole, with the trials counted in
    one field per state, and for a resumed run the arguments it gave the script
    (script_argv), for a run from a notebook what ran it (ran_in).
    """
    opened = study_of(ctx, study)
    with opened.store.reading():
        stored = opened.store.runs(opened.id)
    now = time.time()
    rows = [run_row(number, run, now) for number, run in enumerate(stored.runs, start=1)]
    if fmt != "table":
        emit(rows, fmt, RUN_COLUMNS)
        return
    imported: dict[TrialState, int] = {
        s: n for s, n in stored.without_run.items() if s is not TrialState.QUEUED
    }
    if not rows:
        came = (
            f"; its {trials_text(imported, named=True)} came without one (imported)"
            if imported
            else ""
        )
        click.echo(f"(no runs: no process has run study {opened.name!r} in this database{came})")
        return
    click.echo(fitted(table_rows(rows)))
    if imported:
        click.echo(
            f"and {trials_text(imported, named=True)} with no run stored (imported without one)"
        )


def run_status(run: RunSummary, now: float) -> str:
    """``running``, ``ended``, ``gone`` (its process is, its trials still read running)
    or ``unknown`` (see the command's help): on this host, from the pid and the start of
    its process, as the study finds a worker lost; elsewhere, from the heartbeat of its
    running trials."""
    here = run.host == hostname() and run.pid is not None
    if not here and run.heartbeat is None:  # no trial running: nothing beats for it
        return "unknown"
    if lost_reason(run, now) is None:
        return "running"
    return "gone" if run.counts.get(TrialState.RUNNING) else "ended"


def run_row(number: int, run: RunSummary, now: float) -> dict[str, Any]:
    """A run as JSON and CSV give it: every field whole, trials counted per state."""
    return {
        "run": number,
        "host": run.host,
        "pid": run.pid,
        "started": when(run.started),
        "trials": sum(run.counts.values()),
        **{state.value: run.counts.get(state, 0) for state in STATES},
        "status": run_status(run, now),
        "git_commit": run.git_commit,
        "source_hash": run.source_hash,
        "command": shown_argv(run.argv),
        "script_argv": shown_script_argv(run.argv),
        "ran_in": shown_cells(run.argv),
    }


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`run_row`'s rows for the table: trials as one cell, the status saying how
    many trials a gone process left running, commit and source hash short, and for a
    run from IPython cells, the notebook in place of its kernel's command line. Commit
    and source columns with nothing in them are left out."""
    shown = []
    for row in rows:
        counts = {TrialState(state): row[state.value] for state in STATES}
        status = row["status"]
        if status == "gone":
            status += f", {plural(row['running'], 'trial')} left running"
        command = row["ran_in"] or row["command"]
        shown.append(
            {
                "run": row["run"],
                "host": None if row["host"] is None else unambiguous(row["host"]),
                "pid": row["pid"],
                "started": row["started"],
                "trials": trials_text(counts),
                "status": status,
                "commit": short_commit(row["git_commit"]),
                "source": None if row["source_hash"] is None else row["source_hash"][:SHORT_SOURCE],
                "command": None if command is None else unambiguous(command),
            }
        )
    empty = empty_columns(shown, ("commit", "source"))
    return [without(row, empty) for row in shown] if empty else shown


def fitted(rows: list[dict[str, Any]]) -> str:
    """The table of ``rows`` (not empty); on a terminal, the command lines cut to what
    the other columns leave (``MIN_COMMAND`` at least)."""
    if not on_terminal() or table_width(rows) <= terminal_width():
        return table(rows, HASHES)
    others = table_width([without(row, ("command",)) for row in rows])
    room = max(MIN_COMMAND, terminal_width() - others - 2)
    return table([{**row, "command": _cut(row["command"], room)} for row in rows], HASHES)


def _cut(text: str | None, room: int) -> str | None:
    return None if text is None else cut(text, room)


def trials_text(counts: Mapping[TrialState, int], *, named: bool = False) -> str:
    """A run's trials in a cell, ``12 (10 complete, 1 pruned, 1 running)`` (``0`` for
    none); ``named``: in a sentence, ``12 trials (10 complete, ...)``."""
    total = sum(counts.values())
    states = ", ".join(f"{counts[s]} {s.value}" for s in STATES if counts.get(s))
    head = plural(total, "trial") if named else str(total)
    return f"{head} ({states})" if states else head


def short_commit(commit: str | None) -> str | None:
    """A commit as git abbreviates it, its ``+dirty`` kept: ``1a2b3c4+dirty``."""
    if commit is None:
        return None
    sha, plus, state = commit.partition("+")
    return sha[:SHORT_COMMIT] + plus + state
