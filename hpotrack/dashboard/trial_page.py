"""A trial's page: what ``hpotrack trial`` shows (state, value, parameters, metrics,
checks, lineage, checkpoints, provenance, error), with its curves drawn and its parents
and children as links."""

from __future__ import annotations

from collections.abc import Mapping

from hpotrack import checkpoints, views
from hpotrack.cli import feasibility
from hpotrack.cli.common import proposer, when
from hpotrack.cli.inspect import (
    amount_text,
    decision_text,
    param_pairs,
    provenance_pairs,
    rung_text,
    shown_provenance,
)
from hpotrack.dashboard import charts
from hpotrack.dashboard.layout import Html, esc, link, number, pairs, section, url
from hpotrack.errors import PageError, TrialError
from hpotrack.records import Edge, Origin, TrialRecord, TrialState
from hpotrack.study import Study
from hpotrack.text import human_bytes


def trial(opened: Study, query: Mapping[str, str]) -> Html:
    """The page of the trial ``query["number"]`` of ``opened``."""
    text = query.get("number", "")
    if not (text.isascii() and text.isdigit()):  # isdigit holds for "²" and "٣" too
        raise PageError(f"number must be a trial's number (0, 1, ...), but got {text!r}", 400)
    try:
        record = opened.trial(int(text))
    except TrialError as exc:
        raise PageError(str(exc)) from None
    curve = views.stored_curve(opened.store, opened.id, record.number)
    children = opened.store.children(opened.id, record.number)
    state = record.state.value
    if record.state is TrialState.RUNNING and (gone := opened.workers_gone([record.number])):
        state += f" ({gone[record.number]}; the study's next run marks it lost)"
    title = Html(
        f'<h1>Trial {record.number} <span class="state-{esc(record.state.value)}">'
        f"{esc(state)}</span></h1>"
    )
    drawn = "".join(f"<figure>{svg}</figure>" for svg in charts.trial_curves(opened, curve))
    parts = [
        title,
        pairs(_summary(opened, record)),
        section("Parameters", pairs(param_pairs(opened.space, record.params))),
        section("Metrics", pairs(sorted(record.metrics.items()))),
        _constraints(opened, record),
        section("Curves", Html(f'<div class="charts">{drawn}</div>') if drawn else Html("")),
        _checks(opened, record, children),
        _lineage(opened, record, children),
        _checkpoints(opened, record),
        section("Provenance", pairs(provenance_pairs(_provenance(opened, record)))),
        section("Error", Html(f"<pre>{esc(record.error.rstrip())}</pre>"))
        if record.error
        else Html(""),
    ]
    return Html("".join(parts))


def _summary(opened: Study, record: TrialRecord) -> list[tuple[str, object]]:
    value = None if record.value is None else f"{number(record.value)} ({opened.objective})"
    if opened.optimizing.is_multi and record.state is TrialState.COMPLETE:
        named = zip(opened.objectives, opened.values(record), strict=False)
        value = ", ".join(f"{m}={number(v)}" for m, v in named)
    return [
        ("study", link(opened.name, url("/study", name=opened.name))),
        ("value", value),
        ("origin", record.origin),
        ("method", proposer(record)),
        ("note", record.note),
        ("budget", amount_text(record.budget, opened.budget)),
        ("trained", amount_text(record.trained, opened.budget)),
        ("rung", rung_text(record)),
        ("bracket", record.bracket),
        ("started", when(record.started)),
        ("finished", when(record.finished)),
        ("duration", None if record.duration is None else f"{record.duration:.3f} s"),
    ]


def _constraints(opened: Study, record: TrialRecord) -> Html:
    if not opened.optimizing.constrained:
        return Html("")
    return section(feasibility.title(opened, record), pairs(feasibility.pairs(opened, record)))


def _checks(opened: Study, record: TrialRecord, children: list[tuple[int, Edge]]) -> Html:
    """Where the method decided whether the trial goes on, and what it decided."""
    if not record.checks:
        return Html("")
    promoted = [c for c, e in children if e.kind == Origin.PROMOTED.value]
    trials = views.StoredTrials(opened.store, opened.id).read(promoted)
    promoted_as = [t.number for t in trials if t.origin != Origin.RETRIED.value]
    steps = pairs((f"step {step}", value) for step, value in sorted(record.checks.items()))
    decision = decision_text(record, opened.direction, promoted_as).strip()
    return section("Checks", Html(f"{steps}<p>{esc(decision)}</p>"))


def _lineage(opened: Study, record: TrialRecord, children: list[tuple[int, Edge]]) -> Html:
    """Parents and children as links: where the trial came from, what came of it."""
    items = [f"<li>from {_edge(opened, edge, edge.parent)}</li>" for edge in record.parents]
    items += [f"<li>to {_edge(opened, edge, child)}</li>" for child, edge in children]
    return section("Lineage", Html(f"<ul>{''.join(items)}</ul>") if items else Html(""))


def _edge(opened: Study, edge: Edge, other: int) -> Html:
    text = f" ({edge.kind}"
    if edge.step is not None:
        text += f" at step {edge.step}"
    if edge.detail:
        text += f": {edge.detail}"
    return Html(f"{link(f'trial {other}', charts.trial_url(opened, other))}{esc(text + ')')}")


def _checkpoints(opened: Study, record: TrialRecord) -> Html:
    saved = checkpoints.of_trial(opened.store, opened.id, record.number)
    root = opened.store.checkpoint_root
    lines = [
        (f"step {c.step}", f"{human_bytes(c.size)}, {root / c.path}"
         + ("" if (root / c.path).is_file() else " (file missing)"))
        for c in saved
    ]  # fmt: skip
    note = f"in Python: study.load_checkpoint({record.number}, step=...)"
    return section("Checkpoints", pairs(lines), note=note)


def _provenance(opened: Study, record: TrialRecord) -> dict[str, object]:
    return shown_provenance(opened.store.provenance(opened.id, record.number))
