"""``hpotrack trial``, ``best`` and ``lineage`` on real database files."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.cli.inspect import SPARK_WIDTH, SPARKS, sparkline
from hpotrack.records import Edge, TrialState
from hpotrack.store import close_stores, open_store
from tests.test_transfer import RUNGS, make_budget_study

SPACE = {
    "lr": hp.Float(1e-4, 1e-1, log=True),
    "layers": hp.Int(1, 4),
    "bs": [32, 64],
    "opt": ["adam", "sgd", None],
}
FIXED = {"lr": 0.01, "layers": 1, "bs": 32, "opt": None}


def tuned(db: Path, study: str = "mlp") -> hp.TunedFunction:
    """Trial 0 reports a long curve, others a short one; trial 2 raises."""

    @hp.tune(SPACE, study=study, db=db, seed=0, objective="loss", max_failures=100)
    def train(lr: float, layers: int, bs: int, opt: str | None, trial: hp.Trial) -> Any:
        for step in range(40 if trial.number == 0 else 3):
            trial.report(1.0 / (step + 1) + lr, step=step)
            trial.report(0.5 + step / 100, step=step, name="acc")
        if trial.number == 2:
            raise RuntimeError("diverged at epoch 3")
        return {"loss": lr * layers, "acc": 0.875, "note": "ok"}

    return train


def add_trial(db: Path, study: str, parents: list[Edge], value: float | None) -> int:
    """Insert the next trial with lineage edges, complete with ``value`` (or queued)."""
    store = open_store(db)
    row = store.find_study(study)
    assert row is not None
    number = len(hp.load_study(study, db=db).trials)
    state = TrialState.QUEUED if value is None else TrialState.RUNNING
    with store.write():
        trial_id = store.insert_trial(
            row.id, number=number, state=state, params=FIXED, origin="mutated", parents=parents
        ).id
    if value is not None:
        store.finish_trial(
            row.id,
            trial_id,
            state=TrialState.COMPLETE,
            value=value,
            metrics={"loss": value},
            error=None,
        )
    return number


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trials 0-3 searched (2 failed), 4 manual, 5-7 with lineage, 8 enqueued."""
    path = tmp_path_factory.mktemp("inspect") / "h.db"
    train = tuned(path)
    train.optimize(n_trials=4)
    train(lr=0.02, layers=2, bs=64, opt="adam")
    add_trial(path, "mlp", [Edge(0, "mutated", detail="lr x 1.2")], 0.3)
    add_trial(path, "mlp", [Edge(0, "crossover"), Edge(5, "crossover")], 0.2)
    add_trial(path, "mlp", [Edge(6, "exploited", step=3)], 0.1)
    train.study.enqueue({"lr": 0.001, "layers": 3, "bs": 64, "opt": "sgd"})
    close_stores()
    return path


def invoke(db: Path, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], input=input)


def ok(db: Path, *args: str) -> str:
    result = invoke(db, *args)
    assert result.exit_code == 0, result.output
    return result.output


def user_error(result: Result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Error:" in result.output and "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


# -- trial ---------------------------------------------------------------------------------


def test_trial_shows_params_metrics_and_provenance(db: Path) -> None:
    record = hp.load_study("mlp", db=db).trials[0]
    out = ok(db, "trial", "mlp", "0")
    assert out.startswith("Trial 0 of study 'mlp': complete\n")
    for name, value in record.params.items():
        assert any(
            line.split() == [name, repr(value) if isinstance(value, float) else str(value)]
            for line in out.splitlines()
        )
    assert f"loss  {record.metrics['loss']:.6g}" in out and "acc   0.875" in out
    assert "note  ok" in out and "origin    sampled" in out
    assert f"python       {platform.python_version()}" in out
    assert f"pid          {os.getpid()}" in out
    store = open_store(db)
    row = store.find_study("mlp")
    assert row is not None
    provenance = store.provenance(row.id, 0)
    if provenance["git_commit"]:
        assert f"git commit   {provenance['git_commit']}" in out
    assert f"source hash  {provenance['source_hash']}" in out


def assert_fits_80_columns_but_its_command(out: str) -> None:
    """Every line within 80 columns but the run's command line, which is never wrapped:
    a command copied in pieces runs as pieces."""
    command = [line for line in out.splitlines() if line.startswith("  argv ")]
    assert command in ([], [f"  argv         {shlex.join(sys.argv)}"])  # [] for no run
    assert max(len(line) for line in out.splitlines() if line not in command) <= 80


def test_trial_lines_fit_80_columns(db: Path) -> None:
    for number in ("0", "6"):
        assert_fits_80_columns_but_its_command(ok(db, "trial", "mlp", number))


def test_trial_keeps_a_path_with_hyphens_whole(tmp_path: Path) -> None:
    """A long metric value was wrapped at its hyphens and inside long words
    (``/tmp/pytest-of-root/...`` printed as ``pytest-`` and ``of-root``): a path
    cannot be copied back from two lines."""
    path = "/tmp/" + "-".join(["pytest-of-root"] * 6) + "/checkpoints/model-best.pt"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="paths", db=tmp_path / "h.db", seed=0)
    def train(x: float) -> dict[str, Any]:
        return {"value": x, "model": path, "note": "words " * 30}

    train.optimize(n_trials=1)
    out = ok(tmp_path / "h.db", "trial", "paths", "0")
    assert f"  model  {path}" in out.splitlines()
    note = [line for line in out.splitlines() if line.strip().startswith("words")]
    assert len(note) > 1 and all(len(line) <= 80 for line in note)  # text still wraps


def test_a_long_curve_is_a_sparkline_with_first_last_min_max(db: Path) -> None:
    out = ok(db, "trial", "mlp", "0")
    lr = hp.load_study("mlp", db=db).trials[0].params["lr"]
    assert "loss: 40 points, steps 0…39" in out
    spark = out.split("loss: 40 points")[1].splitlines()[1].strip()
    assert len(spark) == 40 and set(spark) <= set(SPARKS)
    assert spark[0] == "█" and spark[-1] == "▁"  # a falling loss
    assert f"first {1 + lr:.6g}" in out and f"last {1 / 40 + lr:.6g}" in out
    assert f"min {1 / 40 + lr:.6g} at step 39" in out and f"max {1 + lr:.6g} at step 0" in out


def test_a_short_curve_is_a_table(db: Path) -> None:
    out = ok(db, "trial", "mlp", "1")
    lr = hp.load_study("mlp", db=db).trials[1].params["lr"]
    rows = [line.split() for line in out.split("Curves\n")[1].splitlines()]
    assert ["step", "acc"] in rows and ["2", "0.52"] in rows
    assert ["step", "loss"] in rows and ["1", f"{0.5 + lr:.6g}"] in rows
    assert "▁" not in out


def test_a_failed_trial_shows_its_full_traceback(db: Path) -> None:
    out = ok(db, "trial", "mlp", "2")
    assert "Trial 2 of study 'mlp': failed" in out
    error = out.split("\nError\n")[1]
    assert error.startswith("Traceback (most recent call last):")
    assert 'raise RuntimeError("diverged at epoch 3")' in error
    assert error.rstrip().endswith("RuntimeError: diverged at epoch 3")


def test_trial_shows_parents_and_children_with_kinds(db: Path) -> None:
    out = ok(db, "trial", "mlp", "6")
    assert "parents   #0 crossover, #5 crossover" in out
    assert "children  #7 exploited at step 3" in out
    assert "children  #5 mutated [lr x 1.2], #6 crossover" in ok(db, "trial", "mlp", "0")
    queued = ok(db, "trial", "mlp", "8")
    assert "queued" in queued and "origin    enqueued" in queued
    assert "Provenance" not in queued and "Lineage" not in queued


def test_trial_json_is_one_object_with_everything(db: Path) -> None:
    data = json.loads(ok(db, "trial", "mlp", "6", "--format", "json"))
    assert set(data) == {
        "study", "number", "state", "params", "value", "metrics", "budget", "origin",
        "parents", "started", "finished", "duration", "error", "host", "pid", "curve",
        "children", "provenance", "rung", "bracket", "checks", "note", "trained", "checkpoints",
        "method", "chosen_by",
    }  # fmt: skip
    assert (data["study"], data["number"], data["state"], data["value"]) == (
        "mlp",
        6,
        "complete",
        0.2,
    )
    assert data["params"] == FIXED
    assert data["parents"] == [
        {"parent": 0, "kind": "crossover", "step": None, "detail": None},
        {"parent": 5, "kind": "crossover", "step": None, "detail": None},
    ]
    assert data["children"] == [
        {"child": 7, "parent": 6, "kind": "exploited", "step": 3, "detail": None}
    ]
    failed = json.loads(ok(db, "trial", "mlp", "2", "--format", "json"))
    assert failed["error"].endswith("RuntimeError: diverged at epoch 3\n")
    assert [p["step"] for p in failed["curve"]["acc"]] == [0, 1, 2]
    assert failed["curve"]["acc"][2]["value"] == pytest.approx(0.52)
    assert failed["provenance"]["python"] == platform.python_version()


def test_trial_marks_the_checkpoint_files_that_are_gone(tmp_path: Path) -> None:
    """A database copied without its ``.ckpt`` folder, or files deleted by hand: the
    listing does not present them (and their sizes) as on disk."""
    db = tmp_path / "c.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="c", db=db, seed=0, keep_checkpoints="all")
    def f(x: float, trial: hp.Trial) -> float:
        trial.save_checkpoint(b"early", step=1)
        trial.save_checkpoint(b"final", step=2)
        return x

    f.optimize(n_trials=1)
    first = min((db.parent / "c.db.ckpt").rglob("trial-0-step-1-*"))
    first.unlink()
    lines = [line for line in ok(db, "trial", "c", "0").splitlines() if "trial-0-step-" in line]
    assert [line.endswith("(file missing)") for line in lines] == [True, False]
    data = json.loads(ok(db, "trial", "c", "0", "--format", "json"))
    assert [c["exists"] for c in data["checkpoints"]] == [False, True]


def test_unknown_trial_number(db: Path) -> None:
    user_error(invoke(db, "trial", "mlp", "99"), "study 'mlp' has no trial 99 (it has trials 0-8)")
    assert invoke(db, "trial", "mlp", "x").exit_code == 2


@pytest.fixture(scope="module")
def mf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Study "mf": a budget in epochs; trials with rungs, brackets (``RUNGS``) and checks."""
    path = tmp_path_factory.mktemp("budget") / "h.db"
    make_budget_study(path)
    close_stores()
    return path


def section(out: str, title: str) -> list[list[str]]:
    """The lines of one section of ``trial``'s output, split into words."""
    lines = out.split(f"\n{title}\n")[1].split("\n\n")[0].splitlines()
    return [line.split() for line in lines]


def test_trial_shows_its_budget_rung_bracket_and_checks(mf: Path) -> None:
    records = hp.load_study("mf", db=mf).trials
    for number in (0, 5):  # a complete and a pruned trial; rung 0 is shown, not dropped
        out = ok(mf, "trial", "mf", str(number))
        lines = [line.split() for line in out.splitlines()]
        rung, bracket = RUNGS[number]
        assert ["budget", "9", "epochs"] in lines
        checks = records[number].checks
        assert ["rung", str(rung), "(checked", "at", "step", f"{max(checks)})"] in lines
        assert ["bracket", str(bracket)] in lines
        decision = {
            TrialState.COMPLETE: f"went on at {len(checks)} check{'s' * (len(checks) > 1)}",
            TrialState.PRUNED: f"stopped at step {max(checks)}",
        }[records[number].state]
        assert section(out, "Checks") == [
            ["step", "value"],
            *([str(step), f"{value:.6g}"] for step, value in sorted(checks.items())),
            decision.split(),
        ]
        assert_fits_80_columns_but_its_command(out)


def test_trial_says_where_it_stopped_why_and_whether_it_was_promoted(tmp_path: Path) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="s", db=db, seed=3,
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        loss = 0.0
        for epoch in trial.steps:
            loss = float("nan") if x > 0.5 else x + 1.0 / epoch
            trial.save_checkpoint(epoch)
            trial.report(loss, step=epoch)
        return loss

    trials = train.optimize(n_trials=20).trials
    close_stores()
    promoted = next(t for t in trials if t.origin == "promoted")
    parent = promoted.parents[0].parent
    out = ok(db, "trial", "s", str(parent))
    assert section(out, "Checks")[-1] == (
        f"stopped at step 1; promoted later as trial {promoted.number}".split()
    )
    diverged = next(t for t in trials if t.params["x"] > 0.5)
    out = ok(db, "trial", "s", str(diverged.number))
    assert "\n  stopped at step 1 (it reported NaN or infinity there: the worst value)\n" in out


def test_trial_says_at_which_step_its_rung_checked_it(tmp_path: Path) -> None:
    """``rung 1`` alone left the step to work out (show's rungs line knew it): a trial's
    rung names the step of its last check, the one that set it, and a promotion not
    checked since names its parent's check that promoted it, as the trials stored them."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="s", db=db, seed=3,
             budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(x + 1.0 / epoch, step=epoch)
        return x

    trials = train.optimize(n_trials=20).trials
    close_stores()
    for rung, step in ((0, 1), (1, 3)):  # Budget(1, 9) with eta=3: rungs at 1, 3 and 9
        checked = next(t for t in trials if t.rung == rung and t.checks)
        lines = [line.split() for line in ok(db, "trial", "s", str(checked.number)).splitlines()]
        assert ["rung", str(rung), "(checked", "at", "step", f"{step})"] in lines
    promoted = next(t for t in trials if t.origin == "promoted" and not t.checks)
    (edge,) = promoted.parents
    out = " ".join(ok(db, "trial", "s", str(promoted.number)).split())
    assert (
        f"rung {promoted.rung} (promoted from trial {edge.parent}'s check there, at step "
        f"{edge.step})"
    ) in out
    assert edge.step == 3 and promoted.rung == 1


def test_trial_leaves_out_the_rung_and_checks_it_does_not_have(mf: Path, db: Path) -> None:
    lines = [line.split() for line in ok(mf, "trial", "mf", "7").splitlines()]
    assert not any(line[:1] in (["rung"], ["bracket"]) for line in lines)
    assert ["Checks"] in lines  # trial 7 has checks but no rung
    out = ok(db, "trial", "mlp", "0")
    assert "\nChecks\n" not in out
    assert not any(line.split()[:1] in (["rung"], ["bracket"]) for line in out.splitlines())
    assert ["budget", "-"] in [line.split() for line in out.splitlines()]


def test_trial_json_has_the_rung_bracket_and_checks(mf: Path) -> None:
    record = hp.load_study("mf", db=mf).trials[5]
    data = json.loads(ok(mf, "trial", "mf", "5", "--format", "json"))
    assert (data["rung"], data["bracket"], data["budget"]) == (*RUNGS[5], 9.0)
    assert data["checks"] == {str(step): value for step, value in record.checks.items()}
    assert data["checks"] and data["state"] == record.state.value


def test_sparkline_buckets_long_curves_and_leaves_gaps() -> None:
    assert len(sparkline([float(i) for i in range(500)])) == SPARK_WIDTH
    assert sparkline([0.0, None, 7.0]) == "▁ █"
    assert sparkline([2.0, 2.0]) == SPARKS[3] * 2


# -- best ----------------------------------------------------------------------------------


def test_best_json_has_a_stable_shape(db: Path) -> None:
    best = hp.load_study("mlp", db=db).best
    assert json.loads(ok(db, "best", "mlp", "--format", "json")) == {
        "study": "mlp",
        "number": best.number,
        "value": best.value,
        "params": best.params,
        "metrics": {"loss": best.value, "acc": 0.875, "note": "ok"},
    }


def test_best_table_is_key_value(db: Path) -> None:
    best = hp.load_study("mlp", db=db).best
    lines = ok(db, "best", "mlp").splitlines()
    assert lines[:4] == [
        "study      mlp",
        f"number     {best.number}",
        f"value      {best.value!r}",
        "objective  loss (minimize)",
    ]
    assert lines[4] == "params" and ["lr", repr(best.params["lr"])] in map(str.split, lines)
    assert lines[-3:] == ["metrics", "  acc   0.875", "  note  ok"]


def test_best_of_a_function_returning_a_number_shows_no_metrics(tmp_path: Path) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"x": (0.0, 1.0)}, method="manual", study="n", db=db)
    def f(x: float) -> float:
        return x

    f(x=0.25)
    assert json.loads(ok(db, "best", "n", "--format", "json"))["metrics"] == {"value": 0.25}
    assert "metrics" not in ok(db, "best", "n")


def test_best_without_a_complete_trial(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tuned(db, "empty").study.enqueue(FIXED)
    user_error(invoke(db, "best", "empty"), "study 'empty' has no complete trial yet")


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_best_of_two_objectives_without_a_complete_trial_is_an_error_in_every_format(
    tmp_path: Path, fmt: str
) -> None:
    """As with one objective: no front yet is one clear error, in JSON too (a script
    reading the front learns why there is none instead of an empty list)."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="mo", db=db, seed=0,
             objective=("error", "x"), direction=("minimize", "maximize"))  # fmt: skip
    def train(x: float) -> dict[str, float]:
        return {"error": x}  # no "x": every trial fails

    train.optimize(n_trials=2, progress=False)
    user_error(invoke(db, "best", "mo", "--format", fmt), "study 'mo' has no complete trial yet")


# -- lineage -------------------------------------------------------------------------------


def test_lineage_tree(db: Path) -> None:
    v0 = f"{hp.load_study('mlp', db=db).trials[0].value:.6g}"
    assert ok(db, "lineage", "mlp").splitlines() == [
        f"#0 (complete, {v0})",
        "├─ mutated [lr x 1.2] → #5 (complete, 0.3)",
        "│  └─ crossover → #6 (complete, 0.2)",
        "│     └─ exploited at step 3 → #7 (complete, 0.1)",
        "└─ crossover → #6 (complete, 0.2) (see above)",
        "",
        "5 trials without lineage (--all lists them)",
    ]
    listed = ok(db, "lineage", "mlp", "--all")
    assert "trials without lineage:\n#1 (complete," in listed
    assert "#2 (failed)\n" in listed and listed.endswith("#8 (queued)\n")


def test_lineage_of_one_trial_shows_ancestors_and_descendants(db: Path) -> None:
    v0 = f"{hp.load_study('mlp', db=db).trials[0].value:.6g}"
    assert ok(db, "lineage", "mlp", "6").splitlines() == [
        "ancestors of #6:",
        "#6 (complete, 0.2)",
        f"├─ crossover ← #0 (complete, {v0})",
        "└─ crossover ← #5 (complete, 0.3)",
        f"   └─ mutated [lr x 1.2] ← #0 (complete, {v0}) (see above)",
        "",
        "descendants of #6:",
        "#6 (complete, 0.2)",
        "└─ exploited at step 3 → #7 (complete, 0.1)",
    ]
    alone = ok(db, "lineage", "mlp", "3")
    assert "ancestors of #3:\n#3 has no parents (origin: sampled)\n" in alone
    assert "descendants of #3:\nno children" in alone
    user_error(invoke(db, "lineage", "mlp", "42"), "has no trial 42")


def test_lineage_json_is_the_list_of_edges(db: Path) -> None:
    edges = json.loads(ok(db, "lineage", "mlp", "--format", "json"))
    assert edges == [
        {"child": 5, "parent": 0, "kind": "mutated", "step": None, "detail": "lr x 1.2"},
        {"child": 6, "parent": 0, "kind": "crossover", "step": None, "detail": None},
        {"child": 6, "parent": 5, "kind": "crossover", "step": None, "detail": None},
        {"child": 7, "parent": 6, "kind": "exploited", "step": 3, "detail": None},
    ]
    below = json.loads(ok(db, "lineage", "mlp", "7", "--format", "json"))
    assert [(e["child"], e["parent"]) for e in below] == [(5, 0), (6, 0), (6, 5), (7, 6)]
    assert json.loads(ok(db, "lineage", "mlp", "5", "--format", "json")) == [
        edges[0], edges[2], edges[3]
    ]  # fmt: skip


def test_a_deep_lineage_folds_to_stay_in_80_columns(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tuned(db, "chain").study.enqueue(FIXED)
    for parent in range(30):
        add_trial(db, "chain", [Edge(parent, "promoted", step=parent)], None)
    out = ok(db, "lineage", "chain")
    assert max(map(len, out.splitlines())) <= 80
    assert "\n#8 (queued) (continued)\n" in out and "\n#16 (queued) (continued)\n" in out
    assert "─ promoted at step 7 → #8 (queued)\n" + " " * 24 + "┄ continued below\n" in out
    for number in range(31):
        assert f"#{number} (queued)" in out
    assert "without lineage" not in out


def test_a_study_without_lineage(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tuned(db, "flat").study.enqueue(FIXED)
    assert ok(db, "lineage", "flat").splitlines() == [
        "no lineage in study 'flat'",
        "",
        "1 trial without lineage (--all lists them)",
    ]


# -- errors shared by every command ------------------------------------------------------

COMMANDS = [["trial", "mlp", "0"], ["best", "mlp"], ["lineage", "mlp"], ["lineage", "mlp", "1"]]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_unknown_study_suggests_close_names(db: Path, args: list[str]) -> None:
    user_error(invoke(db, args[0], "mpl", *args[2:]), "no study named 'mpl'", "did you mean 'mlp'")


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_missing_database(tmp_path: Path, args: list[str]) -> None:
    user_error(invoke(tmp_path / "nope.db", *args), "no database at")
    assert not (tmp_path / "nope.db").exists()


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_not_a_database(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "junk.db").write_bytes(b"hello" * 100)
    user_error(invoke(tmp_path / "junk.db", *args), "is not an hpotrack database")


# -- the installed executable ------------------------------------------------------------


def run_hpotrack(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("hpotrack") or pytest.skip("no hpotrack executable: pip install -e .")
    env = {**os.environ, "HPOTRACK_DB": str(db)}
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_executable_show_and_best(db: Path) -> None:
    best = hp.load_study("mlp", db=db).best
    shown = run_hpotrack(db, "show", "mlp", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    assert [row["number"] for row in json.loads(shown.stdout)] == list(range(9))
    found = run_hpotrack(db, "best", "mlp", "--format", "json")
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {
        "study": "mlp",
        "number": best.number,
        "value": best.value,
        "params": best.params,
        "metrics": {"loss": best.value, "acc": 0.875, "note": "ok"},
    }


def test_executable_user_error_is_one_line(tmp_path: Path) -> None:
    done = run_hpotrack(tmp_path / "nope.db", "best", "mlp")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Error: no database at") and done.stderr.count("\n") == 1


def test_python_dash_m_hpotrack_is_the_command(db: Path) -> None:
    """Where the ``hpotrack`` script is not on PATH (a venv not activated)."""
    done = subprocess.run(
        [sys.executable, "-m", "hpotrack", "--db", str(db), "best", "mlp", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["number"] == hp.load_study("mlp", db=db).best.number


def test_trial_gives_an_edge_detail_whole_where_the_lineage_tree_clips_it(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    tuned(db, "s").study.enqueue(FIXED)
    reason = "worker lost: process 104857 on a-long-host-name is gone"
    number = add_trial(db, "s", [Edge(0, "retried", detail=reason)], 0.5)
    assert f"#0 retried [{reason}]" in ok(db, "trial", "s", str(number))
    assert "[worker lost: process 10…]" in ok(db, "lineage", "s")


def test_one_trial_its_lineage_and_the_best_read_no_other_trials(
    db: Path, tmp_path: Path, refuse_full_reads: Callable[[], None]
) -> None:
    """The same output as before, from the trial shown, its ancestors, its descendants
    and its promotions (sha: checks, promoted children, checkpoints, schedules)."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="s", db=tmp_path / "h.db",
             seed=3, budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.save_checkpoint(epoch)
            trial.report(x + 1.0 / epoch, step=epoch)
        return x

    trials = train.optimize(n_trials=20).trials
    close_stores()
    promoted = next(t for t in trials if t.origin == "promoted")
    parent = str(promoted.parents[0].parent)
    commands = [
        (db, ["trial", "mlp", "6"]),
        (db, ["trial", "mlp", "7", "--schedule", "--format", "json"]),
        (db, ["lineage", "mlp", "6"]),
        (db, ["lineage", "mlp", "5", "--format", "json"]),
        (db, ["lineage", "mlp", "3"]),
        (db, ["best", "mlp"]),
        (tmp_path / "h.db", ["trial", "s", parent]),
        (tmp_path / "h.db", ["trial", "s", str(promoted.number), "--schedule"]),
        (tmp_path / "h.db", ["lineage", "s", parent, "--format", "json"]),
        (tmp_path / "h.db", ["best", "s", "--format", "json"]),
    ]
    expected = [ok(path, *args) for path, args in commands]
    close_stores()
    refuse_full_reads()
    assert [ok(path, *args) for path, args in commands] == expected


def test_the_lineage_tree_reads_only_the_trials_on_its_edges(
    db: Path, tmp_path: Path, refuse_full_reads: Callable[[], None]
) -> None:
    """`lineage STUDY` read every trial (3 s for 100,000 of random search, to say it has
    no lineage): now the study's edges, the trials on them and a count of the others.
    The same output as before."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="flat", db=tmp_path / "f.db")
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=5)
    close_stores()
    commands = [
        (db, ["lineage", "mlp"]),
        (db, ["lineage", "mlp", "--format", "json"]),
        (tmp_path / "f.db", ["lineage", "flat"]),
    ]
    expected = [ok(path, *args) for path, args in commands]
    assert expected[2].endswith("5 trials without lineage (--all lists them)\n")
    close_stores()
    refuse_full_reads()
    assert [ok(path, *args) for path, args in commands] == expected


def test_options_that_print_alike_are_told_apart_in_tables_and_trials(tmp_path: Path) -> None:
    """1, True, "1" and "True" are four options of one Choice: `show` printed the first
    two and the last two alike, and `trial` "1" as 1. Text that reads as another value is
    quoted, as `enqueue` takes it; the option None reads None, as in `trial` (a blank
    cell is a parameter the trial left inactive)."""
    db = tmp_path / "h.db"
    options = [None, True, 1, "1", "True", "adam"]

    @hp.tune({"c": hp.Choice(options)}, method="manual", study="m", db=db)
    def train(c: object) -> float:
        return 0.5

    for option in options:
        train(c=option)
    rows = invoke(db, "show", "m").output.splitlines()[3:]  # below the seed and the header
    assert [row.split()[3] for row in rows] == ["None", "True", "1", '"1"', '"True"', "adam"]
    assert '  c  "1"' in invoke(db, "trial", "m", "3").output
    assert invoke(db, "enqueue", "m", 'c="True"').exit_code == 0
    assert hp.load_study("m", db=db).trials[-1].params["c"] == "True"


def test_text_with_a_newline_stays_on_its_line_escaped(tmp_path: Path) -> None:
    """A Choice option or a metric with a newline (or a tab) printed as it is broke a
    table's row, a trial's line and the folded params in two: it is quoted, escaped as
    JSON, which is also what `enqueue` takes for it."""
    db = tmp_path / "h.db"

    @hp.tune({"c": hp.Choice(["a\nb", "tab\there"])}, method="manual", study="m", db=db)
    def train(c: str) -> dict[str, Any]:
        return {"value": 0.5, "status": "line 1\nline 2"}

    train(c="a\nb")
    train(c="tab\there")
    lines = invoke(db, "show", "m").output.splitlines()[1:]  # below the seed
    assert len(lines) == 4 and '"a\\nb"' in lines[2] and '"tab\\there"' in lines[3]
    out = ok(db, "trial", "m", "0")
    assert '  c  "a\\nb"' in out and '  status  "line 1\\nline 2"' in out
    assert "b" not in out.splitlines() and "line 2" not in out.splitlines()
    assert '  c  "a\\nb"' in ok(db, "best", "m")
    assert invoke(db, "enqueue", "m", 'c="a\\nb"').exit_code == 0
    assert hp.load_study("m", db=db).trials[-1].params["c"] == "a\nb"


def test_a_nan_report_in_a_short_curve_reads_nan(tmp_path: Path) -> None:
    """A NaN report is stored as null and its cell of the curve table was blank, as if
    the step had no value; infinities kept their sign."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="manual", study="m", db=db)
    def train(x: float, trial: hp.Trial) -> float:
        for step, value in enumerate([1.0, math.nan, math.inf, 0.5], start=1):
            trial.report(value, step=step)
        return x

    train(x=0.3)
    curve = section(ok(db, "trial", "m", "0"), "Curves")
    assert curve == [["step", "value"], ["1", "1"], ["2", "nan"], ["3", "inf"], ["4", "0.5"]]


def test_best_of_a_study_of_two_objectives_is_its_pareto_front(db: Path) -> None:
    """No one trial is best: `best` lists the front (a table, or JSON with each trial's
    values by objective), and `trial` each objective's value."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="mo", db=db, seed=0,
             objective=("error", "x"), direction=("minimize", "maximize"))  # fmt: skip
    def train(x: float) -> dict[str, float]:
        return {"error": (x - 0.5) ** 2, "x": x}

    study = train.optimize(n_trials=10, progress=False)
    front = [t.number for t in study.best_trials]
    result = CliRunner().invoke(cli, ["--db", str(db), "best", "mo"])
    assert result.exit_code == 0, result.output
    first, header, _, *rows = result.output.splitlines()
    assert first == (
        f"study 'mo' optimizes error (minimize), x (maximize): {len(front)} trials on its "
        "Pareto front (none of them beaten on every objective by another trial)"
    )
    assert header.split() == ["number", "error", "x", "param_x"]
    assert [int(row.split()[0]) for row in rows] == front
    data = json.loads(
        CliRunner().invoke(cli, ["--db", str(db), "best", "mo", "--format", "json"]).output
    )
    assert data["objectives"] == {"error": "minimize", "x": "maximize"}
    assert [t["number"] for t in data["front"]] == front
    assert data["front"][0]["values"] == dict(
        zip(("error", "x"), study.values(study.best_trials[0]), strict=True)
    )
    trial = CliRunner().invoke(cli, ["--db", str(db), "trial", "mo", str(front[0])]).output
    error, x = study.values(study.best_trials[0])
    assert f"value     error={error!r}, x={x!r}" in trial
