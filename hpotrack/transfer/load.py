"""Loading a checked export into a store: the study created in one write transaction, so
a bad file stores nothing, and its trials that were running when exported queued again
(reading the file: :mod:`hpotrack.transfer.parse`; checking it:
:mod:`hpotrack.transfer.validate`; the format: :mod:`hpotrack.transfer`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hpotrack import checkpoints, retries
from hpotrack.errors import UnknownMethodError
from hpotrack.store import Store, StudyRow
from hpotrack.study import Study
from hpotrack.transfer.format import RUNNING_ERROR, Progress, TransferError, advance
from hpotrack.transfer.validate import CheckedExport, validate_export

log = logging.getLogger("hpotrack")


def import_study(
    store: Store,
    data: Mapping[str, Any],
    name: str | None = None,
    progress: Progress | None = None,
) -> Study:
    """Create a NEW study from an export (named ``name``, else as exported); returns it.
    ``progress`` is called with 1 per trial checked, then with the count once written.

    Everything is inserted in one write transaction: a file that fails a check stores nothing.
    A trial that was running when exported is stored as failed and retried (:func:`_retry`).
    """
    return import_checked(store, validate_export(data, name, progress), progress)


def import_checked(store: Store, plan: CheckedExport, progress: Progress | None = None) -> Study:
    """:func:`import_study` of an export :func:`validate_export` checked, without checking
    it again (the CLI checks before it creates a database file); ``progress`` is called
    with the trial count once written."""
    study_name = plan.definition["name"]
    with store.write():
        if store.find_study(study_name) is not None:
            raise TransferError(
                f"study {study_name!r} already exists in {store.path}; "
                "import it under another name with --study NAME (study= from Python)"
            )
        study_id = store.insert_study(**plan.definition)
        store.update_study(study_id, target=plan.target)
        run_ids = [
            store.insert_run(study_id, {k: v for k, v in run.items() if k != "run"})
            for run in plan.runs
        ]
        trials = [  # the export's run numbers made ids, leaving the plan as it was
            {
                "study_id": study_id,
                **t,
                "run_id": None if t["run_id"] is None else run_ids[t["run_id"]],
            }
            for t in plan.trials
        ]
        _insert_all(store, "trials", trials)
        ids = dict(
            store.conn.execute("SELECT number, id FROM trials WHERE study_id = ?", (study_id,))
        )
        _insert_all(store, "lineage", [{"study_id": study_id, **edge} for edge in plan.edges])
        # plain executemany: sqlite-utils' insert_all took most of the time of a curve
        for number, metric, points in plan.curves:
            store.add_curve(ids[number], metric, points)
        for number, checks in plan.checks.items():
            store.add_checks(ids[number], checks, plan.trials[number]["seq"])
        row = store.find_study(study_name)
        assert row is not None
        _retry(store, row, {number: ids[number] for number in plan.running})
    advance(progress, len(plan.trials))
    imported = Study(store, row)
    _warn_checkpoints_left_behind(imported)
    return imported


def _warn_checkpoints_left_behind(study: Study) -> None:
    """Say so when the imported study goes on from checkpoints (its lineage continues
    trials' checkpoints, or its method needs them): the files are not in an export, so
    those trials train from scratch here, and the run would tell only once a trial of
    this database saved one."""
    continues = any(checkpoints.source_edge(trial) for trial in study.trials)
    try:
        needs = study.method.needs_checkpoints is not None
    except UnknownMethodError:  # a method its own code registers, not imported here
        needs = False
    if continues or needs:
        log.warning(
            "study %r: checkpoint files do not travel with an export: the trials that go "
            "on from another's checkpoint (promoted, continued, exploited, a retry) train "
            "from scratch",
            study.name,
        )


def _retry(store: Store, row: StudyRow, running: Mapping[int, int]) -> None:
    """Queue a retry of each trial that was running when exported (stored as failed;
    ``running``: number -> id) as for a trial whose worker was lost
    (:meth:`hpotrack.retries.Batch.add`: while the study's ``retries`` allow, never for a
    manual call, nor where the method runs such trials again itself): its worker is not
    in this database, and its run must not be lost with it (a grid cell never run, a
    promotion never trained). Inside the import's write transaction."""
    if not running:
        return
    study = Study(store, row)
    try:
        method = study.method
    except UnknownMethodError:  # whether it runs them again itself is its code's to say
        log.warning(
            "study %r: %d trial(s) running when exported are not queued again: its "
            "method %r is not imported here (enqueue their parameters to run them)",
            study.name,
            len(running),
            study.method_name,
        )
        return
    history = study.refresh()
    batch = retries.Batch(method, history, store, row)
    for number, trial_id in running.items():
        batch.add(history.trials[number], trial_id, RUNNING_ERROR)


def _insert_all(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk insert inside the caller's transaction (sqlite-utils 4 nests it in a savepoint)."""
    if rows:
        store.db.table(table).insert_all(rows)
