"""The dashboard's first page: every study of the database, as ``hpotrack show`` lists
them, each a link to its page."""

from __future__ import annotations

from hpotrack.cli.study_list import CONSTRAINTS, STUDY_COLUMNS, study_rows
from hpotrack.dashboard.layout import Html, link, table, url
from hpotrack.store import Store

NUMERIC = ("trials", "complete", "pruned", "failed", "running", "queued", "best", "front")


def studies(store: Store) -> Html:
    """The table of studies (their method, goal, budget, trials by state, best value and
    last activity), newest activity first: the study running now is on top."""
    rows = sorted(study_rows(store, compact=False), key=_last_activity, reverse=True)
    if not rows:
        return Html(
            "<h1>No studies yet</h1><p class=note>Run a study with this database "
            "(<code>@hp.tune(..., db=...)</code>); it shows here as soon as it starts.</p>"
        )
    columns = [c for c in STUDY_COLUMNS if c != "running_worker_gone"]
    if CONSTRAINTS in rows[0]:
        columns.insert(columns.index("direction") + 1, CONSTRAINTS)
    if not any(row["front"] is not None for row in rows):
        columns.remove("front")
    for row in rows:
        name = row["study"]
        row["study"] = link(name, url("/study", name=name))
        gone = row.pop("running_worker_gone")
        if gone:
            row["running"] = f"{row['running']} ({gone} with the worker gone)"
    body = table(columns, rows, numeric=NUMERIC)
    return Html(f"<h1>Studies</h1><div class=scroll>{body}</div>")


def _last_activity(row: dict[str, object]) -> str:
    return str(row.get("last_activity") or "")
