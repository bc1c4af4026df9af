"""A PBT population in the CLI: ``hpotrack lineage`` (a block per member, or one trial's
chain), ``hpotrack trial --schedule`` and the best final member's schedule in exports,
on a real study (members load and save checkpoints and report every step). Expectations
are derived from the stored trials, so they hold however PBT schedules its members."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack import lineage
from hpotrack.checkpoints import source_edge
from hpotrack.cli import population
from hpotrack.cli.common import short
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.space import Value
from hpotrack.store import close_stores
from tests.cli.test_inspect import assert_fits_80_columns_but_its_command, invoke, ok, user_error
from tests.test_transfer import expected_best_final, make_pbt_study, tuned_grid

SCHEDULE = "Schedule (from step: value)"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Study "pbt" (``make_pbt_study``: trial 5 failed and its segment ran again, the last
    trial is queued outside the population) and a grid study, whose ``grid:N`` claims are
    not a population."""
    path = tmp_path_factory.mktemp("population") / "h.db"
    make_pbt_study(path)
    tuned_grid(path).optimize(n_trials=3)
    close_stores()
    return path


@pytest.fixture(scope="module")
def trials(db: Path) -> list[TrialRecord]:
    return hp.load_study("pbt", db=db).trials


@pytest.fixture(scope="module")
def jumped(db: Path, trials: list[TrialRecord]) -> int:
    """The first trial whose schedule changes (its chain copied another member)."""
    study = hp.load_study("pbt", db=db)
    changes = (t.number for t in trials if max(map(len, study.schedule(t.number).values())) > 1)
    return next(changes)


def member(trial: TrialRecord) -> int:
    return int((trial.claim or "").split(":")[1])


def attempt(trial: TrialRecord) -> int:
    claim = trial.claim or ""
    return int(claim.split("#")[1]) if "#" in claim else 0


def rows(lines: list[str]) -> list[str]:
    """Lines of segments, each with its wrapped continuation lines joined to it."""
    joined: list[str] = []
    for line in lines:
        if line.startswith("  #"):
            joined.append(line)
        else:
            joined[-1] += " " + line.strip()
    return joined


def how(trial: TrialRecord, trials: list[TrialRecord]) -> str:
    """What the row of ``trial`` says about how it started, from the stored lineage."""
    edge = source_edge(trial)
    again = f", attempt {attempt(trial) + 1}" if attempt(trial) else ""
    params = " ".join(f"{name}={short(value)}" for name, value in trial.params.items())
    if edge is None:
        return f"start{again}: {params}"
    if edge.kind == "continued":
        return f"continued{again}"
    copied = f"⇐ copied #{edge.parent} (member {member(trials[edge.parent])}) at step {edge.step}"
    return f"{copied}{again}: {params}"


def cells(trial: TrialRecord, trials: list[TrialRecord]) -> list[str]:
    """The words of ``trial``'s row: number, steps, value or state, how it started."""
    edge = source_edge(trial)
    steps = f"steps {1 if edge is None else (edge.step or 0) + 1}..{int(trial.budget or 0)}"
    done = trial.state is TrialState.COMPLETE
    outcome = f"{trial.value:.6g}" if done else trial.state.value
    return [f"#{trial.number}", *steps.split(), outcome, *how(trial, trials).split()]


def fits(out: str) -> str:
    assert_fits_80_columns_but_its_command(out)  # a trial's command line is never wrapped
    return out


# -- lineage: a block per member -----------------------------------------------------------


def test_the_fixture_has_exploits_a_failed_segment_run_again_and_an_outsider(
    trials: list[TrialRecord], jumped: int
) -> None:
    assert {e.kind for t in trials for e in t.parents} == {"continued", "exploited"}
    assert trials[5].state is TrialState.FAILED and any(attempt(t) == 1 for t in trials)
    assert trials[-1].claim is None and trials[-1].state is TrialState.QUEUED
    assert len({member(t) for t in lineage.chain(trials, jumped)}) > 1


def test_lineage_prints_each_members_segments_and_exploit_jumps(
    db: Path, trials: list[TrialRecord]
) -> None:
    out = fits(ok(db, "lineage", "pbt"))
    blocks = [block.splitlines() for block in out.rstrip("\n").split("\n\n")]
    best = expected_best_final(trials)
    for index, block in enumerate(blocks[:4]):
        mine = [t for t in trials if t.claim and member(t) == index]
        final = [t for t in mine if t.state is TrialState.COMPLETE][-1]
        mark = " (best)" if final == best else ""
        head = f"member {index}: final #{final.number} = {final.value:.6g} at step {final.budget:g}"
        assert block[0] == head + mark
        assert [row.split() for row in rows(block[1:])] == [cells(t, trials) for t in mine]
    assert blocks[4:] == [
        [f"trials outside the population: #{trials[-1].number}"],
        [
            f"best final: #{best.number} (member {member(best)}); its schedule: "
            f"hpotrack trial pbt {best.number} --schedule"
        ],
    ]
    assert "⇐ copied #" in out and ", attempt 2" in out


def test_the_lineage_help_names_the_claims_as_stored(db: Path, trials: list[TrialRecord]) -> None:
    """The help says how a population's trials are claimed: as the database holds them
    (it said member:segment, and the claims are pbt:member:segment)."""
    said = re.search(r"claimed as (\S+)\)", " ".join(ok(db, "lineage", "--help").split()))
    assert said is not None
    form = re.escape(said.group(1)).replace("member", r"\d+").replace("segment", r"\d+")
    claims = [t.claim for t in trials if t.claim is not None]
    assert claims and all(re.fullmatch(form + r"(#\d+)?", claim) for claim in claims)


def test_lineage_json_has_the_same_data(db: Path, trials: list[TrialRecord]) -> None:
    data = json.loads(ok(db, "lineage", "pbt", "--format", "json"))
    assert (data["study"], data["outside"]) == ("pbt", [trials[-1].number])
    assert data["best_final"] == expected_best_final(trials).number
    assert [(m["family"], m["member"]) for m in data["members"]] == [("pbt", i) for i in range(4)]
    for block in data["members"]:
        mine = [t for t in trials if t.claim and member(t) == block["member"]]
        done = [t.number for t in mine if t.state is TrialState.COMPLETE]
        assert block["final"] == done[-1]
        assert [s["trial"] for s in block["segments"]] == [t.number for t in mine]
    segments = {s["trial"]: s for block in data["members"] for s in block["segments"]}
    again = next(t for t in trials if attempt(t) == 1)
    edge = source_edge(again)
    assert edge is not None and again.budget is not None
    assert segments[again.number] == {
        "trial": again.number, "family": "pbt", "member": member(again),
        "segment": int((again.claim or "").split(":")[2].split("#")[0]), "attempt": 1,
        "state": again.state.value, "first_step": (edge.step or 0) + 1,
        "last_step": int(again.budget), "value": again.value, "params": again.params,
        "source": {
            "parent": edge.parent, "kind": edge.kind, "step": edge.step, "detail": None,
            "member": member(trials[edge.parent]),
        },
    }  # fmt: skip
    assert segments[0]["source"] is None and segments[0]["first_step"] == 1
    assert (segments[5]["state"], segments[5]["value"]) == ("failed", None)


@pytest.mark.parametrize("which", ["jumped", "best final"])
def test_lineage_of_one_trial_is_its_chain_and_children(
    db: Path, trials: list[TrialRecord], jumped: int, which: str
) -> None:
    number = jumped if which == "jumped" else expected_best_final(trials).number
    chain = lineage.chain(trials, number)
    children = [(t, e) for t in trials for e in t.parents if e.parent == number]
    out = fits(ok(db, "lineage", "pbt", str(number)))
    head, tail = out.rstrip("\n").split("\n\n")
    lines = head.splitlines()
    assert lines[0] == f"chain of #{number}, oldest first:"
    expected = [cells(t, trials) for t in chain]
    for words, t in zip(expected, chain, strict=True):
        words[1:1] = ["member", str(member(t))]
    assert [row.split() for row in rows(lines[1:])] == expected
    listed = ", ".join(f"#{t.number} (member {member(t)}, {e.kind} at step {e.step})"
                       for t, e in children)  # fmt: skip
    assert " ".join(tail.split()) == f"children: {listed or 'none'}"
    data = json.loads(ok(db, "lineage", "pbt", str(number), "--format", "json"))
    assert [s["trial"] for s in data["chain"]] == [t.number for t in chain]
    assert [(c["child"], c["member"], c["kind"]) for c in data["children"]] == [
        (t.number, member(t), e.kind) for t, e in children
    ]


def test_lineage_of_the_queued_outsider(db: Path, trials: list[TrialRecord]) -> None:
    number = trials[-1].number
    out = fits(ok(db, "lineage", "pbt", str(number)))
    assert out.splitlines()[1:2] == [
        f"  #{number}  outside  steps 1..?  queued  start: lr=0.1 momentum=0.9 batch=32"
    ]
    assert out.rstrip().endswith("children: none")


def test_grid_claims_are_not_a_population(db: Path) -> None:
    assert ok(db, "lineage", "grid").startswith("no lineage in study 'grid'\n")
    assert json.loads(ok(db, "lineage", "grid", "--format", "json")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lineage", "pbt", "99"], "study 'pbt' has no trial 99 (it has trials 0-"),
        (["lineage", "pbt", "x"], "'x' is not a valid integer"),
        (["lineage", "pbt", "--format", "csv"], "'csv' is not one of 'table', 'json'"),
        (["lineage", "pbz"], "did you mean 'pbt'"),
    ],
)
def test_lineage_bad_input_is_one_line(db: Path, args: list[str], message: str) -> None:
    user_error(invoke(db, *args), message)


def test_a_member_without_a_complete_segment(capsys: pytest.CaptureFixture[str]) -> None:
    """Rendered from records: two families of claims, one member still running."""
    running = [
        TrialRecord(0, TrialState.RUNNING, {"x": 0.5}, budget=2.0, claim="pbt:0:0"),
        TrialRecord(1, TrialState.COMPLETE, {"x": 0.25}, value=1.5, budget=2.0, claim="pb2:0:0"),
        TrialRecord(
            2, TrialState.QUEUED, {"x": 0.3}, budget=4.0, claim="pb2:0:1",
            parents=(Edge(1, "continued", step=2),),
        ),
    ]  # fmt: skip
    population.show("s", running, "minimize", "table")
    assert capsys.readouterr().out.splitlines() == [
        "pb2 member 0: final #1 = 1.5 at step 2 (best)",
        "  #1  steps 1..2  1.5      start: x=0.25",
        "  #2  steps 3..4  queued   continued",
        "",
        "pbt member 0: no complete segment yet",
        "  #0  steps 1..2  running  start: x=0.5",
        "",
        "best final: #1 (pb2 member 0); its schedule: hpotrack trial s 1 --schedule",
    ]


def test_the_command_to_copy_is_never_wrapped(tmp_path: Path) -> None:
    """With a longer study name the footer does not fit 80 columns: the command goes
    on a line of its own, whole, instead of breaking before --schedule."""
    path = tmp_path / "h.db"
    make_pbt_study(path, "pbt-digits-experiment")
    best = expected_best_final(hp.load_study("pbt-digits-experiment", db=path).trials)
    lines = fits(ok(path, "lineage", "pbt-digits-experiment")).splitlines()
    assert lines[-2:] == [
        f"best final: #{best.number} (member {member(best)}); its schedule:",
        f"  hpotrack trial pbt-digits-experiment {best.number} --schedule",
    ]


# -- trial --schedule ----------------------------------------------------------------------


def schedule_lines(schedule: dict[str, list[tuple[int, Value]]]) -> list[str]:
    """How ``trial --schedule`` writes a schedule, from ``Study.schedule``."""
    width = max(map(len, schedule))
    return [
        f"  {name:<{width}}  "
        + ", ".join(f"{s}: {v:.6g}" if isinstance(v, float) else f"{s}: {v}" for s, v in line)
        for name, line in schedule.items()
    ]


def test_trial_schedule_shows_each_hyperparameter_over_steps(db: Path, jumped: int) -> None:
    schedule = hp.load_study("pbt", db=db).schedule(jumped)
    out = fits(ok(db, "trial", "pbt", str(jumped), "--schedule"))
    section = "\n".join(["", SCHEDULE, *schedule_lines(schedule), ""])
    assert section + "\n" in out
    plain = ok(db, "trial", "pbt", str(jumped))
    assert SCHEDULE not in plain
    assert plain == out.replace(section, "", 1)  # the rest is as without it


def test_trial_schedule_json(db: Path, jumped: int) -> None:
    schedule = hp.load_study("pbt", db=db).schedule(jumped)
    data = json.loads(ok(db, "trial", "pbt", str(jumped), "--schedule", "--format", "json"))
    assert data.pop("schedule") == {
        name: [{"from_step": s, "value": v} for s, v in line] for name, line in schedule.items()
    }
    assert data == json.loads(ok(db, "trial", "pbt", str(jumped), "--format", "json"))


def test_a_trial_that_continues_nothing_has_one_entry_per_hyperparameter(
    db: Path, trials: list[TrialRecord]
) -> None:
    data = json.loads(ok(db, "trial", "grid", "0", "--schedule", "--format", "json"))
    expected = {name: [{"from_step": 1, "value": v}] for name, v in data["params"].items()}
    assert data["schedule"] == expected
    out = ok(db, "trial", "pbt", "0", "--schedule")
    assert "\n".join(schedule_lines({k: [(1, v)] for k, v in trials[0].params.items()})) in out


def test_the_schedule_is_the_same_in_the_api_the_cli_and_the_export(db: Path) -> None:
    exported = json.loads(ok(db, "export", "pbt"))["best_schedule"]
    number = exported["trial"]
    data = json.loads(ok(db, "trial", "pbt", str(number), "--schedule", "--format", "json"))
    cli: dict[str, Any] = {
        name: [[p["from_step"], p["value"]] for p in line]
        for name, line in data["schedule"].items()
    }
    assert exported["schedule"] == cli
    api = hp.load_study("pbt", db=db).schedule(number)
    assert cli == {name: [list(p) for p in line] for name, line in api.items()}
    header = json.loads(ok(db, "export", "pbt", "--format", "jsonl").splitlines()[0])
    assert header["best_schedule"] == exported


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trial", "pbt", "99", "--schedule"], "study 'pbt' has no trial 99 (it has trials 0-"),
        (["trial", "pbt", "--schedule"], "Missing argument 'NUMBER'"),
        (["trial", "pbt", "1.5", "--schedule"], "'1.5' is not a valid integer"),
        (["trial", "pbt", "1", "--schedule=yes"], "does not take a value"),
        (["trial", "pbt", "1", "--schedule", "--format", "csv"], "'csv' is not one of"),
        (["trial", "nope", "1", "--schedule"], "no study named 'nope'"),
    ],
)
def test_trial_schedule_bad_input_is_one_line(db: Path, args: list[str], message: str) -> None:
    user_error(invoke(db, *args), message)
