"""Deleting a study's checkpoint files that nothing needs: those a process killed while
saving left behind, which nothing names (:func:`stray_files`), and the checkpoints no
trial can start from any more (:func:`unneeded`); what
:meth:`hpotrack.study.Study.remove_stray_checkpoint_files` and
:meth:`~hpotrack.study.Study.collect_checkpoints` do.

Both read the trials inside the study's write transaction (``writing``: the study's own,
which keeps its cached trials equal to the database), so that no trial starts and saves
meanwhile. Writing, finding and loading checkpoints is :mod:`hpotrack.checkpoints`.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from hpotrack.checkpoints import FILE_NAME, Checkpoint, line_state, source_edge, unusable_folder
from hpotrack.records import Origin, TrialRecord, TrialState
from hpotrack.store import Store

if TYPE_CHECKING:
    from hpotrack.study import Study

Writing: TypeAlias = Callable[[], AbstractContextManager[None]]
"""A study's write transaction (:meth:`hpotrack.study.Study._writing`)."""


def remove_stray(study: Study, writing: Writing) -> int:
    """Delete the files in ``study``'s checkpoint folder that nothing names and no
    running trial may still be writing (see :func:`stray_files`);
    returns how many went. Trials whose worker is gone are marked lost first, so the
    files of one killed mid-save go now, not a run later. A folder this process may not
    look into (another user's) is a :class:`StorageError` saying so: it stops a run
    before its trials."""
    store = study.store
    folder = store.checkpoint_dir(study.name)
    try:
        if not folder.is_dir():
            return 0
        with writing():
            history = study.refresh()
            if study.recover_lost():
                history = study.refresh()
            stray = stray_files(store, study.name, study.id, history.trials)
            for path in stray:
                path.unlink(missing_ok=True)
    except OSError as exc:
        raise unusable_folder(store, folder, "look for unfinished checkpoint files", exc) from None
    return len(stray)


def collect(study: Study, writing: Writing) -> int:
    """Delete ``study``'s checkpoints that nothing can load any more (see
    :func:`unneeded`): their rows in the transaction, their files
    after it; returns how many went."""
    store = study.store
    with writing():
        history = study.refresh()
        resumable = study.method.resumable(history)
        garbage = unneeded(store, study.id, history.trials, resumable)
        forget(store, garbage)
    delete_files(store, garbage)
    return len(garbage)


def stray_files(
    store: Store, study_name: str, study_id: int, trials: Sequence[TrialRecord]
) -> list[Path]:
    """Files in the study's folder that no row names and no running trial may still be
    writing: what a writer killed between its file and its row leaves, or in the middle
    of writing (a temporary file), or a collection killed between the rows it deleted
    and their files. Lists the folder: for the start of a run, not for every trial.

    Call inside a write transaction with the trials read inside it, so that no trial
    starts (and writes) meanwhile."""
    folder = store.checkpoint_dir(study_name)
    if not folder.is_dir():
        return []
    named = {
        row[0]
        for row in store.conn.execute(
            "SELECT c.path FROM checkpoints c JOIN trials t ON t.id = c.trial_id "
            "WHERE t.study_id = ?",
            (study_id,),
        )
    }
    stray = []
    for path in folder.iterdir():
        match = FILE_NAME.fullmatch(path.name)
        if match is None or str(path.relative_to(store.checkpoint_root)) in named:
            continue
        number = int(match[1])
        if number < len(trials) and trials[number].state is not TrialState.RUNNING:
            stray.append(path)
    return stray


def unneeded(
    store: Store,
    study_id: int,
    trials: Sequence[TrialRecord],
    resumable: Collection[int] | None = None,
) -> list[Checkpoint]:
    """Checkpoints nothing can load any more.

    Kept: each running trial's latest checkpoint and its two latest below its budget
    (what a retry resumes if it is lost: see :mod:`hpotrack.retries`), the one each
    running or queued trial starts from (:func:`~hpotrack.checkpoints.line_state`), and
    the latest of each trial the method may still start a new trial from: every trial
    that did not fail and whose line has not gone on (no child continued it or was
    promoted from it, but for a failed one without a retry: PBT runs that segment
    again), narrowed to ``resumable`` when the method says (PBT: each member's latest
    segment; synchronous Hyperband: not the stopped trials of runs it has decided). Of
    such a trial that was pruned, the one a promotion would load (at or before its last
    check, or where its line was then) is kept too. Everything else goes, but for the
    checkpoints of trials that ran in a run with ``keep_checkpoints="all"`` (or one
    stored before runs recorded it): that run promised to keep them, whichever run
    collects.

    Call inside a write transaction with the trials read inside it, so that no ask can
    pick one of them meanwhile."""
    rows = store.conn.execute(
        "SELECT c.trial_id, c.step, c.path, c.bytes, c.hash, t.number, "
        "r.keep_checkpoints IS 'needed' FROM checkpoints c JOIN trials t ON t.id = c.trial_id "
        "LEFT JOIN runs r ON r.id = t.run_id WHERE t.study_id = ? ORDER BY t.number, c.step",
        (study_id,),
    ).fetchall()
    if not rows:
        return []
    saved: dict[int, list[int]] = {}  # trial number: its checkpoints' steps, ascending
    for row in rows:
        saved.setdefault(row[5], []).append(row[1])
    find = functools.partial(_found, saved)
    keep: set[tuple[int, int]] = set()
    for n, steps in saved.items():
        trial = trials[n]
        if trial.state is TrialState.RUNNING:  # its latest; the two a retry may resume
            below = steps if trial.budget is None else [s for s in steps if s < trial.budget]
            keep.update((n, step) for step in {steps[-1], *below[-2:]})
    went_on: set[int] = set()
    retried = {e.parent for t in trials for e in t.parents if e.kind == Origin.RETRIED.value}
    for trial in trials:
        edge = source_edge(trial)
        if edge is None:
            continue
        if trial.state in (TrialState.RUNNING, TrialState.QUEUED):
            found = line_state(trials, edge.parent, edge.step, find)
            if found is not None:
                keep.add(found)
        elif edge.kind != Origin.EXPLOITED.value and (
            trial.state is not TrialState.FAILED or trial.number in retried
        ):
            # a failed child without a retry did not go on: what it started from is what
            # the method's next try starts from (PBT proposes the segment again)
            went_on.add(edge.parent)
    allowed = None if resumable is None else set(resumable)
    for trial in trials:
        if trial.number in went_on or trial.state is TrialState.FAILED:
            continue
        if allowed is not None and trial.number not in allowed:
            continue
        if trial.number in saved:
            keep.add((trial.number, saved[trial.number][-1]))
        if trial.state is TrialState.PRUNED and trial.checks:  # what a promotion would load
            found = line_state(trials, trial.number, max(trial.checks), find)
            if found is not None:
                keep.add(found)
    return [Checkpoint(*row[:5]) for row in rows if row[6] and (row[5], row[1]) not in keep]


def _found(saved: dict[int, list[int]], number: int, step: int | None) -> tuple[int, int] | None:
    """(number, step) of the checkpoint :func:`hpotrack.checkpoints.find` would pick for
    (number, step), if any; ``saved``: each trial's checkpoint steps, ascending."""
    steps = saved.get(number, [])
    at = len(steps) if step is None else bisect.bisect_right(steps, step)
    return (number, steps[at - 1]) if at else None


def forget(store: Store, checkpoints: Sequence[Checkpoint]) -> None:
    """Delete the rows of ``checkpoints`` (inside a write transaction): from then on no
    trial can find them, and their files can go (:func:`delete_files`)."""
    store.conn.executemany(
        "DELETE FROM checkpoints WHERE trial_id = ? AND step = ?",
        [(c.trial_id, c.step) for c in checkpoints],
    )


def delete_files(store: Store, checkpoints: Sequence[Checkpoint]) -> None:
    """Delete the files of ``checkpoints``, after the transaction that forgot their rows
    (a collection killed in between leaves files nothing names: :func:`stray_files`)."""
    for checkpoint in checkpoints:
        (store.checkpoint_root / checkpoint.path).unlink(missing_ok=True)
