"""Manual (heuristic) tuning: an SVM on scikit-learn's breast cancer data, by hand.

    python examples/manual_svm.py [N_TRIALS] && hpotrack show manual_svm --top 5

``method="manual"`` proposes nothing itself: the study runs only what you enqueue
(``study.enqueue({...})``, or ``hpotrack enqueue``) and what you call directly
(``train(C=1.0, gamma=0.01)``), and records all of it like any other search. This script
enqueues two usual starting points, then searches by hand the way one often does: move C or
gamma by a factor of 10 around the best so far, and narrow the factor when nothing improves.

N_TRIALS (default 16) is the study's total: running the script again with a larger number
continues from the best trial stored in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import math
import sys

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpotrack as hp

X, y = load_breast_cancer(return_X_y=True)
FOLDS = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

space = {"C": hp.Float(1e-3, 1e4, log=True), "gamma": hp.Float(1e-5, 1e1, log=True)}

# scikit-learn's defaults (gamma="scale" is 1/30 on 30 standardized features) and a usual guess
STARTS = [{"C": 1.0, "gamma": 1 / 30}, {"C": 10.0, "gamma": 0.01}]


@hp.tune(space, method="manual", study="manual_svm", objective="accuracy", direction="maximize")
def train(C: float, gamma: float) -> dict[str, float]:
    """5-fold cross-validated accuracy of a standardized RBF SVM."""
    model = make_pipeline(StandardScaler(), SVC(C=C, gamma=gamma))
    scores = cross_val_score(model, X, y, cv=FOLDS)
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}


def key(params: dict[str, float]) -> tuple[float, float]:
    """A trial's place on the log10 lattice the search walks on."""
    return round(math.log10(params["C"]), 3), round(math.log10(params["gamma"]), 3)


def neighbours(best: dict[str, float], factor: float) -> list[dict[str, float]]:
    """The best point with C or gamma multiplied or divided by ``factor``, inside the space."""
    moves = []
    for name in ("C", "gamma"):
        for scale in (factor, 1 / factor):
            value = best[name] * scale
            if space[name].low <= value <= space[name].high:
                moves.append({**best, name: value})
    return moves


def main(n_trials: int) -> None:
    study = train.study
    if not study.trials:  # a fresh study: queue the starting points
        for params in STARTS[:n_trials]:
            study.enqueue(params)
    if any(t.state == hp.TrialState.QUEUED for t in study.trials):
        study = train.optimize()  # runs the queued trials, then stops: manual proposes nothing
    elif len(study.trials) >= n_trials:  # run again with the same N_TRIALS
        print(
            f"{len(study.trials)} trials stored: the target of {n_trials} is reached, "
            "nothing to run (pass a larger N_TRIALS to continue)"
        )
    factor = 10.0
    while len(study.trials) < n_trials and factor > 1.1:
        tried = {key(t.params) for t in study.trials}
        untried = [p for p in neighbours(study.best.params, factor) if key(p) not in tried]
        if not untried:
            factor = math.sqrt(factor)  # every move from the best was tried: take smaller steps
            continue
        for params in untried:
            if len(study.trials) >= n_trials:
                break
            result = train(**params)  # a direct call is a recorded trial, origin "manual"
            print(f"C={params['C']:<9.4g} gamma={params['gamma']:<9.4g} {result['accuracy']:.4f}")
            if study.best.params == params:
                break  # a new best: move on from there
    if len(study.trials) < n_trials:
        print(
            f"every move from the best by a factor above 1.1 was tried: stopped at "
            f"{len(study.trials)} of {n_trials} trials"
        )
    best = study.best
    print(f"best accuracy {best.value:.4f} with {best.params} (trial {best.number})")
    print("look further: hpotrack show manual_svm --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
