"""A study's page: what it is (method, goal, budget, seed, trials by state, best), its
charts, and its trials, a page of them at a time, newest or best first."""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping, Sequence

from hpotrack.cli.common import stop_flags, when
from hpotrack.cli.runs import STATES, run_row, trials_text
from hpotrack.cli.show import best_first, budget_line, param_columns, trial_columns, trial_rows
from hpotrack.cli.study_list import latest_proposed, method_name
from hpotrack.dashboard import charts
from hpotrack.dashboard.layout import Html, esc, link, pairs, section, table, url
from hpotrack.errors import NoCompleteTrial, PageError
from hpotrack.limits import stored
from hpotrack.records import TrialRecord, TrialState
from hpotrack.store import StudySummary
from hpotrack.study import Study
from hpotrack.text import plural

PAGE_SIZE = 100  # trials in the table at a time
SORTS = ("newest", "best", "number")
NUMERIC = ("number", "value", "step", "budget", "trained", "rung", "bracket", "duration")


def study(opened: Study, query: Mapping[str, str]) -> Html:
    """The page of ``opened``; ``query`` may choose ``sort`` (:data:`SORTS`), ``state``
    (only the trials in that state) and ``page`` (from 1)."""
    sort = query.get("sort", SORTS[0])
    if sort not in SORTS:
        raise PageError(f"sort must be one of {', '.join(SORTS)}, but got {sort!r}", 400)
    state = query.get("state")
    if state is not None and state not in {s.value for s in TrialState}:
        states = ", ".join(s.value for s in TrialState)
        raise PageError(f"state must be one of {states}, but got {state!r}", 400)
    page = _page_number(query.get("page", "1"))
    trials = opened.trials
    summary = opened.store.summary(opened.id)
    parts = [
        Html(f"<h1>{esc(opened.name)}</h1>"),
        pairs(_facts(opened, summary)),
        _charts(opened, trials),
        _runs(opened),
        _trials(opened, trials, sort=sort, state=state, page=page),
    ]
    return Html("".join(parts))


def _page_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:  # not "²" nor "٣"
        raise PageError(f"page must be a whole number from 1, but got {text!r}", 400)
    return int(text)


def _facts(opened: Study, summary: StudySummary) -> list[tuple[str, object]]:
    """What ``hpotrack show`` prints above and below the trials, as key-value pairs."""
    counts = summary.counts
    states = ", ".join(f"{n} {state.value}" for state, n in counts.items() if n)
    optimizing = opened.optimizing
    row = opened.store.find_study(opened.name)
    latest = latest_proposed(opened.store, opened.id)
    gone = sorted(opened.workers_gone(summary.running)) if summary.running else []
    budget = opened.budget
    return [
        ("method", None if row is None else method_name(row.method)),
        ("objectives" if optimizing.is_multi else "goal",
         optimizing.describe() if optimizing.is_multi
         else f"{opened.direction} {opened.objective}"),
        ("constraints", optimizing.describe_constraints() or None),
        ("budget", None if budget is None
         else budget_line(opened, budget).removeprefix("budget: ")),
        ("seed", opened.seed),
        ("trials", f"{sum(counts.values())}: {states or 'none yet'}"),
        ("worker gone", None if not gone else
         f"{plural(len(gone), 'running trial')} ({', '.join(map(str, gone))}) whose "
         "worker is gone (killed?): the study's next run marks them lost and retries them"),
        ("best", None if optimizing.is_multi else _best(opened)),
        ("Pareto front", f"{len(opened.best_trials)} trials" if optimizing.is_multi else None),
        ("target", opened.target),
        ("stops of the last run", stop_flags(stored(opened.last_stops)) or None),
        ("last activity", when(summary.last_active)),
        ("method's note", latest.note if latest is not None and latest.note else None),
        ("parameter importance", link("compute (fANOVA)", url("/importance", name=opened.name))),
    ]  # fmt: skip


RUN_COLUMNS = ("run", "host", "pid", "started", "trials", "status", "command")


def _runs(opened: Study) -> Html:
    """The processes running the study now (and those gone with trials left running),
    as ``hpotrack runs`` lists them; a line when none is."""
    with opened.store.reading():
        runs = opened.store.runs(opened.id).runs
    now = time.time()
    rows = [run_row(number, run, now) for number, run in enumerate(runs, 1)]
    live = [row for row in rows if row["status"] in ("running", "gone")]
    for row in live:
        counts = {state: row[state.value] for state in STATES}
        row["trials"] = trials_text(counts)
    everyone = f"hpotrack runs {shlex.quote(opened.name)} lists all {len(rows)}"
    if not live:
        return section("Runs", Html(f"<p>No process is running it now ({esc(everyone)}).</p>"))
    body = table(RUN_COLUMNS, live, numeric=("run", "pid"))
    return section("Runs", Html(f"<div class=scroll>{body}</div>"), note=f"alive now; {everyone}")


def _best(opened: Study) -> Html | None:
    try:
        best = opened.best
    except NoCompleteTrial:
        return None
    text = f"{best.value:.6g} (trial {best.number})"
    return link(text, charts.trial_url(opened, best.number))


def _charts(opened: Study, trials: Sequence[TrialRecord]) -> Html:
    """The history (a study of several objectives: its front) and the curves."""
    ranked = best_first(trials, opened)
    click = "click a point for its trial"
    if opened.optimizing.is_multi:
        caption = f"the first two objectives of every complete trial; {click}"
        first = _figure(charts.front(opened, trials), caption)
    else:
        caption = f"{opened.objective} of every trial that has one, by number; {click}"
        first = _figure(charts.history(opened, trials), caption)
    drawn, count = charts.curves(opened, ranked)
    caption = f"{opened.objective} as reported: the running trials and the best, {count} curves"
    second = _figure(drawn, caption) if count else Html("")
    return Html(f'<div class="charts">{first}{second}</div>')


def _figure(svg: Html, caption: str) -> Html:
    return Html(f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>")


def _trials(
    opened: Study, trials: Sequence[TrialRecord], *, sort: str, state: str | None, page: int
) -> Html:
    """A page of the trials table, with links that sort, filter and page it."""
    chosen = [t for t in trials if state is None or t.state.value == state]
    if sort == "best":
        chosen = best_first(chosen, opened)
    elif sort == "newest":
        chosen = chosen[::-1]
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    if page > pages:
        raise PageError(f"page {page} is past the last page of these trials, {pages}", 404)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    rows = trial_rows(opened, list(shown), "json")
    for row in rows:
        number = row["number"]
        row["number"] = link(number, charts.trial_url(opened, number))
        row["state"] = Html(f'<span class="state-{esc(row["state"])}">{esc(row["state"])}</span>')
    columns = trial_columns(opened)
    kept = [c for c in columns if c in param_columns(opened).values() or
            any(row.get(c) is not None for row in rows)]  # fmt: skip
    here = {"name": opened.name, "sort": sort, "state": state}
    controls = _controls(opened, trials, here, page, pages)
    body = table(kept, rows, numeric=NUMERIC) if rows else Html("<p>No trials here.</p>")
    return section("Trials", Html(f"{controls}<div class=scroll>{body}</div>"))


def _controls(
    opened: Study,
    trials: Sequence[TrialRecord],
    here: Mapping[str, str | None],
    page: int,
    pages: int,
) -> Html:
    """Links choosing the order, the state shown and the page, the current ones bold."""

    def choice(text: str, current: bool, **change: object) -> str:
        if current:
            return f'<span class="on">{esc(text)}</span>'
        return link(text, url("/study", **{**here, "page": None, **change}))

    sorts = [choice(s, here["sort"] == s, sort=s) for s in SORTS]
    counts = {s: sum(t.state is s for t in trials) for s in TrialState}
    states = [choice(f"all {len(trials)}", here["state"] is None, state=None)]
    states += [
        choice(f"{s.value} {n}", here["state"] == s.value, state=s.value)
        for s, n in counts.items()
        if n
    ]
    lines = [f"sort: {' '.join(sorts)}", f"show: {' '.join(states)}"]
    if pages > 1:
        steps = [choice(str(n), n == page, page=n) for n in range(1, pages + 1)]
        if pages > 12:  # the first, the last and those around this one
            near = {1, pages, *range(max(1, page - 3), min(pages, page + 3) + 1)}
            steps = [s if n in near else "…" for n, s in enumerate(steps, 1)]
            steps = [s for i, s in enumerate(steps) if s != "…" or steps[i - 1] != "…"]
        lines.append(f"page: {' '.join(steps)} (of {PAGE_SIZE} trials each)")
    return Html("".join(f'<p class="chips">{line}</p>' for line in lines))
