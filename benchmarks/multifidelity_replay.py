"""Replay recorded training curves through hpotrack's Hyperband with other bracket allocations.

Trains N random configurations of each task of ``multifidelity.py`` all 27 epochs, once;
then runs hpotrack's own Hyperband over them many times without training: a configuration
is an index into the recorded curves, drawn uniformly, and its reports are its curve.
Every run gets ``multifidelity.py``'s budget and accounting (T x 27 epochs; a promotion
continues from its rung). It compares bracket allocations, as the share of runs whose best
error within E epochs is at or below a level:

- ``hyperband``: hpotrack's default: Hyperband's proportions (Li et al. 2018, Alg. 1),
  each bracket of each iteration one synchronous run of successive halving over its
  configurations (a rung decides once all of the run arrived), brackets in the paper's
  order;
- ``hyperband, asynchronous``: the same proportions with ASHA's rule in each bracket (a
  trial goes on if it is in the top 1/η of its bracket's trials at the rung so far; Li et
  al. 2020), the brackets interleaved: hpotrack's default before synchronous runs;
- ``..., in the paper's order``: asynchronous, but each iteration's brackets one after the
  other, most aggressive first, as Alg. 1 loops;
- ``..., equal checkpointed cost``: asynchronous; brackets get equal epochs counted as
  this benchmark counts them (a promotion continues from its rung), not as Hyperband's
  proportions count them (every rung from scratch);
- ``ray-softmax``: asynchronous, bracket ``s`` with probability proportional to e^s, as
  Ray Tune's AsyncHyperBandScheduler picks brackets (64, 24, 9, 3 % for brackets 3..0);
- ``most-aggressive``: the bracket checked from the lowest rung alone (asynchronous
  successive halving);
- ``... leaky``: asynchronous with the rule Optuna's and Ray Tune's pruners use at a rung,
  where the best of the first η - 1 arrivals goes on (hpotrack stops them, as ASHA does,
  and promotes the best once η arrived);
- ``..., clairvoyant rungs``: every check shows the method the configuration's final
  error (what the trial is charged is still its error where it stopped): how far better
  rankings at the rungs could take Hyperband;
- ``random``: T configurations trained fully, the target's reference.

``--eta`` and ``--min-epochs`` change the ladder of every row (Hyperband's defaults: 3 and 1).

    python benchmarks/multifidelity_replay.py --out replay.md        # ~10 min on 2 cores
    python benchmarks/multifidelity_replay.py --configs 200 --seeds 30  # quicker
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import Report, comma_names
from multifidelity_targets import Curves

from hpotrack.budget import Budget
from hpotrack.methods.base import History, Method, Proposal
from hpotrack.methods.halving import Ladder, interleave
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.random_search import Random
from hpotrack.records import TrialRecord
from hpotrack.space import Int, Space
from hpotrack.testing.method_suite import run_proposal

MAX_EPOCHS = 27
TRIALS = 60  # random's trials: every run's budget is TRIALS x 27 epochs
SHARES = (1 / 3, 1.0)  # the columns: fractions of that budget
BENCHMARK_SEEDS = 20  # multifidelity.py's seeds per row: its targets compare medians of 20
RESAMPLES = 4000


@dataclass(frozen=True)
class Allocated(Hyperband):
    """Hyperband whose new configurations go to the brackets in ``weights`` (bracket s
    gets ``weights[s]`` of them, interleaved); empty: Hyperband's own proportions.
    ``in_order``: Hyperband's proportions in the paper's order instead of interleaved,
    each iteration's brackets one after the other from the most aggressive (Li et al.
    2018, Alg. 1, the loop over s)."""

    weights: tuple[float, ...] = ()
    in_order: bool = False

    def schedule(self, ladder: Ladder) -> tuple[int, ...]:
        if self.in_order:
            return tuple(sorted(super().schedule(ladder), reverse=True))
        if not self.weights:
            return super().schedule(ladder)
        return interleave([round(100 * weight) for weight in self.weights])


@dataclass(frozen=True)
class Leaky(Allocated):
    """``Allocated`` where a trial also goes on while fewer than η reached its rung, if
    it is the best of them: the rule of pruners that cannot resume a stopped trial."""

    def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
        ranked = history.reached(step, trial.bracket)
        best_of_few = len(ranked) < self.eta and history.loss(trial.checks[step]) <= ranked[0][0]
        return not best_of_few and super().on_report(trial, step, history)


def checkpointed_costs(ladder: Ladder) -> list[float]:
    """Epochs one new configuration of bracket ``s`` costs on average when a promotion
    continues from its rung: ``r_s (1 + s (η - 1) / η)`` with ``r_s`` the bracket's first
    rung budget (each of its ``s`` promotions, to a 1/η share of the configurations,
    trains ``(η - 1)`` times the budget so far). Hyperband's proportions assume every
    rung trains from scratch, ``(s + 1) r_s`` each, which overcharges the aggressive
    brackets."""
    eta, top = ladder.eta, ladder.top
    return [ladder.steps[top - s] * (1 + s * (eta - 1) / eta) for s in range(top + 1)]


@dataclass(frozen=True)
class Row:
    """One compared row: the method, and whether its checks see each configuration's
    final error instead of its error at the check."""

    method: Method
    clairvoyant: bool = False


def allocations(ladder: Ladder) -> dict[str, Row]:
    """The compared ways to spread new configurations over the brackets."""
    eta = ladder.eta
    softmax = [math.exp(s) for s in range(ladder.top + 1)]
    only_top = [float(s == ladder.top) for s in range(ladder.top + 1)]
    equal = [1 / cost for cost in checkpointed_costs(ladder)]
    asha = "asynchronous"  # ASHA's rule in each bracket, over all of its trials so far

    def weighted(weights: list[float]) -> tuple[float, ...]:
        return tuple(w / sum(weights) for w in weights)

    return {
        "hyperband": Row(Allocated(eta=eta)),
        "hyperband, asynchronous": Row(Allocated(eta=eta, brackets=asha)),
        "hyperband, asynchronous, in the paper's order": Row(
            Allocated(eta=eta, brackets=asha, in_order=True)
        ),
        "hyperband, asynchronous, equal checkpointed cost": Row(
            Allocated(eta=eta, brackets=asha, weights=weighted(equal))
        ),
        "ray-softmax": Row(Allocated(eta=eta, brackets=asha, weights=weighted(softmax))),
        "most-aggressive": Row(Allocated(eta=eta, brackets=asha, weights=tuple(only_top))),
        "hyperband, asynchronous, leaky": Row(Leaky(eta=eta, brackets=asha)),
        "most-aggressive, leaky": Row(Leaky(eta=eta, brackets=asha, weights=tuple(only_top))),
        "hyperband, clairvoyant rungs": Row(Allocated(eta=eta), clairvoyant=True),
        "hyperband, asynchronous, clairvoyant rungs": Row(
            Allocated(eta=eta, brackets=asha), clairvoyant=True
        ),
        "random": Row(Random()),
    }


def replay(
    row: Row, curves: np.ndarray, seed: int, epochs: int, budget: Budget
) -> list[tuple[int, float]]:
    """One run over recorded curves: (epochs trained, last error) per trial, in order,
    until ``epochs`` are used (a trial starts while fewer are)."""
    space = Space.from_user({"curve": Int(0, len(curves) - 1)})
    history = History(space, "minimize", seed, budget)
    ledger: list[tuple[int, float]] = []
    while sum(trained for trained, _ in ledger) < epochs:
        proposal = row.method.ask(history)
        index = proposal.params["curve"]
        assert isinstance(index, int)  # an Int parameter decodes to an int
        ledger.append(_run(row, history, proposal, curves[index]))
    return ledger


def _run(row: Row, history: History, proposal: Proposal, curve: np.ndarray) -> tuple[int, float]:
    """One trial of a replay: its reports are ``curve``; a clairvoyant row's method is
    shown the final error at every check."""

    def value_at(step: int) -> float:
        return float(curve[step - 1])

    def final(step: int) -> float:
        return float(curve[-1])

    return run_proposal(row.method, history, proposal, value_at, final if row.clairvoyant else None)


def chance_of_target(
    found: np.ndarray, random_bests: np.ndarray, rng: np.random.Generator
) -> float:
    """How often the median of ``BENCHMARK_SEEDS`` runs drawn from ``found`` is at or below
    the median of as many drawn from ``random_bests`` (bootstrap, ``RESAMPLES`` times)."""
    ours = rng.choice(found, size=(RESAMPLES, BENCHMARK_SEEDS))
    theirs = rng.choice(random_bests, size=(RESAMPLES, BENCHMARK_SEEDS))
    return float(np.mean(np.median(ours, axis=1) <= np.median(theirs, axis=1)))


def recorded(task: str, n: int, cache: Path | None) -> np.ndarray:
    """Misclassified digits after each epoch of ``n`` random configurations (cached)."""
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            if task in stored and len(stored[task]) >= n:
                return np.asarray(stored[task][:n])
    from multifidelity import curves

    found = curves(task, n)
    if cache is not None:
        kept = dict(np.load(cache)) if cache.exists() else {}
        np.savez(cache, **{**kept, task: found})
    return found


def task_table(
    report: Report, task: str, curves: np.ndarray, seeds: Sequence[int], ladder: Ladder
) -> None:
    """Share of runs reaching each level within 1/3 and all of the budget, per allocation."""
    epochs = TRIALS * MAX_EPOCHS
    columns = [round(epochs * share) for share in SHARES]
    bests = {}  # allocation: best error within each column's epochs, one row per seed
    for name, row in allocations(ladder).items():
        runs = [replay(row, curves, seed, epochs, ladder.budget) for seed in seeds]
        width = max(sum(trained for trained, _ in run) for run in runs) + 1
        bests[name] = Curves.of(runs, width).within[:, columns]  # the benchmark's rule
    median = float(np.median(bests["random"][:, -1]))
    levels = sorted({math.floor(median), math.ceil(median), math.ceil(median) + 1})
    rows = []
    for name, found in bests.items():
        shares = [np.mean(found[:, i] <= level) for i in range(len(columns)) for level in levels]
        passes = chance_of_target(found[:, 0], bests["random"][:, -1], np.random.default_rng(0))
        rows.append([name, *(f"{share:.0%}" for share in shares), f"{passes:.0%}"])
    report.table(
        f"{task}: share of {len(seeds)} replayed runs whose best error reaches a level, "
        f"{len(curves)} recorded configurations, rungs at {', '.join(map(str, ladder.steps))} "
        f"epochs (eta = {ladder.eta:g})",
        rows,
        "allocation|"
        + "|".join(f"≤ {lv:.0f}/540 within {e:,}" for e in columns for lv in levels)
        + f"|target passes with {BENCHMARK_SEEDS} seeds",
        f"Every run gets {epochs:,} epochs; random's median best within them is "
        f"{median:.1f}/540. Configurations are drawn with replacement from the recorded "
        "ones, so the rarest errors are as rare as in the recording, no rarer. The last "
        f"column is the chance that the median over {BENCHMARK_SEEDS} seeds of the best "
        f"within {columns[0]:,} epochs is at or below random's median over "
        f"{BENCHMARK_SEEDS} seeds within {columns[-1]:,} (the target of multifidelity.py), "
        f"from {RESAMPLES:,} resamples of the replayed runs.",
    )


def main() -> None:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--tasks", default="sgd,mlp", help="comma list of sgd, mlp")
    add("--configs", type=int, default=500, help="configurations recorded per task")
    add("--seeds", type=int, default=100, help="replayed runs per allocation (seeds 1000..)")
    add("--cache", type=Path, help="keep the recorded curves in this .npz file")
    add("--eta", type=float, default=3.0, help="reduction factor of every row's ladder")
    add("--min-epochs", type=int, default=1, help="the ladder's lowest budget (max: 27)")
    add("--out", type=Path, help="also write the tables to this markdown file")
    args = parser.parse_args()
    if not 1 <= args.min_epochs < MAX_EPOCHS or args.eta <= 1:
        parser.error(
            f"`1 <= --min-epochs < {MAX_EPOCHS}` and `--eta > 1` must hold, but got "
            f"--min-epochs={args.min_epochs}, --eta={args.eta}"
        )
    ladder = Ladder(Budget(args.min_epochs, MAX_EPOCHS), args.eta)
    report = Report("Hyperband's bracket allocation, replayed on recorded curves")
    seeds = range(1000, 1000 + args.seeds)  # not the seeds of multifidelity.py
    for task in comma_names(parser, "--tasks", args.tasks, ["sgd", "mlp"]):
        task_table(report, task, recorded(task, args.configs, args.cache), seeds, ladder)
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()
