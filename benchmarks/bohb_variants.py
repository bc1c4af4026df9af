"""BOHB's model, varied, on the real training curves of ``multifidelity.py``.

Runs ``bohb`` as the benchmark does (same tasks, epoch budget, checkpoints and accounting)
next to variants of what its densities are fitted on, and ``hyperband`` (uniform
configurations) as the reference, on seeds the benchmark does not use (20.. by default):

- ``bohb``: hpotrack's default, ``model_budget="top"``: the model only once the top
  budget has d + 3 complete trials (uniform until then), so no low budget steers it; the
  configurations stopped below it join the bad density;
- ``bohb, largest budget``: ``model_budget="largest"``, the paper's rule: the largest
  budget with d + 3 observations (hpotrack's default before 0ba7077);
- ``bohb, largest budget, paper sets``: the observations at that budget alone make both
  densities;
- ``bohb, largest budget, random_fraction=0.5``: half the new configurations uniform;
- ``bohb, rank-weighted budgets``: every budget with enough observations has a model, and
  the acquisition sums their log-ratios, each weighted by how well its budget ranks the
  largest one's trials (after MFES-HB);
- ``bohb, top budget, rank-weighted``: the same, uniform until the top budget has d + 3;
- ``bohb, top two budgets``: the largest budget with enough observations among the top
  two, so the model starts before the top budget has d + 3 trials;
- ``hyperband``;
- ``hyperband, asynchronous`` and ``bohb, asynchronous``: ASHA's rule in every bracket
  (``brackets="asynchronous"``, the default before synchronous bracket runs).

It prints the mean over seeds of the best error within each budget, in digits of 1/540
(one misclassified validation digit), finer than the benchmark's medians, with its
standard error, and each variant's difference from ``hyperband`` (or ``--reference``)
seed by seed (the same seed gives both the same first configurations, so the paired
difference is less noisy).

    python benchmarks/bohb_variants.py --tasks sgd          # ~4.5 min per variant, 2 cores
    python benchmarks/bohb_variants.py --variants "bohb;bohb, largest budget" --tasks mlp
    python benchmarks/bohb_variants.py --variants "bohb;bohb, asynchronous" --reference bohb
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import (
    Report,
    comma_names,
    environment,
    mean,
    one_blas_thread,
    output_file,
    versions_of,
)
from multifidelity import AT, MAX_EPOCHS, TASKS, curves_of, pool, run_hpotrack

from hpotrack.methods.base import Method
from hpotrack.methods.bohb import BOHB, Observations, budget_observations
from hpotrack.methods.history import History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.registry import register
from hpotrack.space import Value

DIGITS = 540  # validation digits: errors are k / 540
REFERENCE = "hyperband"  # by default the variants are compared seed by seed with it


@register
@dataclass(frozen=True)
class PaperSets(BOHB):
    """BOHB whose densities see only the observations at the modelled budget."""

    name = "bohb-paper-sets"  # a study rebuilds its method by name

    def observed(self, history: History) -> Observations | None:
        found = super().observed(history)
        if found is None:
            return None
        return Observations(found.numbers[: found.measured], found.losses, found.budget)


@register
@dataclass(frozen=True)
class RankWeighted(BOHB):
    """BOHB whose acquisition sums the log-ratios ``log l_b(x) - log g_b(x)`` of every
    budget ``b`` with enough observations, each weighted by how well that budget ranks
    the trials of the largest such budget (Kendall's tau over the trials observed at
    both, floored at 0; the largest weighs 1), after MFES-HB (Li et al. 2021, "MFES-HB:
    Efficient Hyperband with Multi-Fidelity Quality Measurements", sec. 4.2). Candidates
    come from each budget's widened ``l_b`` in proportion to its weight."""

    name = "bohb-rank-weighted"

    def configuration(self, history: History) -> tuple[dict[str, Value], str]:
        space, number = history.space, history.next_number
        if history.uniform(number, 1, stream=1)[0] < self.random_fraction:
            return Hyperband.configuration(self, history)[0], "the random fraction"
        if self.observed(history) is None:  # as BOHB's, with its model_budget
            return Hyperband.configuration(self, history)[0], "no model yet"
        n_min = len(space) + 1
        ladder = self.ladder(history)
        usable = [f for f in budget_observations(history, ladder) if f.measured >= n_min + 2]
        reference = dict(zip(usable[-1].numbers, usable[-1].losses, strict=False))
        weights = [kendall_tau(found, reference) for found in usable[:-1]] + [1.0]
        models = [
            (w, self.densities(history, f)) for w, f in zip(weights, usable, strict=True) if w > 0
        ]
        total = sum(w for w, _ in models)
        rng = history.rng(number, 2)
        drawn = np.concatenate(
            [m.wide.sample(rng, max(1, round(self.num_samples * w / total))) for w, m in models]
        )
        score = sum(w * m.log_ratio(drawn) for w, m in models)
        note = "weights " + ", ".join(f"{w:.2f}" for w in weights)
        return space.decode(drawn[int(np.argmax(score))]), note


@register
@dataclass(frozen=True)
class UpperBudgets(BOHB):
    """BOHB whose model is that of the largest budget with enough observations among the
    top two (``max`` and ``max / eta``): it starts before the top budget has ``d + 3``
    trials, but never from the lowest rungs."""

    name = "bohb-upper-budgets"

    def observed(self, history: History) -> Observations | None:
        ladder = self.ladder(history)
        n_min = len(history.space) + 1
        for found in reversed(budget_observations(history, ladder)):
            if found.budget >= ladder.steps[max(0, ladder.top - 1)] and found.measured >= n_min + 2:
                return found
        return None


def kendall_tau(found: Observations, reference: dict[int, float]) -> float:
    """Kendall's tau between the losses at ``found``'s budget and ``reference``'s, over
    the trials observed at both, floored at 0 (a budget that ranks them the other way
    gets no weight); 0 below 3 such trials."""
    pairs = [
        (loss, reference[n])
        for n, loss in zip(found.numbers, found.losses, strict=False)
        if n in reference
    ]
    if len(pairs) < 3:
        return 0.0
    low, high = np.array(pairs).T
    sign = np.sign(low[:, None] - low[None, :]) * np.sign(high[:, None] - high[None, :])
    n = len(pairs)
    return max(0.0, float(sign.sum()) / (n * (n - 1)))


VARIANTS: dict[str, Callable[[], Method]] = {
    "bohb": BOHB,
    "bohb, largest budget": lambda: BOHB(model_budget="largest"),
    "bohb, largest budget, paper sets": lambda: PaperSets(model_budget="largest"),
    "bohb, largest budget, random_fraction=0.5": lambda: BOHB(
        random_fraction=0.5, model_budget="largest"
    ),
    "bohb, rank-weighted budgets": lambda: RankWeighted(model_budget="largest"),
    "bohb, top budget, rank-weighted": RankWeighted,
    "bohb, top two budgets": UpperBudgets,
    "hyperband": Hyperband,
    "hyperband, asynchronous": lambda: Hyperband(brackets="asynchronous"),
    "bohb, asynchronous": lambda: BOHB(brackets="asynchronous"),
}


def run_variant(job: tuple[str, str, int, int]) -> tuple[str, int, list[float]]:
    """One seed of one variant: its best error within each budget, in digits."""
    variant, task, seed, epochs = job
    warnings.simplefilter("ignore")
    logging.getLogger("hpotrack").setLevel(logging.WARNING)
    row = "hyperband" if variant == "hyperband" else "bohb"  # checkpoints, study name
    with tempfile.TemporaryDirectory(prefix="hp-bv-") as folder:
        run = run_hpotrack(row, task, seed, epochs, Path(folder), VARIANTS[variant]())
    within = curves_of([run]).median_within
    return variant, seed, [within(round(share * epochs)) * DIGITS for share in AT]


def mean_and_error(values: Sequence[float]) -> str:
    """ "mean ± standard error of the mean" over seeds."""
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else math.nan
    return f"{mean(values):.2f} ± {error:.2f}"


def task_table(report: Report, task: str, variants: Sequence[str], seeds: Sequence[int],
               workers: int, reference: str = REFERENCE) -> None:  # fmt: skip
    epochs = TASKS[task][1] * MAX_EPOCHS  # random's trials x 27, as the benchmark gives
    jobs = [(variant, task, seed, epochs) for variant in variants for seed in seeds]
    found: dict[str, dict[int, list[float]]] = {variant: {} for variant in variants}
    with pool(workers) as processes:
        for variant, seed, bests in processes.imap_unordered(run_variant, jobs):
            found[variant][seed] = bests
    header = "variant|" + "|".join(f"within {round(share * epochs):,}" for share in AT)
    seed_range = f"seeds {seeds[0]}..{seeds[-1]}"
    columns = {v: list(zip(*(found[v][seed] for seed in seeds), strict=True)) for v in variants}
    report.table(
        f"{task}: mean best error within E epochs, in digits of 1/{DIGITS}, {seed_range}",
        [[v, *(mean_and_error(column) for column in columns[v])] for v in variants],
        header,
        "Lower is better; one digit is one more validation digit classified right; "
        "± one standard error of the mean over seeds.",
    )
    if reference not in variants or len(variants) < 2:
        return
    paired = [
        [v, *(mean_and_error([a - b for a, b in zip(mine, base, strict=True)])
              for mine, base in zip(columns[v], columns[reference], strict=True))]
        for v in variants
        if v != reference
    ]  # fmt: skip
    report.table(
        f"{task}: each variant minus {reference}, seed by seed, in digits, {seed_range}",
        paired,
        header,
        f"Below 0: better than {reference} on the same seeds; ± one standard error of the "
        "mean difference.",
    )


def main() -> None:
    one_blas_thread()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--tasks", default="sgd,mlp", help="comma list of sgd, mlp")
    add("--variants", default=";".join(VARIANTS), help="';'-separated names")
    add("--seeds", type=int, default=20, help="seeds per variant")
    add("--first-seed", type=int, default=20, help="the first seed (the benchmark's: 0..19)")
    add("--workers", type=int, default=2)
    add("--reference", default=REFERENCE, help="the variant the others are paired with")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    variants = [name.strip() for name in args.variants.split(";")]
    unknown = [name for name in [*variants, args.reference] if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, but got {args.seeds}")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    report = Report("BOHB's model, varied, on the multifidelity.py tasks")
    report.lines(environment(versions_of(["hpotrack", "scikit-learn", "numpy"])))
    for task in comma_names(parser, "--tasks", args.tasks, ["sgd", "mlp"]):
        task_table(report, task, variants, seeds, args.workers, args.reference)
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()
