"""What a multi-fidelity method costs per trial as the study grows: hpotrack against Optuna.

Both libraries run in memory with a trivial objective, so only the method's own work is
timed: the ask (a new configuration or a promotion), and at every step the decision
whether the trial goes on. Each trial trains up to 27 steps over four floats; its value at
step ``s`` is ``sum((x - 0.3)^2) + 1/s``, and it stops where its method prunes it.

- hpotrack ``sha``, ``hyperband``, ``bohb``: the method against its in-memory
  :class:`History`, as the study loop drives it (the method is consulted at its check
  steps; a promotion continues its parent from the rung). The SQLite storage is not
  included: ``storage_overhead.py`` times that.
- Optuna on ``InMemoryStorage``, ask and tell, ``report`` and ``should_prune`` at every
  step, as its documentation's loop does, each next to the hpotrack method it compares
  with (same budget, reduction factor 3): ``RandomSampler`` with
  ``SuccessiveHalvingPruner`` (``sha``), ``RandomSampler`` with ``HyperbandPruner``
  (``hyperband``), ``TPESampler`` with ``HyperbandPruner`` (``bohb``).

The table gives the mean milliseconds per trial over the last ``--window`` trials before
each study size N, median over ``--repeats`` runs (seeds 0..). The mean, not the median:
a window mixes cheap trials (promotions, uniform draws) with model fits, and the mean is
what a trial costs on average (before 49a903c the median, which for ``bohb`` fell on a
model fit or a cheap ask depending on the mix, so it hid half of the cost or none).

    python benchmarks/halving_overhead.py                  # ~25 min on one core
    python benchmarks/halving_overhead.py --quick          # smoke test, < 1 min
    python benchmarks/halving_overhead.py --sizes 500,2000 --repeats 1
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence

from _common import (
    Report,
    comma_names,
    environment,
    median,
    one_blas_thread,
    output_file,
    versions_of,
)

from hpotrack.budget import Budget
from hpotrack.methods import resolve
from hpotrack.methods.history import History
from hpotrack.space import Float, Space
from hpotrack.testing.driver import run_proposal

MAX_STEPS = 27
DIMENSIONS = 4
HP_METHODS = ["sha", "hyperband", "bohb"]
OPTUNA = ["optuna-random+sha", "optuna-random+hyperband", "optuna-tpe+hyperband"]
COUNTERPART = dict(zip(HP_METHODS, OPTUNA, strict=True))  # what each hpotrack row faces
SIZES = (250, 1000, 2500, 5000)


def value(params: Mapping[str, float], step: int) -> float:
    """The objective after ``step`` steps: a bowl, approached as 1/step."""
    return sum((x - 0.3) ** 2 for x in params.values()) + 1 / step


def run_hpotrack(method: str, n: int, seed: int) -> list[float]:
    """Seconds per trial of ``n`` trials of an hpotrack method over its in-memory history."""
    chosen = resolve(method)
    space = Space.from_user({f"x{i}": Float(0.0, 1.0) for i in range(DIMENSIONS)})
    history = History(space, "minimize", seed, Budget(1, MAX_STEPS))
    seconds: list[float] = []
    for _ in range(n):
        began = time.perf_counter()
        proposal = chosen.ask(history)
        params = {k: float(v) for k, v in proposal.params.items()}  # type: ignore[arg-type]
        run_proposal(chosen, history, proposal, lambda step, p=params: value(p, step))
        seconds.append(time.perf_counter() - began)
    return seconds


def run_optuna(method: str, n: int, seed: int) -> list[float]:
    """Seconds per trial of ``n`` Optuna trials, ask and tell, reports at every step."""
    import optuna

    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if method == "optuna-tpe+hyperband"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    pruner = (
        optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        if method == "optuna-random+sha"
        else optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=MAX_STEPS, reduction_factor=3
        )
    )
    study = optuna.create_study(sampler=sampler, pruner=pruner, study_name=f"overhead-{seed}")
    dists = {f"x{i}": optuna.distributions.FloatDistribution(0.0, 1.0) for i in range(DIMENSIONS)}
    seconds: list[float] = []
    for _ in range(n):
        began = time.perf_counter()
        trial = study.ask(dists)
        step = 0
        for step in range(1, MAX_STEPS + 1):
            trial.report(value(trial.params, step), step)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, value(trial.params, step))
        seconds.append(time.perf_counter() - began)
    return seconds


RUNNERS: dict[str, Callable[[str, int, int], list[float]]] = {
    **dict.fromkeys(HP_METHODS, run_hpotrack),
    **dict.fromkeys(OPTUNA, run_optuna),
}


def per_size(seconds: Sequence[float], sizes: Sequence[int], window: int) -> list[float]:
    """Mean seconds per trial over the ``window`` trials before each size."""
    return [statistics.fmean(seconds[max(0, n - window) : n]) for n in sizes]


def main() -> None:
    one_blas_thread()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--methods", default=",".join(HP_METHODS + OPTUNA), help="comma list of the rows")
    add("--sizes", default=",".join(map(str, SIZES)), help="study sizes N to report at")
    add("--window", type=int, default=100, help="trials before each N that are timed")
    add("--repeats", type=int, default=3, help="runs per method (seeds 0..)")
    add("--quick", action="store_true", help="sizes 100,500, one run: a smoke test")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    methods = comma_names(parser, "--methods", args.methods, HP_METHODS + OPTUNA)
    sizes = [100, 500] if args.quick else sorted(int(s) for s in args.sizes.split(","))
    repeats = 1 if args.quick else args.repeats
    if args.window < 1 or repeats < 1 or not sizes or sizes[0] < 1:
        parser.error("--window, --repeats and every size must be at least 1")
    logging.getLogger("hpotrack").setLevel(logging.WARNING)
    optuna_rows = [m for m in methods if m in OPTUNA]  # hpotrack's rows run without Optuna
    hint = f", or leave out {', '.join(optuna_rows)} (--methods)" if optuna_rows else ""
    versions = versions_of(["hpotrack", "numpy", *(["optuna"] if optuna_rows else [])], hint)
    if optuna_rows:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = Report("Multi-fidelity methods: cost per trial as the study grows")
    report.lines(environment(versions))
    found: dict[str, list[float]] = {}
    for method in methods:
        runs = []
        for seed in range(repeats):
            gc.collect()
            runs.append(per_size(RUNNERS[method](method, sizes[-1], seed), sizes, args.window))
        found[method] = [median(column) for column in zip(*runs, strict=True)]
        print(f"{method}: " + ", ".join(f"{s * 1e3:.2f} ms" for s in found[method]), flush=True)
    rows = [[m, *(f"{s * 1e3:.2f}" for s in found[m])] for m in methods]
    report.table(
        f"Mean ms per trial (ask + decisions at every step + tell) over the {args.window} "
        f"trials before N, median of {repeats} run(s)",
        rows,
        "method|" + "|".join(f"N = {n:,}" for n in sizes),
        "In memory, one thread. hpotrack's rows leave out its SQLite storage "
        "(storage_overhead.py); Optuna's use InMemoryStorage, its fastest.",
    )
    pairs = [(m, COUNTERPART[m]) for m in HP_METHODS if m in found and COUNTERPART[m] in found]
    if pairs:
        rows = []
        for mine, theirs in pairs:
            ratios = (b / a for a, b in zip(found[mine], found[theirs], strict=True))
            rows.append([f"{mine} vs {theirs}", *(f"{ratio:.0f}x" for ratio in ratios)])
        report.table(
            "How many times faster per trial than its Optuna counterpart",
            rows,
            "rows|" + "|".join(f"N = {n:,}" for n in sizes),
            "Same workload and study size; higher is faster.",
        )
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()
