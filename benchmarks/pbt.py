"""Population-based training against random search at equal compute, on real training.

The task is ``examples/pbt_digits.py``'s: a linear SVM (scikit-learn's SGDClassifier, hinge
loss, one sample per update, a constant learning rate within a call) on the digits, one
epoch per ``partial_fit``, searching the learning rate ``eta0`` and the regularisation
``alpha``. hpotrack's PBT trains P members for G segments of I epochs (P·G·I epochs in all);
random search gets exactly as many epochs: P trials of G·I epochs (as long as a member's
nominal training), and P/2 trials of 2·G·I (as long as PBT's longest lines get, see the
README). Optuna's RandomSampler runs the first of these as a cross-check. Every run's
epochs are counted as they are trained; the tables give the best validation error (and the
test error of the model it picked) at the end and within fixed numbers of epochs, and the
schedules PBT learned.

    python benchmarks/pbt.py --out pbt.md      # default: about 3 minutes on 2 busy cores
    python benchmarks/pbt.py --quick           # smoke test, < 10 s
    python benchmarks/pbt.py --seeds 5 --methods pbt,random
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.util
import logging
import math
import multiprocessing
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from _common import (
    Report,
    comma_names,
    default_workers,
    describe,
    environment,
    iqr,
    load_average,
    median,
    one_blas_thread,
    output_file,
    verdict,
    versions_of,
)

import hpotrack as hp

METHODS = ["pbt", "random", "random-long", "optuna-random"]
AT = (0.25, 0.5, 0.75, 1.0)  # epoch budgets of the table: fractions of P·G·I
SPACE = {"eta0": hp.Float(1e-4, 1.0, log=True), "alpha": hp.Float(1e-6, 1e-1, log=True)}
Schedule = dict[str, list[tuple[int, Any]]]


class Run(NamedTuple):
    """One search. ``trials``: per trial in the order they finished, (epochs trained,
    validation error, test error); ``final``: the models it ends with, (validation error,
    test error, epochs behind the model) — PBT's final members, every random trial;
    ``schedule``: the learned schedule of PBT's best final member; ``edges``: lineage
    edges by kind; ``note``: the first problem seen, or ""."""

    trials: list[tuple[int, float, float]]
    final: list[tuple[float, float, int]]
    seconds: float
    schedule: Schedule
    edges: dict[str, int]
    note: str


Runs = dict[str, dict[int, "Run"]]  # method -> seed -> run


class Plan(NamedTuple):
    """How one method spends the P·G·I epochs: trials and epochs per trial (PBT: segments
    and epochs per segment)."""

    trials: int
    epochs: int


def plan(method: str, args: argparse.Namespace) -> Plan:
    """The trials and epochs of ``method``: every plan trains P·G·I epochs in all."""
    member = args.generations * args.interval
    if method == "pbt":
        return Plan(args.population * args.generations, args.interval)
    if method == "random-long":
        return Plan(args.population // 2, 2 * member)
    return Plan(args.population, member)


@functools.cache
def digits() -> tuple[Any, ...]:
    """(train X, train y, validation X, validation y, test X, test y), the example's
    split: 60/20/20, stratified, features standardised on the training part."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    xt, xr, yt, yr = train_test_split(x, y, train_size=0.6, stratify=y, random_state=0)
    xv, xs, yv, ys = train_test_split(xr, yr, test_size=0.5, stratify=yr, random_state=0)
    scaler = StandardScaler().fit(xt)
    return scaler.transform(xt), yt, scaler.transform(xv), yv, scaler.transform(xs), ys


def train(
    model: Any, eta0: float, alpha: float, steps: range, report: Callable[[float, int], Any]
) -> tuple[Any, int, float, float]:
    """Train ``model`` (a new one if None) one epoch per step with these hyperparameters,
    calling ``report(validation error, step)``; returns (model, epochs trained, validation
    error, test error). A numerical breakdown counts as error 1."""
    from sklearn.linear_model import SGDClassifier

    xt, yt, xv, yv, xs, ys = digits()
    if model is None:
        model = SGDClassifier(learning_rate="constant", eta0=eta0, alpha=alpha, random_state=0)
    model.set_params(eta0=eta0, alpha=alpha)
    error, trained = 1.0, 0
    for step in steps:
        trained += 1
        try:
            model.partial_fit(xt, yt, classes=np.arange(10))
            error = 1.0 - float(model.score(xv, yv))
        except (ValueError, ArithmeticError):
            error = 1.0
        report(error, step)
    try:
        test = 1.0 - float(model.score(xs, ys))
    except (ValueError, ArithmeticError):
        test = 1.0
    return model, trained, error, test


def run_hpotrack(method: str, seed: int, args: argparse.Namespace, folder: Path) -> Run:
    """One hpotrack search (PBT or random) in a fresh database file."""
    steps = plan(method, args)
    pbt = method == "pbt"
    ledger: list[tuple[int, float, float]] = []
    search: Any = "random"
    budget = None
    if pbt:
        search = hp.methods.PBT(
            population=args.population, interval=args.interval, generations=args.generations
        )
    else:
        budget = hp.Budget(1, steps.epochs, name="epochs")

    @hp.tune(
        SPACE,
        method=search,
        study=f"{method}-{seed}",
        db=folder / f"{method}-{seed}.db",
        seed=seed,
        objective="error",
        budget=budget,
    )
    def objective(eta0: float, alpha: float, trial: hp.Trial) -> dict[str, float]:
        start = trial.load_checkpoint() if pbt else None
        model, trained, error, test = train(start, eta0, alpha, trial.steps, trial.report)
        if pbt:
            trial.save_checkpoint(model)
        ledger.append((trained, error, test))
        return {"error": error, "test_error": test}

    began = time.perf_counter()
    study = objective.optimize(n_trials=None if pbt else steps.trials, progress=False)
    seconds = time.perf_counter() - began
    records = study.trials
    notes = [f"trial {t.number}: {t.error}" for t in records if t.error]
    # PBT may need fewer segments: a member that copied one further along reaches the
    # horizon sooner; more, or a segment stored but not trained, is worth a note
    off_plan = len(ledger) > steps.trials if pbt else len(ledger) != steps.trials
    if off_plan or len(records) != len(ledger):
        notes.insert(0, f"{len(records)} trials stored, {len(ledger)} trained")
    edges = Counter(e.kind for t in records for e in t.parents)
    ends = final_members(records) if pbt else records
    final = [(t.value or 1.0, t.metrics.get("test_error", 1.0), int(t.budget or 0)) for t in ends]
    schedule: Schedule = {}
    if pbt and ends:
        best = min(ends, key=lambda t: (t.value or 1.0, t.number))
        schedule = study.schedule(best.number)
    return Run(ledger, final, seconds, schedule, dict(edges), "; ".join(notes[:2]))


def final_members(records: Sequence[hp.TrialRecord]) -> list[hp.TrialRecord]:
    """Each PBT member's latest complete segment (claims are ``pbt:<member>:<segment>``)."""
    latest: dict[str, hp.TrialRecord] = {}
    for record in records:
        claim = record.claim or ""
        if record.state == hp.TrialState.COMPLETE and claim.startswith("pbt:"):
            latest[claim.split(":")[1]] = record
    return list(latest.values())


def run_optuna(seed: int, args: argparse.Namespace) -> Run:
    """Optuna's RandomSampler, ask and tell, the same trials as hpotrack's ``random``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    steps = plan("optuna-random", args)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    dists: dict[str, optuna.distributions.BaseDistribution] = {
        name: optuna.distributions.FloatDistribution(param.low, param.high, log=param.log)
        for name, param in SPACE.items()
    }
    ledger: list[tuple[int, float, float]] = []
    began = time.perf_counter()
    for _ in range(steps.trials):
        trial = study.ask(dists)
        _, trained, error, test = train(
            None, trial.params["eta0"], trial.params["alpha"], range(1, steps.epochs + 1),
            trial.report,
        )  # fmt: skip
        ledger.append((trained, error, test))
        study.tell(trial, error)
    seconds = time.perf_counter() - began
    final = [(error, test, trained) for trained, error, test in ledger]
    return Run(ledger, final, seconds, {}, {}, "")


def run_job(job: tuple[str, int, argparse.Namespace]) -> tuple[str, int, Run | None, str]:
    """One (method, seed) in a worker process: (method, seed, run, error or "")."""
    method, seed, args = job
    warnings.simplefilter("ignore")
    logging.getLogger("hpotrack").setLevel(logging.WARNING)  # "training is complete"
    gc.collect()
    try:
        with tempfile.TemporaryDirectory(prefix="hp-pbt-") as folder:
            if method == "optuna-random":
                return method, seed, run_optuna(seed, args), ""
            return method, seed, run_hpotrack(method, seed, args, Path(folder)), ""
    except Exception as exc:
        return method, seed, None, describe(exc)


def best_final(run: Run) -> tuple[float, float, int]:
    """(validation error, test error, epochs) of the final model with the best validation
    error (the first one on ties)."""
    return min(run.final, key=lambda f: f[0]) if run.final else (math.inf, math.inf, 0)


def best_within(run: Run, epochs: float) -> float:
    """The best validation error among the trials finished by the time ``epochs`` epochs
    were trained, in the order they finished (inf if none)."""
    used, best = 0, math.inf
    for trained, error, _ in run.trials:
        used += trained
        if used > epochs:
            break
        best = min(best, error)
    return best


def total(run: Run) -> int:
    """Epochs trained in the whole run, as counted while training."""
    return sum(trained for trained, _, _ in run.trials)


def fmt(value: float) -> str:
    """An error for the tables ("-" when there is none)."""
    return "-" if math.isinf(value) or math.isnan(value) else f"{value:.4f}"


def compact(points: list[tuple[int, Any]]) -> str:
    """A schedule line: ``0.031 → 0.0044 @13 → 0.0028 @21`` (value, then from which epoch)."""
    return " → ".join(f"{v:.2g}" + (f" @{s}" if s > 1 else "") for s, v in points)


def main_table(report: Report, args: argparse.Namespace, runs: Runs) -> None:
    """Per method: best final validation and test error, epochs, best within budgets."""
    full = args.population * args.generations * args.interval
    columns = [round(full * share) for share in AT]
    base = {seed: best_final(r)[0] for seed, r in runs.get("random", {}).items()}
    rows = []
    for method in args.methods:
        by_seed = runs.get(method, {})
        found = list(by_seed.values())
        if not found:
            rows.append([method, args.errors.get(method, "no result"), *[""] * (len(columns) + 8)])
            continue
        steps = plan(method, args)
        layout = f"{steps.trials} × {steps.epochs}"
        bests = [best_final(r) for r in found]
        vals = [b[0] for b in bests]
        wins = "-"
        if method != "random" and base:
            pairs = [(best_final(r)[0], base[s]) for s, r in by_seed.items() if s in base]
            better, ties = sum(a < b for a, b in pairs), sum(a == b for a, b in pairs)
            wins = f"{better}/{ties}/{len(pairs) - better - ties}"
        rows.append([
            method, layout, str(len(found)), fmt(median(vals)), iqr(vals, fmt),
            fmt(median(b[1] for b in bests)), f"{median(b[2] for b in bests):.0f}",
            f"{median(total(r) for r in found):,.0f}",
            *[fmt(median(best_within(r, c) for r in found)) for c in columns],
            wins, f"{median(r.seconds for r in found):.1f}",
        ])  # fmt: skip
    report.table(
        f"Best validation error at equal compute: {full:,} epochs per run, {len(args.seeds)} seeds",
        rows,
        "method|trials × epochs|runs|median best val error|IQR (25%–75%)|its test error|"
        "its epochs|epochs trained|"
        + "|".join(f"best within {c:,}" for c in columns)
        + "|vs random: better/tie/worse|s per run",
        "*best val error*: the final model with the lowest validation error (PBT: among its "
        f"{args.population} final members; random: among its trials), median over seeds; "
        "*its test error* and *its epochs*: that model's error on the held-out test fifth and "
        "the epochs of training behind it (PBT: its global step), medians. *epochs trained*: "
        "counted while training, summed over the run. *best within E*: the best validation "
        "error of any trial or segment finished by the time E epochs were trained, in the order "
        "they ran (one process), median over seeds. *vs random*: seeds whose best val error is "
        "below / equal to / above hpotrack random's with the same seed. Errors are 1 - accuracy "
        "on 359 validation (360 test) digits: one digit is 0.0028.",
    )


def schedule_table(report: Report, args: argparse.Namespace, runs: dict[int, Run]) -> None:
    """PBT per seed: the best final member and the schedule it learned."""
    rows = []
    for seed, run in runs.items():
        val, test, epochs = best_final(run)
        steps = [f[2] for f in run.final]
        rows.append([
            str(seed), fmt(val), fmt(test), str(epochs),
            f"{min(steps, default=0)}–{max(steps, default=0)}",
            f"{run.edges.get('exploited', 0)}/{run.edges.get('continued', 0)}",
            compact(run.schedule.get("eta0", [])), compact(run.schedule.get("alpha", [])),
        ])  # fmt: skip
    report.table(
        "PBT: the best final member of each seed and its learned schedule",
        rows,
        "seed|val error|test error|epochs|members' final epochs|exploited/continued|"
        "eta0 schedule|alpha schedule",
        "From `study.schedule(number)` of the best final member: each value, then `@epoch` "
        "from which it applied (along the member's own segments and those it exploited). "
        "*members' final epochs*: the global steps the population ends at; "
        f"{args.generations} segments of {args.interval} epochs is "
        f"{args.generations * args.interval}, more where a member copied one already ahead.",
    )


def targets(report: Report, args: argparse.Namespace, runs: Runs) -> None:
    """The target, against each random search row, and equal compute as a check."""
    rows = []
    pbt = list(runs.get("pbt", {}).values())
    for rival in ("random", "random-long", "optuna-random"):
        name = f"PBT's median best val error at most {rival}'s at equal compute"
        if not pbt or not runs.get(rival):
            rows.append([name, "-", "not measured"])
            continue
        mine = median(best_final(r)[0] for r in pbt)
        theirs = median(best_final(r)[0] for r in runs[rival].values())
        rows.append([name, f"{fmt(mine)} vs {fmt(theirs)}", verdict(args.seeds, mine <= theirs)])
    printed = bool(pbt) and all(run.schedule for run in pbt)
    rows.append([
        "the learned schedule is printed", f"{sum(bool(r.schedule) for r in pbt)} of "
        f"{len(pbt)} PBT runs", verdict(args.seeds, printed),
    ])  # fmt: skip
    full = args.population * args.generations * args.interval
    counts = sorted({total(r) for found in runs.values() for r in found.values()})
    rivals = sorted({total(r) for m, found in runs.items() if m != "pbt" for r in found.values()})
    mine = sorted({total(r) for r in pbt})
    rows.append([
        f"random rows train exactly {full:,} epochs, PBT at most that",
        ", ".join(f"{c:,}" for c in counts) or "-",
        verdict(args.seeds, rivals == [full] and all(c <= full for c in mine)),
    ])  # fmt: skip
    report.table("Targets", rows, "target|measured|result")


def pool(workers: int) -> Any:
    """Spawned worker processes (reused: the results are errors and epochs)."""
    return multiprocessing.get_context("spawn").Pool(workers)


def search(args: argparse.Namespace) -> Runs:
    """Run every (method, seed); runs by method, then by seed in seed order."""
    jobs = [(m, seed, args) for seed in args.seeds for m in args.methods]
    found: dict[tuple[str, int], Run] = {}
    began = time.perf_counter()
    with pool(args.workers) as workers:
        for done, (method, seed, run, error) in enumerate(workers.imap_unordered(run_job, jobs)):
            if run is None:
                args.errors[method] = args.errors.get(method) or f"seed {seed}: {error}"
            else:
                found[method, seed] = run
                if run.note:
                    args.notes.append(f"{method}, seed {seed}: {run.note}")
            shown = "-" if run is None else fmt(best_final(run)[0])
            print(f"  [{done + 1}/{len(jobs)}] {method} seed {seed}: best {shown} {error} "
                  f"({time.perf_counter() - began:.0f} s so far, {load_average()})",
                  flush=True)  # fmt: skip
    return {m: {s: found[m, s] for s in args.seeds if (m, s) in found} for m in args.methods}


def parse_args() -> argparse.Namespace:
    """Command line, with --quick's defaults."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--seeds", type=int, default=10, help="seeds 0..N-1 per method (default 10)")
    add("--methods", default=",".join(METHODS), help=f"comma list of {', '.join(METHODS)}")
    add("--population", type=int, default=8, help="PBT members P (default 8)")
    add("--interval", type=int, default=4, help="epochs per PBT segment I (default 4)")
    add("--generations", type=int, default=8, help="segments per member G (default 8)")
    add("--quick", action="store_true", help="2 seeds, P=4, I=2, G=3: a smoke test")
    add("--workers", type=int, help="processes (default 2, or 1 if the 1-min load > 1.5)")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.population, args.interval, args.generations = 2, 4, 2, 3
    if args.population < 4 or args.population % 2:
        parser.error("--population must be even and at least 4 (random-long runs P/2 trials)")
    args.seeds = list(range(args.seeds))
    args.methods = comma_names(parser, "--methods", args.methods, METHODS)
    if "optuna-random" in args.methods and importlib.util.find_spec("optuna") is None:
        args.methods.remove("optuna-random")
        print("optuna-random skipped: optuna is not installed")
    args.workers = default_workers(args.workers)
    args.errors, args.notes = {}, []
    return args


def main() -> None:
    """Run everything, print the tables, optionally write markdown."""
    one_blas_thread()
    args = parse_args()
    report = Report("hpotrack population-based training against random search")
    names = ["hpotrack", "scikit-learn", "numpy"]
    names += ["optuna"] if "optuna-random" in args.methods else []
    versions = versions_of(names, hint=", or leave out optuna-random (--methods)")
    lines = environment(versions)
    p, i, g = args.population, args.interval, args.generations
    lines.append(f"{args.workers} worker process(es); {len(args.seeds)} seeds; one thread each")
    lines.append(
        f"PBT(population={p}, interval={i}, generations={g}), other options default: "
        f"{p * g} segments of {i} epochs = {p * g * i:,} epochs per run"
    )
    report.lines(lines)
    runs = search(args)
    main_table(report, args, runs)
    if runs.get("pbt"):
        schedule_table(report, args, runs["pbt"])
    targets(report, args, runs)
    errors = [f"{method}: {error}" for method, error in args.errors.items()]
    report.finish(args.out, [*errors, *args.notes])


if __name__ == "__main__":
    main()
