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
- ``hyperband, rungs see the late level``: every check shows the mean of the
  configuration's errors over its last 9 epochs: what a perfect predictor of how good a
  configuration is could know, short of the final epoch's own noise;
- ``hyperband, rungs see the mean of the last 3``, ``..., the mean since the last
  rung``: statistics of the errors reported so far that are less noisy than the last
  one (the errors of the last 3 epochs, or of the epochs since the rung before);
- ``hyperband, ties broken by the mean since the last rung``: the error at the rung
  ranks first, and configurations with equal errors (whole digits tie often) rank by the
  mean of their errors since the rung before, instead of by arrival;
- ``hyperband, rungs see a learned estimate``: every check shows the error there plus,
  for each later rung, the change from the rung before that nearby configurations the
  run has trained that far made (:func:`learned_estimate`): a learning-curve predictor
  learned from the run itself;
- ``random``: T configurations trained fully, the target's reference.

``--eta`` and ``--min-epochs`` change the ladder of every row (Hyperband's defaults: 3 and 1).

    python benchmarks/multifidelity_replay.py --out replay.md        # ~10 min on 2 cores
    python benchmarks/multifidelity_replay.py --configs 200 --seeds 30  # quicker
    python benchmarks/multifidelity_replay.py --rows "hyperband;random" --seeds 300
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import Report, comma_names, environment, one_blas_thread, output_file, versions_of
from multifidelity_targets import Curves

from hpotrack.budget import Budget
from hpotrack.methods.base import Method
from hpotrack.methods.halving import Ladder, interleave
from hpotrack.methods.history import History
from hpotrack.methods.hyperband import Hyperband
from hpotrack.methods.random_search import Random
from hpotrack.records import TrialRecord
from hpotrack.space import Int, Space
from hpotrack.testing.driver import run_proposal

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

    def schedule(self, ladder: Ladder) -> Sequence[int]:
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


LATE = 9  # a configuration's level: the mean of its errors over the last LATE epochs
KERNEL_WIDTH = 0.1  # of the learned estimate, in the unit cube (a choice is 1/k wide)


@dataclass(frozen=True)
class Recording:
    """A task's recorded configurations: misclassified digits after each epoch, one row
    each, and their points of the unit cube (as the task's space encodes them)."""

    errors: np.ndarray
    points: np.ndarray


@dataclass(frozen=True)
class Row:
    """One compared row: the method, and what its checks see of a configuration instead of
    its error at the check: nothing else (``""``), its final error (``"final"``), its
    level late in training (``"level"``: the mean of its last ``LATE`` errors, what a
    perfect predictor of its quality could know, without the last epoch's noise), the
    mean of its errors over the last 3 epochs (``"last 3"``) or since the rung before
    (``"since the last rung"``), its error with ties broken by that mean (``"ties by
    the mean since the last rung"``), or a learning-curve estimate of its final error
    made from the run's own trials (``"learned"``, :func:`learned_estimate`)."""

    method: Method
    shown: str = ""


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
        "hyperband, clairvoyant rungs": Row(Allocated(eta=eta), shown="final"),
        "hyperband, asynchronous, clairvoyant rungs": Row(
            Allocated(eta=eta, brackets=asha), shown="final"
        ),
        "hyperband, rungs see the late level": Row(Allocated(eta=eta), shown="level"),
        "hyperband, rungs see the mean of the last 3": Row(Allocated(eta=eta), shown="last 3"),
        "hyperband, rungs see the mean since the last rung": Row(
            Allocated(eta=eta), shown="since the last rung"
        ),
        "hyperband, ties broken by the mean since the last rung": Row(
            Allocated(eta=eta), shown="ties by the mean since the last rung"
        ),
        "hyperband, rungs see a learned estimate": Row(Allocated(eta=eta), shown="learned"),
        "random": Row(Random()),
    }


def replay(
    row: Row, recording: Recording, seed: int, epochs: int, ladder: Ladder
) -> list[tuple[int, float]]:
    """One run over recorded curves: (epochs trained, last error) per trial, in order,
    until ``epochs`` are used (a trial starts while fewer are). A trial's reports are its
    configuration's curve; at every check the method is shown what ``row.shown`` names."""
    errors = recording.errors
    space = Space.from_user({"curve": Int(0, len(errors) - 1)})
    history = History(space, "minimize", seed, ladder.budget)
    trained_to: dict[int, int] = {}  # configuration: the last epoch a trial of it reached
    ledger: list[tuple[int, float]] = []
    while sum(trained for trained, _ in ledger) < epochs:
        proposal = row.method.ask(history)
        index = proposal.params["curve"]
        assert isinstance(index, int)  # an Int parameter decodes to an int
        reports, shown = _seen(row.shown, recording, index, trained_to, ladder.steps)
        trained, error = run_proposal(row.method, history, proposal, reports, shown)
        start = (proposal.parents[0].step or 0) if proposal.parents else 0
        trained_to[index] = max(trained_to.get(index, 0), start + trained)
        ledger.append((trained, error))
    return ledger


def _seen(
    shown: str,
    recording: Recording,
    index: int,
    trained_to: dict[int, int],
    rungs: Sequence[int],
) -> tuple[Callable[[int], float], Callable[[int], float] | None]:
    """A trial of configuration ``index``: its error after each step, and what its checks
    show the method instead (None: the same)."""
    curve = recording.errors[index]

    def error(step: int) -> float:
        return float(curve[step - 1])

    def final(step: int) -> float:
        return float(curve[-1])

    def level(step: int) -> float:
        return float(np.mean(curve[-LATE:]))

    def last_3(step: int) -> float:
        return float(np.mean(curve[max(0, step - 3) : step]))

    def since_the_last_rung(step: int) -> float:
        last_rung = max((rung for rung in rungs if rung < step), default=0)
        return float(np.mean(curve[last_rung:step]))

    def ties_by_since_the_last_rung(step: int) -> float:  # errors are whole digits < 540
        return error(step) + since_the_last_rung(step) / 1000

    def learned(step: int) -> float:
        return learned_estimate(recording, index, step, trained_to, rungs)

    return error, {
        "": None,
        "final": final,
        "level": level,
        "last 3": last_3,
        "since the last rung": since_the_last_rung,
        "ties by the mean since the last rung": ties_by_since_the_last_rung,
        "learned": learned,
    }[shown]


def learned_estimate(
    recording: Recording,
    index: int,
    step: int,
    trained_to: dict[int, int],
    rungs: Sequence[int],
) -> float:
    """Configuration ``index``'s error at ``step``, plus for each later rung the change
    from the rung before that the configurations trained that far made, weighted by
    nearness in the unit cube (a Nadaraya-Watson mean, Gaussian kernel of width
    ``KERNEL_WIDTH``; each also weighs a little whatever its distance, so that a far
    one still counts when it is alone). A learning-curve estimate of the final error
    from what the run itself has trained: what a model at the rungs could know."""
    errors, points = recording.errors, recording.points
    estimate = float(errors[index, step - 1])
    ladder = [step, *(rung for rung in rungs if rung > step)]
    for low, high in itertools.pairwise(ladder):
        others = np.array([other for other, last in trained_to.items() if last >= high])
        if others.size == 0:
            break
        change = errors[others, high - 1] - errors[others, low - 1]
        distances = np.sum((points[others] - points[index]) ** 2, axis=1)
        weights = np.exp(-distances / (2 * KERNEL_WIDTH**2)) + 1e-3
        estimate += float(weights @ change / weights.sum())
    return estimate


def chance_of_target(
    found: np.ndarray, random_bests: np.ndarray, rng: np.random.Generator
) -> float:
    """How often the median of ``BENCHMARK_SEEDS`` runs drawn from ``found`` is at or below
    the median of as many drawn from ``random_bests`` (bootstrap, ``RESAMPLES`` times)."""
    ours = rng.choice(found, size=(RESAMPLES, BENCHMARK_SEEDS))
    theirs = rng.choice(random_bests, size=(RESAMPLES, BENCHMARK_SEEDS))
    return float(np.mean(np.median(ours, axis=1) <= np.median(theirs, axis=1)))


def recorded(task: str, n: int, cache: Path | None) -> Recording:
    """``n`` random configurations of ``task`` (``multifidelity.configurations``) and
    their errors after each epoch (kept in ``cache``: training them takes minutes)."""
    from multifidelity import configurations, curves, task_space

    points = Space.from_user(task_space(task)).encode_many(configurations(task, n))
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            if task in stored and len(stored[task]) >= n:
                return Recording(np.asarray(stored[task][:n]), points)
    found = curves(task, n)
    if cache is not None:
        kept = dict(np.load(cache)) if cache.exists() else {}
        np.savez(cache, **{**kept, task: found})
    return Recording(found, points)


def task_table(
    report: Report,
    task: str,
    recording: Recording,
    seeds: Sequence[int],
    ladder: Ladder,
    rows: dict[str, Row],
) -> None:
    """Share of runs reaching each level within 1/3 and all of the budget, per allocation."""
    epochs = TRIALS * MAX_EPOCHS
    columns = [round(epochs * share) for share in SHARES]
    bests = {}  # allocation: best error within each column's epochs, one row per seed
    for name, row in rows.items():
        runs = [replay(row, recording, seed, epochs, ladder) for seed in seeds]
        width = max(sum(trained for trained, _ in run) for run in runs) + 1
        bests[name] = Curves.of(runs, width).within[:, columns]  # the benchmark's rule
    median = float(np.median(bests["random"][:, -1]))
    levels = sorted({math.floor(median), math.ceil(median), math.ceil(median) + 1})
    lines = []
    for name, found in bests.items():
        shares = [np.mean(found[:, i] <= level) for i in range(len(columns)) for level in levels]
        passes = chance_of_target(found[:, 0], bests["random"][:, -1], np.random.default_rng(0))
        lines.append([name, *(f"{share:.0%}" for share in shares), f"{passes:.0%}"])
    report.table(
        f"{task}: share of {len(seeds)} replayed runs whose best error reaches a level, "
        f"{len(recording.errors)} recorded configurations, rungs at "
        f"{', '.join(map(str, ladder.steps))} epochs (eta = {ladder.eta:g})",
        lines,
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
    one_blas_thread()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--tasks", default="sgd,mlp", help="comma list of sgd, mlp")
    add("--configs", type=int, default=500, help="configurations recorded per task")
    add("--seeds", type=int, default=100, help="replayed runs per allocation (seeds 1000..)")
    add("--cache", type=output_file, help="keep the recorded curves in this .npz file")
    add("--eta", type=float, default=3.0, help="reduction factor of every row's ladder")
    add("--min-epochs", type=int, default=1, help="the ladder's lowest budget (max: 27)")
    add("--rows", help='the rows to run, separated by ";" (default: all; "random" always runs)')
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args()
    if not 1 <= args.min_epochs < MAX_EPOCHS or args.eta <= 1:
        parser.error(
            f"`1 <= --min-epochs < {MAX_EPOCHS}` and `--eta > 1` must hold, but got "
            f"--min-epochs={args.min_epochs}, --eta={args.eta}"
        )
    ladder = Ladder(Budget(args.min_epochs, MAX_EPOCHS), args.eta)
    rows = allocations(ladder)
    if args.rows:
        chosen = [name.strip() for name in args.rows.split(";")]
        if unknown := [name for name in chosen if name not in rows]:
            parser.error(f"unknown --rows {unknown}; the rows are: {'; '.join(rows)}")
        rows = {name: row for name, row in rows.items() if name in chosen or name == "random"}
    report = Report("Hyperband's bracket allocation, replayed on recorded curves")
    report.lines(environment(versions_of(["hpotrack", "scikit-learn", "numpy"])))
    seeds = range(1000, 1000 + args.seeds)  # not the seeds of multifidelity.py
    for task in comma_names(parser, "--tasks", args.tasks, ["sgd", "mlp"]):
        task_table(report, task, recorded(task, args.configs, args.cache), seeds, ladder, rows)
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()
