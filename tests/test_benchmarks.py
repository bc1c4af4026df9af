"""The benchmark scripts run as benchmarks/README.md says, at their smallest sizes: their
header names the hpotrack they imported, a missing library or an output that could not be
written is one line before the run, not after it."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_benchmark(
    script: str, *args: str, cwd: Path, hidden: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run benchmarks/<script>.py from the repository root as documented, importing this
    checkout; ``hidden``: packages it must find missing (a ``sitecustomize`` in ``cwd``
    blocks their import, in the processes it spawns too)."""
    path = [str(ROOT)]
    if hidden:
        (cwd / "sitecustomize.py").write_text(
            "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in hidden),
            encoding="utf-8",
        )
        path.insert(0, str(cwd))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("halving_overhead", ["--quick", "--methods", "sha"]),  # named the benchmarks' clone
        ("sgd_regions", ["--configs", "1"]),  # had no header
        ("evolution_population", ["--seeds", "1", "--budgets", "12"]),
    ],
)
def test_the_header_names_the_hpotrack_checkout_the_script_imported(
    script: str, args: list[str], tmp_path: Path
) -> None:
    pytest.importorskip("sklearn")
    result = run_benchmark(script, *args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"hpotrack: {ROOT / 'hpotrack'} at " in result.stdout


def test_halving_overhead_runs_hpotrack_rows_without_optuna(tmp_path: Path) -> None:
    result = run_benchmark(
        "halving_overhead", "--quick", "--methods", "sha", cwd=tmp_path, hidden=("optuna",)
    )
    assert result.returncode == 0, result.stderr
    assert "| sha " in result.stdout
    refused = run_benchmark("halving_overhead", "--quick", cwd=tmp_path, hidden=("optuna",))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.strip().splitlines() == [
        'halving_overhead.py: optuna not installed; run pip install -e ".[bench]" from the '
        "repository root, or leave out optuna-random+sha, optuna-random+hyperband, "
        "optuna-tpe+hyperband (--methods)"
    ]


def test_a_plot_without_matplotlib_is_refused_before_the_searches(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    result = run_benchmark(
        "multifidelity",
        *("--quick", "--tasks", "sgd", "--methods", "random", "--seeds", "1", "--trials", "1"),
        *("--workers", "1", "--plot", str(tmp_path / "mf.png")),
        cwd=tmp_path,
        hidden=("matplotlib",),
    )
    assert result.returncode == 1
    assert "matplotlib not installed" in result.stderr and "leave out --plot" in result.stderr
    assert "[1/1]" not in result.stdout  # no search ran


def test_multifidelity_runs_model_based_methods_with_the_median_rule(tmp_path: Path) -> None:
    """``bayes+median`` and ``tpe+median`` are rows only when named (not by default)."""
    pytest.importorskip("sklearn")
    result = run_benchmark(
        "multifidelity",
        *("--quick", "--tasks", "sgd", "--methods", "bayes+median,tpe+median"),
        *("--seeds", "1", "--trials", "2", "--workers", "1"),
        cwd=tmp_path,
        hidden=("optuna",),
    )
    assert result.returncode == 0, result.stderr
    for row, method in (("bayes+median", "Bayes("), ("tpe+median", "TPE(")):
        assert f"| {row} " in result.stdout
        header = next(line for line in result.stdout.splitlines() if line.startswith(f"{row}: "))
        assert header.startswith(f"{row}: {method}") and "pruner=Median(" in header


@pytest.mark.parametrize(
    ("where", "said"),
    [
        ("missing/out.md", "the folder {tmp}/missing does not exist; create it first"),
        (".", "{tmp} is a folder; name a file in it"),
    ],
)
def test_an_out_file_that_could_not_be_written_is_refused_before_the_run(
    where: str, said: str, tmp_path: Path
) -> None:
    out = tmp_path / where
    result = run_benchmark("halving_overhead", "--quick", "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2
    assert said.format(tmp=tmp_path) in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_pbt_fewer_segments_than_planned_are_no_note(tmp_path: Path) -> None:
    """Members stop at the horizon, so a population may need fewer than P·G segments (seed
    1 of the quick run: 11 of 12); that is what the targets expect, not a problem."""
    pytest.importorskip("sklearn")
    result = run_benchmark(
        "pbt", "--quick", "--methods", "pbt", "--seeds", "2", "--workers", "1", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "PBT at most that" in result.stdout
    assert "trials stored" not in result.stdout


def test_methods_quality_runs_hpotrack_rows_on_synthetic_tasks_without_optuna(
    tmp_path: Path,
) -> None:
    args = ("--methods", "random,evolution", "--baseline", "evolution", "--tasks",
            "branin,ackley150", "--seeds", "2", "--trials", "3")  # fmt: skip
    hidden = ("optuna", "sklearn", "pytest")  # pytest: the bench extra does not install it
    seeds_out = tmp_path / "seeds.json"
    result = run_benchmark(
        "methods_quality", *args, "--workers", "1", "--seeds-out", str(seeds_out),
        cwd=tmp_path, hidden=hidden,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| random " in result.stdout and "| wins vs evolution " in result.stdout
    written = json.loads(seeds_out.read_text())
    assert written["trials"] == 3 and written["hpotrack"].startswith(str(ROOT / "hpotrack"))
    branin = written["best"]["branin"]["random"]  # one best per seed, seed 0 first
    assert len(branin) == 2 and branin[0] != branin[1] and all(v >= 0.397887 for v in branin)
    assert "ackley150: Ackley, 150-D on [-32.768, 32.768], 3 trials" in result.stdout
    assert all(15 < v < 22.5 for v in written["best"]["ackley150"]["random"])  # far from 0
    refused = run_benchmark(
        "methods_quality", "--methods", "random,optuna-tpe", "--tasks", "branin,hgb",
        cwd=tmp_path, hidden=hidden,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        'methods_quality.py: optuna, scikit-learn not installed; run pip install -e ".[bench]" '
        "from the repository root, or leave out optuna-tpe (--methods) and hgb (--tasks)"
    ]


def test_dense_reports_quick_runs_hpotrack_beside_optuna(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    result = run_benchmark("dense_reports", "--quick", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for row in ("| hpotrack ", "| hpotrack, median pruner ", "| optuna in-memory "):
        assert row in result.stdout
    assert "not run (over 50 reports)" in result.stdout  # Optuna RDB's cap in --quick


def test_dense_reads_quick_reads_a_dense_study_back_beside_optuna(tmp_path: Path) -> None:
    pytest.importorskip("optuna", minversion="4")  # its journal storage, as the bench extra's
    pytest.importorskip("matplotlib")
    sizes = ("--trials", "2", "--reports", "200")  # quick's 3 x 2,000 build for 2 s more
    out = ("--out", str(tmp_path / "r.md"))
    result = run_benchmark("dense_reads", "--quick", *sizes, *out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in result.stdout.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    rows = {(op, library, call): rest for op, library, call, *rest in cells[1:]}
    assert [key[:2] for key in rows] == [
        *[("export", "hpotrack")] * 2,
        *[("import", "hpotrack")] * 2,
        ("export + import", "optuna"),
        ("every curve", "hpotrack"),
        ("every curve", "optuna"),
        ("one curve", "hpotrack"),
        ("plot curves (PNG)", "hpotrack"),
        ("plot curves (PNG)", "optuna"),
    ]
    for (_, _, call), (seconds, process, peak, output) in rows.items():
        assert 0 <= float(seconds) <= float(process), call
        assert peak.endswith("MiB"), call
        assert (output == "-") == call.startswith("load_study()"), call
    assert "2 trials x 200 reports read back" in (tmp_path / "r.md").read_text()


def test_rung_predictors_refuses_too_few_configurations_before_recording_any(
    tmp_path: Path,
) -> None:
    """Before importing scikit-learn and scipy too, which take seconds."""
    hidden = ("sklearn", "scipy")
    result = run_benchmark("rung_predictors", "--configs", "20", cwd=tmp_path, hidden=hidden)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].endswith(
        "`--configs >= 300` must hold (the predictors learn from up to 150 and are scored "
        "on the rest), but got --configs=20"
    )


def test_conditional_quality_quick_runs_every_method_beside_optuna(tmp_path: Path) -> None:
    """Optuna's rows suggest inside the branch (define-by-run); every row has a result."""
    pytest.importorskip("optuna")
    args = ("--quick", "--tasks", "branches", "--seeds", "1", "--workers", "2")
    seeds_out = tmp_path / "seeds.json"
    result = run_benchmark(
        "conditional_quality", *args, "--seeds-out", str(seeds_out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(seeds_out.read_text())["best"]["branches"]["optuna-tpe"]) == 1
    table = result.stdout.split("branches: model choice", 1)[1].split("Overview", 1)[0]
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")]
    assert rows[1:] == [
        *("random", "tpe", "bayes", "evolution", "auto"),
        *("optuna-random", "optuna-tpe", "optuna-tpe-group"),
    ]
    assert "no result" not in table and "Error" not in table


def test_optuna_import_quick_imports_both_storages_beside_optuna(tmp_path: Path) -> None:
    pytest.importorskip("optuna", minversion="4")  # its JournalFileBackend
    result = run_benchmark("optuna_import", "--quick", "--repeats", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:3] for line in result.stdout.splitlines() if line.startswith("| ")]
    assert [(kind.strip(), what.strip()) for kind, what in rows[1:]] == [
        (kind, what)
        for kind in ("database", "journal")
        for what in (
            "hpotrack import",
            "optuna load_study + trials",
            "hpotrack read only",
            "ratio hpotrack import / optuna",
        )
    ]


def test_multi_objective_quick_scores_every_multi_objective_method_beside_optuna(
    tmp_path: Path,
) -> None:
    """Every hpotrack method whose class says multi_objective gets a row (those that
    search nothing by themselves aside), scored by the hypervolume of its front within
    each T up to the task's stated reference point: growing with T, never above the true
    front's."""
    pytest.importorskip("optuna")
    from hpotrack.methods.registry import BUILTIN, multi_objective_methods

    args = ("--quick", "--tasks", "dtlz2", "--seeds", "1", "--workers", "2")
    result = run_benchmark("multi_objective", *args, "--out", str(tmp_path / "mo.md"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # hpotrack's own (other tests of this process register methods the script has not)
    own = [m for m in multi_objective_methods() if m in BUILTIN and m not in ("manual", "grid")]
    optuna = ["optuna-random", "optuna-nsga2", "optuna-tpe"]  # and optuna-gp unless --quick
    table = result.stdout.split("\ndtlz2: ", 1)[1].split("\n\n", 1)[0]
    assert "reference point (2.2, 2.2, 2.2)" in table and "front's hypervolume 10.124" in table
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    assert cells[0][1:4] == [f"hypervolume at T = {t} (IQR)" for t in (5, 10, 20)]
    assert [row[0] for row in cells[1:]] == [*own, *optuna]
    for row in cells[1:]:
        volumes = [float(cell.split(" (")[0]) for cell in row[1:4]]
        assert 0 < volumes[0] <= volumes[1] <= volumes[2] < 10.124, row  # fronts only grow
    assert "Overview: median hypervolume" in (tmp_path / "mo.md").read_text()
    refused = run_benchmark("multi_objective", "--methods", "random,nsga3", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].endswith(
        f"--methods: unknown 'nsga3'; known: {', '.join([*own, *optuna, 'optuna-gp'])}"
    )


def test_constrained_quick_scores_the_best_feasible_value_beside_optuna(tmp_path: Path) -> None:
    """Every row's best feasible value within T never rises with T nor beats the task's
    known least feasible value; the share of feasible trials is a percentage; bayes runs
    when its class honours constraints and is otherwise skipped by check_objectives."""
    pytest.importorskip("optuna")
    from hpotrack.methods import resolve

    args = ("--quick", "--tasks", "gardner", "--seeds", "1", "--workers", "2")
    result = run_benchmark("constrained", *args, "--out", str(tmp_path / "c.md"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = result.stdout.split("\ngardner: ", 1)[1].split("\n\n", 1)[0]
    assert "subject to c <= 0.5" in table and "least feasible value -2 at (4.712, 0)" in table
    cells = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and "---" not in line
    ]
    assert cells[0][1:4] == [f"best feasible at T = {t} (IQR)" for t in (4, 10, 20)]
    rows = {row[0]: row for row in cells[1:]}
    ran = ["tpe", "evolution", "random", "optuna-tpe", "optuna-nsga2"]
    if resolve("bayes").constrained:  # a row in --methods' order
        ran.insert(3, "bayes")
        assert list(rows) == ran
    else:  # skipped rows come last
        assert list(rows) == [*ran, "bayes"]
        assert rows["bayes"][1] == "skipped: not constrained in this checkout"
    for method in ran:
        bests = [math.inf if c == "none" else float(c) for c in rows[method][1:4]]
        assert -2 <= bests[2] <= bests[1] <= bests[0], rows[method]  # the best only improves
        assert 0 <= int(rows[method][6].rstrip("%")) <= 100
    assert "Overview: median best feasible value" in (tmp_path / "c.md").read_text()
    refused = run_benchmark("constrained", "--methods", "random,cmaes", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1].endswith(
        "--methods: unknown 'cmaes'; known: tpe, evolution, random, bayes, optuna-tpe, "
        "optuna-nsga2, optuna-gp"
    )


def test_search_cv_quick_runs_every_search_estimator_on_the_same_folds(tmp_path: Path) -> None:
    """Every row fits T candidates on 5 folds: scikit-learn's random search exactly 5 T
    fold fits, hpotrack's rows at most that (pruned trials fit fewer), the halving search
    more on subsets; scores are accuracies; a missing optuna-integration is a row saying
    so, not a failure."""
    pytest.importorskip("sklearn")
    args = ("--quick", "--seeds", "1", "--tasks", "knn", "--trials", "4", "--workers", "1")
    result = run_benchmark("search_cv", *args, "--out", str(tmp_path / "s.md"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"hpotrack: {ROOT / 'hpotrack'} at " in result.stdout
    table = result.stdout.split("\nknn: ", 1)[1].split("\n\n", 1)[0]
    assert "T = 4 candidates, 5 folds, 1 seeds" in table
    cells = {
        row[0]: row[1:]
        for row in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()
            if line.startswith("| ") and "---" not in line
        )
    }
    header = cells.pop("row")
    assert header[:4] == ["best CV score (IQR)", "rank", "test score (IQR)", "fold fits"]
    own = ["tpe", "tpe+median", "bayes", "random"]
    budgeted = ["hyperband", "bohb"]  # a first bracket of 13 trials, on subsets of the rows
    peers = ["sklearn-random", "sklearn-halving"]
    optuna_ran = importlib.util.find_spec("optuna_integration") is not None
    assert list(cells) == [*own, *budgeted, *peers, "optuna-searchcv"]
    for row in [*own, *budgeted, *peers, *(["optuna-searchcv"] * optuna_ran)]:
        best, rank, test, fits, wall, overhead, _, _ = cells[row]
        assert 0.1 < float(best) <= 1 and 0.1 < float(test) <= 1, row
        assert 1 <= int(rank) <= 9 and 0 <= float(overhead) <= float(wall), row
        fold_fits = int(fits.split(" (")[0])
        if row in own:
            assert 0 < fold_fits <= 20, row
        elif row in ("sklearn-halving", *budgeted):
            assert fold_fits > 20 and fits.endswith(" full)"), row
        else:
            assert fold_fits == 20, row
    if not optuna_ran:
        assert cells["optuna-searchcv"][0].startswith("skipped: optuna-integration")
    assert "Overview at T = 4" in (tmp_path / "s.md").read_text()
    hidden = run_benchmark(
        "search_cv", *args, "--rows", "random,optuna-searchcv", cwd=tmp_path,
        hidden=("optuna_integration",),
    )  # fmt: skip
    assert hidden.returncode == 0, hidden.stderr
    assert (
        "| optuna-searchcv | skipped: optuna-integration not installed (pip install "
        "optuna-integration)"
    ) in hidden.stdout
