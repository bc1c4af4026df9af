"""The dashboard's answers, asked in-process (:meth:`Dashboard.answer`): every page of
real studies on a real file, what they show, their escaping, their errors, the JSON, and
the change token open pages poll."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest

import hpotrack as hp
from hpotrack.dashboard.server import Dashboard, Response
from hpotrack.dashboard.study_page import PAGE_SIZE

HOSTILE = '<script>alert("x")</script>&'


class _Page(HTMLParser):
    """The text, links and SVGs of a page; fails the test on unbalanced markup."""

    VOID = frozenset({"meta", "br", "img", "input", "link", "hr"})

    def __init__(self, text: str) -> None:
        super().__init__()
        self.open: list[str] = []
        self.text: list[str] = []
        self.links: list[str] = []
        self.table_links: list[str] = []  # those in a table, not in a chart
        self.scripts = 0
        self.feed(text)
        self.close()
        assert self.open == [], f"unclosed elements: {self.open}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        if tag == "a":
            hrefs = [v for k, v in attrs if k == "href" and v is not None]
            self.links += hrefs
            if "table" in self.open:
                self.table_links += hrefs
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def words(self) -> str:
        return " ".join(" ".join(self.text).split())


def get(dashboard: Dashboard, target: str, status: int = 200) -> Response:
    response = dashboard.answer(target)
    assert response.status == status, response.body.decode()[:2000]
    return response


def page(dashboard: Dashboard, target: str, status: int = 200) -> _Page:
    response = get(dashboard, target, status)
    assert response.content_type.startswith("text/html")
    return _Page(response.body.decode())


def svgs(response: Response) -> list[ET.Element]:
    """Each chart of a page, parsed as XML: a chart must be well-formed on its own."""
    found = re.findall(r"<svg.*?</svg>", response.body.decode(), flags=re.S)
    return [ET.fromstring(svg) for svg in found]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0), "kind": ["a", HOSTILE]}, study=HOSTILE, db=path,
             method="random", seed=0)  # fmt: skip
    def hostile(x: float, kind: str) -> float:
        if x > 0.8:
            raise ValueError(f"diverged {HOSTILE}")
        return x

    hostile.optimize(n_trials=12)

    @hp.tune({"lr": hp.Float(1e-3, 1.0, log=True)}, study="curves", db=path,
             method="hyperband", budget=hp.Budget(1, 9), seed=1)  # fmt: skip
    def curves(lr: float, trial: hp.Trial) -> float:
        loss = 1.0
        for step in trial.steps:
            loss = abs(lr - 0.1) + 1.0 / step
            trial.report(loss, step)
        return loss

    curves.optimize(n_trials=20)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="pareto", db=path, objective=("f1", "f2"),
             direction=("minimize", "minimize"), seed=2)  # fmt: skip
    def pareto(x: float) -> dict[str, float]:
        return {"f1": x, "f2": (x - 0.3) ** 2}  # x above 0.3: dominated

    pareto.optimize(n_trials=8)
    return path


@pytest.fixture
def dashboard(db: Path) -> Dashboard:
    return Dashboard(db)


def test_the_index_lists_every_study_with_a_link_to_its_page(dashboard: Dashboard) -> None:
    shown = page(dashboard, "/")
    assert {f"/study?name={quote(n, safe='')}" for n in (HOSTILE, "curves", "pareto")} <= {
        link.replace("+", "%20") for link in shown.links
    }
    assert HOSTILE in shown.words  # as text, escaped in the markup
    assert shown.scripts == 1  # the page's own live script, not the study's name


def test_a_study_page_shows_its_facts_charts_and_trials(dashboard: Dashboard) -> None:
    response = get(dashboard, "/study?name=curves")
    shown = _Page(response.body.decode())
    words = shown.words
    assert "hyperband" in words and "minimize value" in words and "steps 1..9" in words
    assert "best" in words and "seed 1" in words
    for number in range(20):
        assert f"/trial?study=curves&number={number}" in shown.links
    charts = svgs(response)
    assert len(charts) == 2  # the history and the curves
    history, curves = charts
    assert "best so far" in ET.tostring(history, encoding="unicode")
    assert "step" in ET.tostring(curves, encoding="unicode")


def test_the_best_trial_is_linked_with_its_value(db: Path, dashboard: Dashboard) -> None:
    best = hp.load_study("curves", db=db).best
    shown = page(dashboard, "/study?name=curves")
    assert f"{best.value:.6g} (trial {best.number})" in shown.words


def test_hostile_text_is_escaped_everywhere(dashboard: Dashboard) -> None:
    name = quote(HOSTILE)
    for target in (f"/study?name={name}", f"/study?name={name}&sort=best"):
        response = get(dashboard, target)
        text = response.body.decode()
        assert HOSTILE not in text  # never raw
        assert _Page(text).scripts == 1
        assert HOSTILE in _Page(text).words
    failed = hp.load_study(HOSTILE, db=dashboard.db).trials
    number = next(t.number for t in failed if t.state is hp.TrialState.FAILED)
    response = get(dashboard, f"/trial?study={name}&number={number}")
    shown = _Page(response.body.decode())
    assert shown.scripts == 1 and f"diverged {HOSTILE}" in shown.words


def test_sorting_filtering_and_paging_the_trials(db: Path, tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="many", db=db, method="random", seed=3)
    def many(x: float) -> float:
        return x

    many.optimize(n_trials=PAGE_SIZE + 5)
    dashboard = Dashboard(db)
    first = _numbers(page(dashboard, "/study?name=many"))
    assert first == list(range(PAGE_SIZE + 4, 4, -1))  # newest first, a page of them
    assert _numbers(page(dashboard, "/study?name=many&page=2")) == [4, 3, 2, 1, 0]
    by_number = _numbers(page(dashboard, "/study?name=many&sort=number"))
    assert by_number == list(range(PAGE_SIZE))
    values = {t.number: t.value for t in hp.load_study("many", db=db).trials}
    best = _numbers(page(dashboard, "/study?name=many&sort=best"))
    assert best == sorted(values, key=lambda n: values[n])[:PAGE_SIZE]
    assert _numbers(page(dashboard, "/study?name=curves&state=pruned")) == [
        t.number for t in reversed(hp.load_study("curves", db=db).trials)
        if t.state is hp.TrialState.PRUNED
    ]  # fmt: skip


def _numbers(shown: _Page) -> list[int]:
    """The trial numbers the table of trials links to, in order."""
    return [int(link.rsplit("=", 1)[1]) for link in shown.table_links if "/trial?" in link]


def test_a_trial_page_shows_params_curve_checks_and_lineage(db: Path, dashboard: Dashboard) -> None:
    study = hp.load_study("curves", db=db)
    promoted = next(t for t in study.trials if t.origin == "promoted")
    parent = promoted.parents[0].parent
    response = get(dashboard, f"/trial?study=curves&number={promoted.number}")
    shown = _Page(response.body.decode())
    assert f"/trial?study=curves&number={parent}" in shown.links
    assert "Parameters" in shown.words and "lr" in shown.words
    assert "promoted" in shown.words and "Provenance" in shown.words
    assert len(svgs(response)) == 1  # one metric reported: its curve
    assert (
        f"/trial?study=curves&number={promoted.number}"
        in page(dashboard, f"/trial?study=curves&number={parent}").links
    )  # the child, from its parent's page


def test_a_study_of_several_objectives_draws_its_front(dashboard: Dashboard) -> None:
    response = get(dashboard, "/study?name=pareto")
    (front,) = svgs(response)
    assert "Pareto front" in ET.tostring(front, encoding="unicode")
    assert "front" in _Page(response.body.decode()).words


@pytest.mark.parametrize(
    ("target", "status", "words"),
    [
        ("/nowhere", 404, "no page at /nowhere"),
        ("/study", 400, "which study?"),
        ("/study?name=nope", 404, "no study named 'nope'"),
        ("/study?name=curves&sort=worst", 400, "sort must be one of newest, best, number"),
        ("/study?name=curves&state=done", 400, "state must be one of"),
        ("/study?name=curves&page=0", 400, "page must be a whole number from 1"),
        ("/study?name=curves&page=9", 404, "page 9 is past the last page"),
        ("/trial?study=curves&number=x", 400, "number must be a trial's number"),
        ("/trial?study=curves&number=999", 404, "has no trial 999"),
    ],
)
def test_bad_addresses_answer_one_clear_line(
    dashboard: Dashboard, target: str, status: int, words: str
) -> None:
    assert words in page(dashboard, target, status).words


def test_the_json_is_what_show_prints(db: Path, dashboard: Dashboard) -> None:
    from click.testing import CliRunner

    from hpotrack.cli import cli

    shown = CliRunner().invoke(cli, ["--db", str(db), "show", "curves", "--format", "json"])
    answered = json.loads(get(dashboard, "/api/trials?study=curves").body)
    assert answered == json.loads(shown.output)
    studies = json.loads(get(dashboard, "/api/studies").body)
    assert {row["study"] for row in studies} == {HOSTILE, "curves", "pareto"}
    error = get(dashboard, "/api/trials?study=nope", 404)
    assert "no study named 'nope'" in json.loads(error.body)["error"]


def test_the_version_changes_with_a_commit_by_another_connection(db: Path) -> None:
    dashboard = Dashboard(db)
    before = json.loads(get(dashboard, "/api/version").body)["version"]
    assert json.loads(get(dashboard, "/api/version").body)["version"] == before
    hp.load_study("curves", db=db).enqueue({"lr": 0.5})
    after = json.loads(get(dashboard, "/api/version").body)["version"]
    assert after != before
    assert "queued" in page(dashboard, "/study?name=curves").words


def test_a_redraw_reads_only_the_trials_that_changed(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page keeps its study open: drawn again after two new trials, it reads those
    two, not the study's every trial (DESIGN principle 3)."""
    from hpotrack.cache import TrialCache

    read: list[int] = []
    original = TrialCache.read_changes

    def counted(cache: TrialCache, snapshot: object = None) -> int:
        count = original(cache, snapshot)  # type: ignore[arg-type]
        read.append(count)
        return count

    monkeypatch.setattr(TrialCache, "read_changes", counted)
    dashboard = Dashboard(db)
    page(dashboard, "/study?name=curves")
    assert sum(read) >= 20  # the first draw reads them all
    read.clear()
    page(dashboard, "/study?name=curves")
    assert sum(read) == 0  # nothing changed: nothing read
    study = hp.load_study("curves", db=db)
    study.enqueue({"lr": 0.5})
    study.enqueue({"lr": 0.25})
    read.clear()  # what that study read
    page(dashboard, "/study?name=curves")
    assert sum(read) == 2


def test_parameter_importance_is_its_own_page_computed_when_asked(
    db: Path, dashboard: Dashboard
) -> None:
    from hpotrack.plots.importance_plot import importance_values

    assert "/importance?name=curves" in page(dashboard, "/study?name=curves").links
    shown = page(dashboard, "/importance?name=curves")
    (share,) = importance_values(hp.load_study("curves", db=db)).values()
    assert f"lr {share[0]:.0%} ± {share[1]:.0%}" in shown.words
    assert "interactions and the rest" in shown.words
    assert shown.scripts == 0 and "not live" in shown.words  # no redraw at each commit

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="few", db=db, seed=0)
    def few(x: float) -> float:
        return x

    few.optimize(n_trials=3)
    words = page(dashboard, "/importance?name=few").words
    assert "importance needs at least 6 complete trials; study 'few' has 3" in words
