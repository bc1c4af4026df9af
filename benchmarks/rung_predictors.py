"""How well could a predictor learned from fully trained curves rank configurations at the rungs?

``multifidelity_replay.py`` shows that Hyperband, shown each configuration's late level
(the mean of its last 9 errors) at its rungs instead of its error there, would pass the
sgd target of ``multifidelity.py``, and that the error at the rung does not. This script
asks whether a predictor of that level could be learned, and from how many curves.

For each task it takes the recorded configurations of ``multifidelity_replay.py`` (500,
all trained 27 epochs) and, at each rung, fits a regression of the late level on what a
rung knows of a configuration: its errors so far, and optionally its point in the unit
cube (its hyperparameters). The regression learns from ``n`` configurations trained
fully (drawn at random) and is scored on the others: Spearman's rho between its
predictions and their late levels, among the configurations in the best third at the
rung (the ones a rung must tell apart; over all of them, any statistic ranks well). A
run of ``hyperband`` has trained 10 configurations fully within 540 epochs (a third of
the budget); ``random`` trains 60 in all of its 1,620.

    python benchmarks/rung_predictors.py --cache curves.npz --out predictors.md   # ~4 min
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
from _common import Report, comma_names, environment, one_blas_thread, output_file, versions_of
from multifidelity_replay import LATE, Recording, recorded

RUNGS = (1, 3, 9)  # Budget(1, 27) with eta = 3, below the top
SIZES = (10, 20, 60, 150)  # fully trained configurations to learn from
REPEATS = 20  # random draws of them per size
FOLDS = 10  # the last column: each tenth predicted from the other nine
MIN_CONFIGS = 2 * max(SIZES)  # the largest sample learned from, and as many scored


def rank_quality(predicted: np.ndarray, level: np.ndarray) -> float:
    """Spearman's rho of predictions and levels; 0 for a constant prediction (no ranking)."""
    # imported here, as sklearn in learned(): they take seconds to import, which a refused
    # command line need not wait for
    from scipy.stats import spearmanr

    if np.ptp(predicted) == 0:
        return 0.0
    return float(spearmanr(predicted, level).statistic)


def features(recording: Recording, rung: int, with_params: bool) -> np.ndarray:
    """What a rung knows of each configuration: its errors so far (and its point)."""
    known = recording.errors[:, :rung].astype(float)
    return np.hstack([known, recording.points]) if with_params else known


def learned(
    inputs: np.ndarray, level: np.ndarray, train: np.ndarray, test: np.ndarray
) -> np.ndarray:
    """The late levels of ``test`` predicted by gradient boosting fitted on ``train``."""
    from sklearn.ensemble import HistGradientBoostingRegressor  # see rank_quality()

    leaf = max(2, min(20, len(train) // 5))  # small samples still get a few splits
    model = HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, min_samples_leaf=leaf, random_state=0
    )
    return model.fit(inputs[train], level[train]).predict(inputs[test])


def scores(recording: Recording, rung: int, with_params: bool) -> list[float]:
    """Mean rank quality among the rung's best third, learned from each of ``SIZES``
    configurations and, last, from all but a tenth (``FOLDS``-fold)."""
    level = recording.errors[:, -LATE:].mean(axis=1)
    at_rung = recording.errors[:, rung - 1]
    contested = at_rung <= np.quantile(at_rung, 1 / 3)
    inputs = features(recording, rung, with_params)
    everyone = np.arange(len(level))
    rng = np.random.default_rng(0)
    found = []
    for size in SIZES:
        qualities = []
        for _ in range(REPEATS):
            train = rng.choice(everyone, size=size, replace=False)
            test = np.setdiff1d(everyone, train)
            scored = test[contested[test]]
            qualities.append(rank_quality(learned(inputs, level, train, scored), level[scored]))
        found.append(float(np.mean(qualities)))
    predicted = np.empty_like(level)
    for fold in np.array_split(rng.permutation(everyone), FOLDS):
        predicted[fold] = learned(inputs, level, np.setdiff1d(everyone, fold), fold)
    found.append(rank_quality(predicted[contested], level[contested]))
    return found


def task_table(report: Report, task: str, recording: Recording) -> None:
    """Rank quality at each rung: the error there, and the two learned predictors."""
    rows = []
    for rung in RUNGS:
        at_rung = recording.errors[:, rung - 1]
        contested = at_rung <= np.quantile(at_rung, 1 / 3)
        level = recording.errors[:, -LATE:].mean(axis=1)
        alone = rank_quality(at_rung[contested], level[contested])
        rows.append([f"{rung}", "the error at the rung", *[f"{alone:.2f}"] * (len(SIZES) + 1)])
        for with_params, what in ((False, "learned: errors so far"), (True, "... and parameters")):
            quality = scores(recording, rung, with_params)
            rows.append(["", what, *(f"{q:.2f}" for q in quality)])
    n = len(recording.errors)
    report.table(
        f"{task}: Spearman's rho with the late level among the rung's best third, "
        f"{n} recorded configurations",
        rows,
        "rung (epochs)|ranked by|"
        + "|".join(f"learned from {size}" for size in SIZES)
        + f"|from {n - n // FOLDS} ({FOLDS}-fold)",
        f"The late level: the mean error over a configuration's last {LATE} epochs. Learned: "
        "gradient boosting fitted on that many configurations trained fully, scored on the "
        f"others in the rung's best third (mean over {REPEATS} draws). Within 540 epochs a "
        "hyperband run has trained 10 configurations fully; random trains 60 in 1,620.",
    )


def main(argv: Sequence[str] | None = None) -> None:
    one_blas_thread()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--tasks", default="sgd,mlp", help="comma list of sgd, mlp")
    add("--configs", type=int, default=500, help="configurations recorded per task")
    add("--cache", type=output_file, help="keep the recorded curves in this .npz file")
    add("--out", type=output_file, help="also write the tables to this markdown file")
    args = parser.parse_args(argv)
    if args.configs < MIN_CONFIGS:
        parser.error(
            f"`--configs >= {MIN_CONFIGS}` must hold (the predictors learn from up to "
            f"{max(SIZES)} and are scored on the rest), but got --configs={args.configs}"
        )
    report = Report("Predicting the late level at the rungs, learned from trained curves")
    report.lines(environment(versions_of(["hpotrack", "scikit-learn", "numpy"])))
    for task in comma_names(parser, "--tasks", args.tasks, ["sgd", "mlp"]):
        task_table(report, task, recorded(task, args.configs, args.cache))
    if args.out:
        report.write(args.out)


if __name__ == "__main__":
    main()
