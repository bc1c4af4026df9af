"""scikit-learn search estimators side by side: hpotrack's ``SearchCV`` (``tpe``, ``tpe``
with the median rule stopping a candidate after a poor fold, ``bayes``, ``random``) against
scikit-learn's ``RandomizedSearchCV`` and ``HalvingRandomSearchCV`` and Optuna's
``OptunaSearchCV``, on the same folds of real tuning tasks on bundled datasets.

Every row gets the same number of candidates T (``n_trials``, ``n_iter``; the halving
search's ``n_candidates``, which it then thins out on growing subsets of the rows), the
same splitter passed explicitly, the same search space (hpotrack's, translated to scipy's
distributions and Optuna's), and seeds 0..S-1 as its ``random_state`` (Optuna: its TPE
sampler's seed, drawn from it). The search sees the training part of a stratified
train/test split made once (random_state=0); the refit best estimator is scored on the
held-out part with the task's scorer.

- ``svc``: SVC (RBF) on digits: C and gamma log-uniform, accuracy; a wide band of the
  space scores at chance (gamma too large), so the search matters.
- ``hgb``: HistGradientBoostingClassifier on breast_cancer: learning rate, iterations,
  leaves, leaf size and L2 penalty, log-loss (scored negated, greater is better).
- ``knn``: a pipeline StandardScaler -> PCA -> KNeighborsClassifier on digits:
  components, neighbours (log-uniform integers) and weighting (a choice), accuracy.

    python benchmarks/search_cv.py --out search_cv.md          # the default run
    python benchmarks/search_cv.py --quick                     # smoke test, ~1 minute
    python benchmarks/search_cv.py --tasks svc --rows tpe,tpe+median --seeds 10
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import logging
import math
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from _common import (
    Report,
    add_run_options,
    comma_names,
    default_workers,
    environment,
    iqr,
    median,
    one_blas_thread,
    seed_numbers,
    versions_of,
)
from methods_quality import distributions, pool

import hpotrack as hp
from hpotrack.records import TrialState

OWN = {
    "tpe": "tpe",
    "tpe+median": "TPE(pruner='median')",
    "bayes": "bayes",
    "random": "random",
    "hyperband": "hyperband, budget=hp.Budget(max // 9, max, name='n_samples') (max: the "
    "smallest training fold)",
    "bohb": "bohb, the same budget",
}
BUDGETED = ("hyperband", "bohb")  # trials cross-validated at rungs of training samples
FIRST_BRACKET = 13  # trials before one of Hyperband's (9 + 3 + 1) reaches the whole fold
PEERS = {
    "sklearn-random": "scikit-learn's RandomizedSearchCV",
    "sklearn-halving": "scikit-learn's HalvingRandomSearchCV (factor 3, rows as resource)",
    "optuna-searchcv": "Optuna's OptunaSearchCV (TPE sampler)",
}
NEEDS = {"optuna-searchcv": (("optuna", "optuna_integration"), "optuna-integration")}
ROWS = [*OWN, *PEERS]
SLOWEST = ("bayes", "optuna-searchcv", "tpe", "tpe+median")  # longest jobs first
TRIALS = (20, 50)  # candidates per search: the default run's T
QUICK_TRIALS = (4, 8)
N_SPLITS = 5


class Task(NamedTuple):
    """A tuning task: what it is, its data (the whole bundled set), a fresh estimator, its
    hpotrack space and its scorer's name (greater is better)."""

    label: str
    data: Callable[[], tuple[Any, Any]]
    estimator: Callable[[], Any]
    space: Callable[[], dict[str, Any]]
    scoring: str


def digits() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def breast_cancer() -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def svc() -> Any:
    from sklearn.svm import SVC

    return SVC()


def hgb() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(early_stopping=False, random_state=0)


def knn() -> Any:
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [("scale", StandardScaler()), ("pca", PCA(random_state=0)),
             ("knn", KNeighborsClassifier())]  # fmt: skip
    return Pipeline(steps)


TASKS: dict[str, Task] = {
    "svc": Task(
        "SVC (RBF) on digits, accuracy",
        digits,
        svc,
        lambda: {"C": hp.Float(1e-2, 1e3, log=True), "gamma": hp.Float(1e-5, 1e-1, log=True)},
        "accuracy",
    ),
    "hgb": Task(
        "HistGradientBoosting on breast_cancer, negated log-loss",
        breast_cancer,
        hgb,
        lambda: {
            "learning_rate": hp.Float(1e-3, 1.0, log=True),
            "max_iter": hp.Int(10, 200, log=True),
            "max_leaf_nodes": hp.Int(2, 64, log=True),
            "min_samples_leaf": hp.Int(1, 100, log=True),
            "l2_regularization": hp.Float(1e-6, 10.0, log=True),
        },
        "neg_log_loss",
    ),
    "knn": Task(
        "StandardScaler -> PCA -> KNeighbors on digits, accuracy",
        digits,
        knn,
        lambda: {
            "pca__n_components": hp.Int(2, 40, log=True),
            "knn__n_neighbors": hp.Int(1, 50, log=True),
            "knn__weights": hp.Choice(["uniform", "distance"]),
        },
        "accuracy",
    ),
}


class LogUniformInt:
    """A whole number whose logarithm is uniform (scipy has no such distribution):
    ``exp(u)`` for u uniform on [log(low - 0.5), log(high + 0.5)], rounded, so that each
    integer gets the share of the log scale around it, as a log-scale ``hp.Int``."""

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def rvs(self, random_state: Any = None) -> int:
        """One draw (``ParameterSampler`` passes its random state)."""
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        drawn = math.exp(rng.uniform(math.log(self.low - 0.5), math.log(self.high + 0.5)))
        return min(self.high, max(self.low, round(drawn)))


def scipy_distributions(space: Mapping[str, Any]) -> dict[str, Any]:
    """The same space for ``RandomizedSearchCV``: scipy's (log-)uniform distributions, a
    :class:`LogUniformInt` or ``randint`` for integers, a list for a choice."""
    from scipy.stats import loguniform, randint, uniform

    found: dict[str, Any] = {}
    for name, p in space.items():
        if isinstance(p, hp.Choice):
            found[name] = list(p.options)
        elif isinstance(p, hp.Int):
            found[name] = LogUniformInt(p.low, p.high) if p.log else randint(p.low, p.high + 1)
        else:
            found[name] = loguniform(p.low, p.high) if p.log else uniform(p.low, p.high - p.low)
    return found


class Split(NamedTuple):
    """A task's data, split once: the search sees the training part only."""

    x_train: Any
    x_test: Any
    y_train: Any
    y_test: Any


def split(task: str) -> Split:
    """The task's stratified 75/25 train/test split, random_state=0."""
    from sklearn.model_selection import train_test_split

    x, y = TASKS[task].data()
    return Split(*train_test_split(x, y, test_size=0.25, stratify=y, random_state=0))


def folds() -> Any:
    """The splitter every search is given: 5 stratified folds, shuffled once (seed 0)."""
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(N_SPLITS, shuffle=True, random_state=0)


class Result(NamedTuple):
    """One search: its best CV score, the refit best estimator's held-out score, the fold
    fits done (and in full-data equivalents: a halving fit on a third of the rows counts a
    third), the fit's wall seconds and of them the seconds outside the estimator's fit and
    score (the search's own overhead, refit excluded)."""

    best: float
    test: float
    fits: int
    full_fits: float
    wall: float
    overhead: float


def make_search(row: str, task: str, seed: int, trials: int, folder: Path) -> Any:
    """The search estimator of ``row`` for one seed and ``trials`` candidates."""
    spec = TASKS[task]
    common = {"scoring": spec.scoring, "cv": folds(), "refit": True}
    if row in OWN:
        from hpotrack.sklearn import SearchCV

        method: Any = hp.methods.TPE(pruner="median") if row == "tpe+median" else row
        budget = samples_budget(task) if row in BUDGETED else None
        n_trials = max(trials, FIRST_BRACKET) if row in BUDGETED else trials  # promotions too
        return SearchCV(spec.estimator(), spec.space(), method=method, n_trials=n_trials,
                        random_state=seed, db=str(folder / f"{seed}-{trials}.db"),
                        progress=False, budget=budget, **common)  # fmt: skip
    if row == "optuna-searchcv":
        import optuna
        from optuna_integration import OptunaSearchCV

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return OptunaSearchCV(spec.estimator(), distributions(spec.space()), n_trials=trials,
                              random_state=seed, **common)  # fmt: skip
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, RandomizedSearchCV

    space = scipy_distributions(spec.space())
    if row == "sklearn-halving":
        return HalvingRandomSearchCV(spec.estimator(), space, n_candidates=trials,
                                     random_state=seed, return_train_score=False,
                                     **common)  # fmt: skip
    return RandomizedSearchCV(spec.estimator(), space, n_iter=trials, random_state=seed, **common)


def samples_budget(task: str) -> hp.Budget:
    """Training samples per fold from a ninth of the smallest training fold to all of
    it: rungs at a ninth, a third and all (eta = 3), as the halving search's rounds."""
    n_train = len(split(task).y_train)
    smallest = n_train - -(-n_train // N_SPLITS)  # the largest test fold left out
    return hp.Budget(smallest // 9, smallest, name="n_samples")


def fold_work(row: str, search: Any) -> tuple[int, float, float]:
    """(fold fits done, in full-data equivalents, seconds in the estimator's fit and
    score) of a fitted search. scikit-learn and Optuna: every candidate of
    ``cv_results_`` on every fold, timed by its mean fit and score times (the halving
    search's rows are candidates per round, on ``n_resources`` rows). hpotrack: a
    complete trial's folds likewise; a pruned trial fitted the folds it reported, and its
    time from start to finish counts as estimator time (its reports are not timed apart);
    a trial of a budgeted row fitted every fold at each amount of samples it reported
    (in full-data equivalents, that amount over the whole fold's), its whole duration
    counted as estimator time."""
    results = search.cv_results_
    seconds_of = [
        (fit + score) * N_SPLITS
        for fit, score in zip(results["mean_fit_time"], results["mean_score_time"], strict=True)
    ]
    if row not in OWN:
        fits = len(results["mean_fit_time"]) * N_SPLITS
        if "n_resources" not in results:
            return fits, float(fits), float(sum(seconds_of))
        share = [n / max(results["n_resources"]) for n in results["n_resources"]]
        return fits, N_SPLITS * sum(share), float(sum(seconds_of))
    study = search.study_
    records = {t.number: t for t in study.trials}
    if row in BUDGETED:  # each trial cross-validated at each amount it reported
        most = search.budget.max
        amounts = [
            step
            for number in results["trial_number"]
            for values in study.curve(int(number)).values()
            for step, _ in values
        ]
        seconds = sum(records[int(n)].duration or 0.0 for n in results["trial_number"])
        return N_SPLITS * len(amounts), N_SPLITS * sum(a / most for a in amounts), seconds
    fits, seconds = 0, 0.0
    for number, state, spent in zip(results["trial_number"], results["state"], seconds_of,
                                    strict=True):  # fmt: skip
        if state == TrialState.COMPLETE.value:
            fits, seconds = fits + N_SPLITS, seconds + spent
        else:
            curve = study.curve(int(number))
            fits += max((step for values in curve.values() for step, _ in values), default=0)
            seconds += records[int(number)].duration or 0.0
    return fits, float(fits), seconds


def one_search(row: str, task: str, seed: int, trials: int, data: Split, folder: Path) -> Result:
    """Fit one search on the training part and score its refit best on the test part."""
    from sklearn.metrics import get_scorer

    search = make_search(row, task, seed, trials, folder)
    start = time.perf_counter()
    search.fit(data.x_train, data.y_train)
    wall = time.perf_counter() - start
    fits, full_fits, fitted = fold_work(row, search)
    test = get_scorer(TASKS[task].scoring)(search.best_estimator_, data.x_test, data.y_test)
    overhead = wall - fitted - search.refit_time_
    return Result(float(search.best_score_), float(test), fits, full_fits, wall, overhead)


Job = tuple[str, str, Sequence[int], Sequence[int]]
"""(row, task, seeds, trial counts T): every search of one row on one task."""
Done = tuple[str, str, dict[int, list[Result]], str]
"""(row, task, results by T with one per seed in seed order, the error that stopped it)."""


def run_job(job: Job) -> Done:
    """Every seed and T of one (row, task), one BLAS/OpenMP thread, studies in a
    temporary folder removed after the job."""
    from threadpoolctl import threadpool_limits

    row, task, seeds, counts = job
    warnings.simplefilter("ignore")  # convergence, Optuna's experimental, halving's notes
    logging.getLogger("hpotrack").setLevel(logging.WARNING)
    found: dict[int, list[Result]] = {t: [] for t in counts}
    data = split(task)
    try:
        with tempfile.TemporaryDirectory() as folder, threadpool_limits(1):
            for trials in counts:
                for seed in seeds:
                    gc.collect()
                    found[trials].append(one_search(row, task, seed, trials, data, Path(folder)))
    except Exception as exc:
        return row, task, found, f"{type(exc).__name__}: {str(exc)[:80]}"
    return row, task, found, ""


def run_all(args: argparse.Namespace) -> tuple[dict[tuple[str, str], dict[int, list[Result]]],
                                               dict[tuple[str, str], str]]:  # fmt: skip
    """Every (row, task), the slowest rows first, in ``args.workers`` fresh processes (one
    worker: in this process); each printed as it ends."""
    jobs = sorted(
        ((r, t, args.seeds, args.trials) for t in args.tasks for r in args.rows),
        key=lambda job: SLOWEST.index(job[0]) if job[0] in SLOWEST else len(SLOWEST),
    )
    results: dict[tuple[str, str], dict[int, list[Result]]] = {}
    errors: dict[tuple[str, str], str] = {}
    start = time.perf_counter()

    def done(finished: Sequence[Done]) -> None:
        for row, task, found, error in finished:
            results[row, task] = found
            if error:
                errors[row, task] = error
            wall = sum(r.wall for runs in found.values() for r in runs)
            print(f"  [{len(results)}/{len(jobs)}] {row} on {task}: {wall:.0f} s of fits "
                  f"{error}({time.perf_counter() - start:.0f} s so far)", flush=True)  # fmt: skip

    if args.workers == 1:
        for job in jobs:
            done([run_job(job)])
    else:
        with pool(args.workers) as processes:
            for finished in processes.imap_unordered(run_job, jobs):
                done([finished])
    return results, errors


def parse_args() -> argparse.Namespace:
    """The command line: --seeds, --trials, --tasks, --rows, --quick, --workers, --out. A
    peer row whose package is missing moves to ``args.skipped`` with why."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--seeds", type=int, default=5, help="seeds per row, task and T (default 5)")
    add("--trials", help="comma list of T, candidates per search (default 20,50; quick 4,8)")
    add("--tasks", default=",".join(TASKS), help=f"comma list of {', '.join(TASKS)}")
    add("--rows", default=",".join(ROWS), help=f"comma list of {', '.join(ROWS)}")
    add("--quick", action="store_true", help="2 seeds, T = 4, 8: a smoke test")
    add_run_options(parser)
    args = parser.parse_args()
    args.seeds = seed_numbers(parser, args.seeds, args.quick)
    counts = (QUICK_TRIALS if args.quick else TRIALS) if args.trials is None else None
    if counts is None:
        try:
            counts = tuple(sorted({int(t) for t in args.trials.split(",") if t.strip()}))
        except ValueError:
            parser.error(f"--trials takes whole numbers, e.g. 20,50, but got {args.trials!r}")
        if not counts or counts[0] < 1:
            parser.error(f"`--trials >= 1` must hold for each, but got --trials={args.trials}")
    args.trials = list(counts)
    args.tasks = comma_names(parser, "--tasks", args.tasks, list(TASKS))
    args.rows = comma_names(parser, "--rows", args.rows, ROWS)
    args.skipped = {}
    for row in list(args.rows):
        modules, package = NEEDS.get(row, ((), ""))
        if any(importlib.util.find_spec(module) is None for module in modules):
            args.skipped[row] = f"skipped: {package} not installed (pip install {package})"
            args.rows.remove(row)
    args.workers = default_workers(args.workers)
    return args


def score_cell(values: Sequence[float]) -> str:
    """Median and IQR over seeds, 4 decimals."""
    spread = iqr(values, lambda v: f"{v:.4f}")
    return f"{median(values):.4f}" + ("" if spread == "-" else f" ({spread})")


def ranks(medians: Mapping[str, float]) -> dict[str, int]:
    """Rank 1 for the greatest median (ties share a rank)."""
    return {row: 1 + sum(other > value for other in medians.values())
            for row, value in medians.items()}  # fmt: skip


def task_tables(
    report: Report,
    args: argparse.Namespace,
    task: str,
    results: Mapping[tuple[str, str], dict[int, list[Result]]],
    errors: Mapping[tuple[str, str], str],
) -> None:
    """One table per T: a row per search estimator, medians over seeds."""
    for trials in args.trials:
        runs = {row: results.get((row, task), {}).get(trials, []) for row in args.rows}
        runs = {row: found for row, found in runs.items() if len(found) == len(args.seeds)}
        rank = ranks({row: median(r.best for r in found) for row, found in runs.items()})
        rows: list[list[str]] = []
        for row in [*args.rows, *args.skipped]:
            found = runs.get(row)
            if not found:
                why = args.skipped.get(row) or errors.get((row, task)) or "no result"
                rows.append([row, why, *[""] * 7])
                continue
            fits = median(r.fits for r in found)
            full = median(r.full_fits for r in found)
            fits_cell = f"{fits:.0f}" + (f" ({full:.0f} full)" if full < fits - 0.5 else "")
            rows.append([
                row,
                score_cell([r.best for r in found]),
                str(rank[row]),
                score_cell([r.test for r in found]),
                fits_cell,
                f"{median(r.wall for r in found):.1f}",
                f"{median(r.overhead for r in found):.2f}",
                f"{median(r.overhead / trials for r in found) * 1e3:.0f}",
                f"{median(r.overhead / r.wall for r in found):.0%}",
            ])  # fmt: skip
        report.table(
            f"{task}: {TASKS[task].label}; T = {trials} candidates, {N_SPLITS} folds, "
            f"{len(args.seeds)} seeds",
            rows,
            "row|best CV score (IQR)|rank|test score (IQR)|fold fits|wall s|overhead s"
            "|overhead ms per candidate|overhead share",
        )


def overview(
    report: Report,
    args: argparse.Namespace,
    results: Mapping[tuple[str, str], dict[int, list[Result]]],
) -> None:
    """Per row and task at the largest T: the median best CV score (its rank) and the
    median test score, and the row's mean rank over the tasks."""
    largest = args.trials[-1]
    medians = {
        (row, task): (median(r.best for r in found), median(r.test for r in found))
        for (row, task), by_t in results.items()
        if len(found := by_t.get(largest, [])) == len(args.seeds)
    }
    rank_of = {
        task: ranks({row: medians[row, task][0] for row in args.rows if (row, task) in medians})
        for task in args.tasks
    }
    rows = []
    for row in args.rows:
        cells, row_ranks = [], []
        for task in args.tasks:
            if (row, task) not in medians:
                cells.append("-")
                continue
            best, test = medians[row, task]
            row_ranks.append(rank_of[task][row])
            cells.append(f"{best:.4f} ({rank_of[task][row]}) / {test:.4f}")
        mean_rank = f"{statistics.mean(row_ranks):.2g}" if row_ranks else "-"
        rows.append([row, *cells, mean_rank])
    report.table(
        f"Overview at T = {largest}: median best CV score (rank) / median test score",
        rows,
        "row|" + "|".join(args.tasks) + "|mean rank",
        "Rank 1 is the greatest median best CV score (ties share a rank); the test score is "
        "the refit best estimator's on the held-out quarter. Fold fits: the halving search's "
        "are on growing subsets of the rows, '(N full)' counts them in full-data fits. "
        "Overhead: the fit's wall time less the candidates' fit and score times (hpotrack: a "
        "pruned trial's whole duration counts as fit time) and less the refit.",
    )


def main() -> None:
    """Run every (row, task), print a table per task and T, then the overview."""
    one_blas_thread()
    args = parse_args()
    report = Report("hpotrack SearchCV against scikit-learn's and Optuna's search estimators")
    optional = ["optuna", "optuna-integration"]
    versions = versions_of(["hpotrack", "scikit-learn"])
    versions |= {name: version for name in optional if (version := installed_version(name))}
    lines = environment(versions)
    lines.append(f"{args.workers} worker process(es); {len(args.seeds)} seeds; T = "
                 f"{', '.join(map(str, args.trials))}; one thread each")  # fmt: skip
    lines += [f"{row}: {OWN.get(row) or PEERS[row]}" for row in ROWS]
    report.lines(lines)
    start = time.perf_counter()
    results, errors = run_all(args)
    for task in args.tasks:
        task_tables(report, args, task, results, errors)
    overview(report, args, results)
    report.finish(args.out, [f"searches took {time.perf_counter() - start:.0f} s of wall time"])


def installed_version(name: str) -> str | None:
    """``name``'s installed version, None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
