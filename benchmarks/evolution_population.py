"""``evolution``'s population size against its budget: paired seeds on standard functions.

A steady-state GA proposes uniform points until ``population`` trials have a value and
breeds from the best ``population`` after that, so the population decides how much of a
short study is random search and how fast selection narrows the search. This script runs
``hp.methods.Evolution(population=p)`` for each ``p`` of ``--populations`` on the
synthetic functions of ``methods_quality.py`` (Branin, Hartmann6, Rosenbrock, Ackley and
the mixed space) and the conditional ``branches`` of ``conditional_quality.py``, with the
same seeds, in memory (``hpotrack.testing.simulate``: the method's proposals without a
database, so thousands of runs take minutes), and prints per
function and budget the median regret of each size and on how many seeds it beat the
first size listed: the paired count is far less noisy than two medians.

    python benchmarks/evolution_population.py                       # ~10 min on one core
    python benchmarks/evolution_population.py --populations 20,10,6 --budgets 60 --seeds 20
"""

from __future__ import annotations

import argparse
import statistics

import conditional_quality
import methods_quality
from _common import Report, environment, output_file, versions_of
from methods_quality import OBJECTIVES, TASKS

import hpotrack as hp
from hpotrack.space import Space
from hpotrack.testing.driver import simulate

FUNCTIONS = ("branin", "hartmann6", "rosenbrock", "ackley", "mixed", "branches")
"""``methods_quality.py``'s synthetic functions, and ``conditional_quality.py``'s
``branches`` (a choice among three functions, each with its own parameters; optimum 0)."""


def regret(task: str, population: int, trials: int, seed: int) -> float:
    """Best value of one run minus the function's optimum."""
    if task == "branches":
        space, objective, optimum = (conditional_quality.task_space(task),
                                     conditional_quality.branches, 0.0)  # fmt: skip
    else:
        space = Space.from_user(methods_quality.task_space(task))
        objective, optimum = OBJECTIVES[task], float(TASKS[task][2] or 0.0)  # all known
    method = hp.methods.Evolution(population=population)
    history = simulate(method, space, trials, seed=seed, objective=objective)
    return min(t.value for t in history.trials if t.value is not None) - optimum


def comma_ints(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part]
    if not values or min(values) < 2:
        raise argparse.ArgumentTypeError(f"expected integers of 2 or more, but got {text!r}")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--populations",
        type=comma_ints,
        default=[20, 10],
        help="sizes compared; the first is the reference (default 20,10)",
    )
    parser.add_argument(
        "--budgets",
        type=comma_ints,
        default=[60, 200, 600],
        help="trials per run (default 60,200,600)",
    )
    parser.add_argument("--seeds", type=int, default=40, help="seeds per cell (default 40)")
    parser.add_argument("--first-seed", type=int, default=100, help="default 100")
    parser.add_argument("--out", type=output_file, help="also write the tables as markdown")
    args = parser.parse_args()  # fmt: skip
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, but got {args.seeds}")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    report = Report("evolution's population size against its budget")
    report.lines(environment(versions_of(["hpotrack", "numpy"])))
    reference = args.populations[0]
    for trials in args.budgets:
        rows = []
        for task in FUNCTIONS:
            found = {p: [regret(task, p, trials, s) for s in seeds] for p in args.populations}
            cells = [
                f"{statistics.median(found[p]):.4g}"
                + ("" if p == reference else
                   f" ({sum(a < b for a, b in zip(found[p], found[reference], strict=True))})")
                for p in args.populations
            ]  # fmt: skip
            rows.append([task, *cells])
        report.table(
            f"Median regret after {trials} trials, seeds {seeds.start}..{seeds.stop - 1}",
            rows,
            "function|" + "|".join(f"population={p}" for p in args.populations),
            f"Regret: best value minus the optimum; in brackets, the seeds (of {len(seeds)}) "
            f"on which that size ended below population={reference} with the same seed.",
        )
    report.finish(args.out)


if __name__ == "__main__":
    main()
