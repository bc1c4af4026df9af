"""Export a study to JSON, JSON Lines or CSV, and import a JSON export as a new study.

The JSON export is the study's whole record, so an export imported elsewhere and exported
again gives the same bytes: the definition (space, method and budget as their stable JSON
tags, never class names), and per trial its state, params, value, metrics, times,
host/pid, claim, lineage edges, intermediate metrics (``curve``), where the method decided
on it (``rung``, ``bracket``, ``checks``: step -> objective), its ``note`` (e.g. the
method ``auto`` chose, and why), the ``method`` that proposed it and the one it was
``chosen_by`` (``tpe`` and ``auto``; both null for a trial no method proposed), the
budget steps it ``trained`` and the ``run`` (worker process)
it ran in; ``runs`` lists those processes' provenance (host, pid, python, platform, git
commit, source hash, argv, start), so an imported trial still says what code ran it. Not
exported: checkpoint files. The JSON file is laid out as ``json.dumps(indent=2)`` would,
except that each curve point ``[step, value, time]`` is one line (indent=2 spreads it over
five, nearly doubling the file, and has no C encoder).

Beside the study, JSON and JSONL (in the header line) carry ``best_schedule``: the best
final trial's hyperparameter schedule, ``{"trial": N, "schedule": {name: [[from_step,
value], ...]}}`` (null before a trial completes); "final" is each population member's
latest complete segment (:func:`finals`), so for PBT it is what the best member trained
with, step by step. It is one study-level field rather than a schedule per trial because
it is derived: every trial's schedule follows from the params and lineage the export
already holds (``hpotrack.lineage.schedule``), and a per-trial copy would grow with the
population times its segments. Being derived, it is recomputed on export and ignored on
import (only its type is checked), so export -> import -> export stays byte-identical.
CSV has one row per trial and no place for it.

An import creates a new study in one write transaction, so a bad file stores nothing.
Version 1 exports, from before budgets and rungs, import as studies without them;
version 2 ones, from before ``best_schedule`` and notes, import with no notes; versions
before 4 carry no ``trained`` (those trials are not counted by ``max_budget``), and
before 6 no ``method`` (those trials import with none, as trials an older hpotrack
stored have none). A
trial that was running when exported is imported as ``failed`` ("running when exported"),
finished when it was last seen: nothing will ever tell it, and a study must not keep a
running trial that no worker owns. Like a trial whose worker was lost, it is retried (a
queued ``retried`` trial, while the study's ``retries`` allow; PBT runs the segment again
itself), or the imported study would never run its grid cell or promotion.
"""

from __future__ import annotations

from hpotrack.transfer.export import (
    best_schedule,
    export_study,
    export_to_file,
    refuse_a_database,
    write_export,
)
from hpotrack.transfer.format import (
    FORMAT,
    FORMATS,
    READABLE,
    RUNNING_ERROR,
    VERSION,
    TransferError,
)
from hpotrack.transfer.load import import_checked, import_study
from hpotrack.transfer.parse import parse_export, read_export
from hpotrack.transfer.validate import CheckedExport, validate_export

__all__ = [
    "FORMAT",
    "FORMATS",
    "READABLE",
    "RUNNING_ERROR",
    "VERSION",
    "CheckedExport",
    "TransferError",
    "best_schedule",
    "export_study",
    "export_to_file",
    "import_checked",
    "import_study",
    "parse_export",
    "read_export",
    "refuse_a_database",
    "validate_export",
    "write_export",
]
