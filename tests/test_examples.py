"""The examples run for real (scikit-learn models), with small budgets."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

import hpotrack as hp

ROOT = Path(__file__).resolve().parents[1]
# examples with a test of their own below, named test_<example>_..., which checks all that
# the shared test does: the arguments that test runs it with
OWN_TEST = {
    "quickstart": ["3"],
    "evolution_forest_size": ["10"],
    "pbt_digits": ["3"],
    "ridge_hypergradient": ["8"],
    "tpe_gradient_boosting": ["20", "4"],  # N_TRIALS, PATIENCE
    "tpe_forest_size_cap": ["10"],
    "searchcv_pipeline": ["12"],
}
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if p.stem not in OWN_TEST)
ARGS = {  # the first argument of each: N_TRIALS, unless said otherwise
    # ASHA stops the first arrivals at each rung: enough trials that one trains fully
    "bohb_mlp": ["150"],  # epochs (max_budget), not trials
    "hyperband_sgd": ["40"],  # the most aggressive bracket's run: 27 + 9 + 3 + 1 trials
    "sha_sgd": ["20"],
}
SMALL = ["4"]
# example -> (its working directory, its run), from :func:`example_runs`
Runs = dict[str, tuple[Path, Future[subprocess.CompletedProcess[str]]]]


def run_example(
    name: str, cwd: Path, args: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run examples/<name>.py in ``cwd`` (default database: ./hpotrack.db there), with
    ``args`` or its small budget."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("HPOTRACK_DB", None)
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / f"{name}.py"), *(args or ARGS.get(name, SMALL))],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def import_example(name: str) -> ModuleType:
    """examples/<name>.py imported in this process (its ``__main__`` block not run)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_manual_svm_run_again_says_it_has_nothing_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run again with the same N_TRIALS, the other examples say that their target is
    reached; manual_svm.py printed only its best, as if it had searched again."""
    pytest.importorskip("sklearn")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPOTRACK_DB", raising=False)
    example = import_example("manual_svm")
    example.main(3)
    assert "nothing to run" not in capsys.readouterr().out
    example.main(3)
    assert "3 trials stored: the target of 3 is reached, nothing to run" in capsys.readouterr().out
    assert len(hp.load_study("manual_svm", db=tmp_path / "hpotrack.db").trials) == 3


def test_quickstart_tunes_a_real_model_into_hpotrack_db(example_runs: Runs) -> None:
    cwd, result = finished(example_runs, "quickstart")  # 3 trials
    assert result.returncode == 0, result.stderr
    assert "best accuracy" in result.stdout
    study = hp.load_study("quickstart", db=cwd / "hpotrack.db")
    assert len(study.trials) == 3 and 0.1 < study.best.value <= 1.0
    assert len(study.curve(0)["accuracy"]) == 3  # one report per fold


def test_evolution_forest_size_prints_the_pareto_front_of_error_and_size(
    example_runs: Runs,
) -> None:
    """Two objectives: no best trial, the front printed smallest first, each line the
    trial's two values as stored, and a real trade-off (the smallest is the least
    accurate)."""
    cwd, result = finished(example_runs, "evolution_forest_size")  # 10 trials
    assert result.returncode == 0, result.stderr
    study = hp.load_study("evolution_forest_size", db=cwd / "hpotrack.db")
    assert study.objectives == ("error", "nodes") and len(study.trials) == 10
    front = sorted(study.best_trials, key=lambda t: study.values(t)[1])
    lines = re.findall(r"trial +(\d+): error ([0-9.]+) with +(\d+) nodes", result.stdout)
    assert [int(number) for number, _, _ in lines] == [t.number for t in front]
    for (_, error, nodes), trial in zip(lines, front, strict=True):
        assert (float(error), float(nodes)) == pytest.approx(study.values(trial), abs=5e-5)
    errors = [study.values(t)[0] for t in front]
    assert errors == sorted(errors, reverse=True)  # smaller forests err more, or they'd dominate
    assert f"Pareto front: {len(front)} of 10 forests" in result.stdout


def test_tpe_forest_size_cap_prints_the_best_forest_within_the_cap(example_runs: Runs) -> None:
    """A constraint: the best printed is the best trial within the cap as stored, the
    count of feasible trials is the stored one, and an oversized best is said apart."""
    cwd, result = finished(example_runs, "tpe_forest_size_cap")  # 10 trials
    assert result.returncode == 0, result.stderr
    study = hp.load_study("tpe_forest_size_cap", db=cwd / "hpotrack.db")
    assert study.constraints == (hp.Constraint("nodes", at_most=2000),) and len(study.trials) == 10
    feasible = [t for t in study.trials if t.metrics["nodes"] <= 2000]
    assert f"{len(feasible)} of 10 forests fit the cap of 2000 nodes" in result.stdout
    best = min(feasible, key=lambda t: (t.value, t.number))
    assert study.best == best
    assert f"best within the cap: trial {best.number}, error {best.value:.4f}" in result.stdout
    oversized = min(study.trials, key=lambda t: (t.value, t.number))
    if oversized.metrics["nodes"] > 2000:
        over = oversized.metrics["nodes"] - 2000
        assert f"best of all: trial {oversized.number}" in result.stdout
        assert f"over the cap by {over:.0f}" in result.stdout


def test_searchcv_pipeline_prints_what_the_study_stored(example_runs: Runs) -> None:
    """SearchCV's trials are the study's: the best printed is its best, the counts of
    pruned trials and fold fits are those stored (a pruned trial fitted fewer folds)."""
    cwd, result = finished(example_runs, "searchcv_pipeline")  # 12 trials
    assert result.returncode == 0, result.stderr
    study = hp.load_study("searchcv_pipeline", db=cwd / "hpotrack.db")
    assert len(study.trials) == 12 and study.objective == "mean_test_score"
    best = study.best
    assert f"best cross-validated accuracy {best.value:.4f} (trial {best.number})" in result.stdout
    states = [t.state.value for t in study.trials]
    folds = {t.number: len(study.curve(t.number)["mean_test_score"]) for t in study.trials}
    for t in study.trials:  # complete: every fold; pruned: stopped before the last
        assert folds[t.number] == 5 if t.state is hp.TrialState.COMPLETE else folds[t.number] < 5
    fits = sum(folds.values())
    expected = f"12 trials: {states.count('complete')} complete, {states.count('pruned')} pruned"
    assert f"{expected}; {fits} fold fits of 60" in result.stdout
    assert "held-out accuracy of the refit pipeline: 0.9" in result.stdout


def test_pbt_digits_trains_a_population_and_prints_its_schedule(example_runs: Runs) -> None:
    cwd, result = finished(example_runs, "pbt_digits")  # 3 segments each
    assert result.returncode == 0, result.stderr
    study = hp.load_study("pbt-digits", db=cwd / "hpotrack.db")
    trials = study.trials
    assert len(trials) <= 8 * 3  # population x generations, fewer when members jump ahead
    assert all(t.state == hp.TrialState.COMPLETE for t in trials)
    assert max(t.budget or 0 for t in trials) == 3 * 4  # nobody trains past the horizon
    kinds = {edge.kind for t in trials for edge in t.parents}
    assert {"exploited", "continued"} <= kinds
    for t in trials:  # every segment trains 4 epochs, right after its checkpoint's step
        steps = [step for step, _ in study.curve(t.number)["error"]]
        start = (t.parents[0].step or 0) if t.parents else 0
        assert steps == list(range(start + 1, start + 5)) and t.budget == start + 4
    found = re.search(r"best final member: trial (\d+), validation error ([0-9.]+)", result.stdout)
    assert found, result.stdout
    best = study.trial(int(found.group(1)))
    assert best.value is not None and 0.0 <= best.value < 0.5
    assert f"{best.value:.4f}" == found.group(2)
    schedule = study.schedule(best.number)
    assert set(schedule) == {"eta0", "alpha"} and schedule["eta0"][0][0] == 1
    assert "its learned schedule:" in result.stdout
    for name, points in schedule.items():  # the last value of each is printed
        assert f"{name}={points[-1][1]:.3g}" in result.stdout
    assert "hpotrack lineage pbt-digits" in result.stdout


def test_tpe_gradient_boosting_stops_once_its_patience_is_spent(example_runs: Runs) -> None:
    cwd, result = finished(example_runs, "tpe_gradient_boosting")  # 20 trials, patience 4
    assert result.returncode == 0, result.stderr
    study = hp.load_study("tpe_gradient_boosting", db=cwd / "hpotrack.db")
    trials, best = study.trials, study.best
    assert all(t.state == hp.TrialState.COMPLETE for t in trials)
    assert len(trials) == best.number + 1 + 4 < 20  # four after the best, none better
    assert f"(trial {best.number} of {len(trials)})" in result.stdout
    assert "in the 4 complete trials since: the patience of 4 is spent" in result.stderr


def test_ridge_hypergradient_descends_a_chain_of_steps_with_the_exact_gradient(
    example_runs: Runs,
) -> None:
    import itertools

    import numpy as np

    cwd, result = finished(example_runs, "ridge_hypergradient")  # 8 steps
    assert result.returncode == 0, result.stderr
    study = hp.load_study("ridge-hypergradient", db=cwd / "hpotrack.db")
    trials = study.trials
    assert len(trials) == 8 and all(t.state == hp.TrialState.COMPLETE for t in trials)
    centre = list(trials[0].params.values())  # lam = 1: the centre of [1e-4, 1e4] in log
    assert len(centre) == 64 and centre == pytest.approx([1.0] * 64)
    assert trials[0].parents == ()
    for before, after in itertools.pairwise(trials):  # one chain of Adam steps
        assert after.origin == "gradient-step"
        assert [(e.parent, e.kind) for e in after.parents] == [(before.number, "gradient-step")]
        assert set(after.metrics["hypergrad"]) == set(after.params)
    values = [t.value for t in trials if t.value is not None]  # 0.047 -> 0.037 on this split
    assert len(values) == 8 and min(values) == values[-1] < 0.85 * values[0]
    assert f"best {study.best.value:.5f} (trial 7 of 8)" in result.stdout

    # the closed-form hypergradient against central differences, in log units
    example = import_example("ridge_hypergradient")
    split = example.load_split(0)
    lams = 10.0 ** np.random.default_rng(3).uniform(-4, 4, 64)
    loss, gradient = example.validation_loss(lams, split)
    assert loss == pytest.approx(example.mse(example.fit(lams, split)[1], split.x_val, split.y_val))
    h, numeric = 1e-5, np.empty(64)
    for j in range(64):
        up, down = lams.copy(), lams.copy()
        up[j], down[j] = lams[j] * np.exp(h), lams[j] * np.exp(-h)
        difference = example.validation_loss(up, split)[0] - example.validation_loss(down, split)[0]
        numeric[j] = difference / (2 * h)
    scale = np.abs(numeric).max()
    assert scale > 0
    np.testing.assert_allclose(gradient * lams, numeric, rtol=1e-5, atol=1e-7 * scale)
    assert example.finite_difference_error(split) < 1e-6  # what `--check` prints


@pytest.fixture(scope="module")
def example_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Runs]:
    """Every selected example started at once, one per core (most of each run is
    importing scikit-learn): those of the selected tests of their own (``OWN_TEST``)
    first, in the order of their tests, then those of the shared test."""
    pytest.importorskip("sklearn")
    selected = [item for item in request.session.items if item.parent is request.node]
    own = [name for item in selected for name in OWN_TEST if item.name.startswith(f"test_{name}_")]
    shared = [
        item.callspec.params["name"]
        for item in selected
        if getattr(item, "originalname", None) == "test_every_example_runs_with_a_small_budget"
    ]
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    runs: Runs = {}
    for name in own + shared:
        if (ROOT / "examples" / f"{name}.py").exists():
            cwd = tmp_path_factory.mktemp(name)
            runs[name] = (cwd, pool.submit(run_example, name, cwd, OWN_TEST.get(name)))
    yield runs
    pool.shutdown(cancel_futures=True)


def finished(runs: Runs, name: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The working directory and the finished run of examples/<name>.py, which
    :func:`example_runs` started for a test of its own."""
    assert name in runs, f"examples/{name}.py was not started: is its test named test_{name}_...?"
    cwd, run = runs[name]
    return cwd, run.result()


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_runs_with_a_small_budget(name: str, example_runs: Runs) -> None:
    """Each example tunes a real model into ./hpotrack.db, in a study named after its file
    (or with hyphens, as pbt-digits), and prints the best value it found."""
    if name not in example_runs:  # written concurrently, or removed since collection
        pytest.skip(f"examples/{name}.py does not exist (yet)")
    cwd, run = example_runs[name]
    result = run.result()
    assert result.returncode == 0, result.stderr
    db = cwd / "hpotrack.db"
    assert db.exists(), f"{name} did not write ./hpotrack.db"
    names = [name, name.replace("_", "-")]
    studies = []
    for study_name in names:
        try:
            studies.append(hp.load_study(study_name, db=db))
        except hp.HpotrackError:
            continue
    assert studies, f"no study named {' or '.join(names)} in {db}"
    study = studies[0]
    complete = [t for t in study.trials if t.state == hp.TrialState.COMPLETE]
    assert complete, f"study {study.name} has no complete trial"
    # a number printed on a line that says "best", to its printed precision: the best
    # trial's value
    wanted = [study.best.value]
    printed = [
        number
        for line in result.stdout.splitlines()
        if "best" in line.lower()
        for number in re.findall(r"\d+\.\d+", line)
    ]
    assert any(
        value is not None and abs(float(number) - value) <= 0.51 * 10 ** -len(number.split(".")[1])
        for number in printed
        for value in wanted
    ), f"stdout does not mention the best value {study.best.value}:\n{result.stdout}"
    if name == "sha_sgd":  # the best trial's model, loaded from its checkpoint, scores as it did
        assert study.best.value is not None
        assert f"validation accuracy {1 - study.best.value:.4f}" in result.stdout
