"""Bayesian optimization: an RBF SVM's C and gamma on scikit-learn's digits.

    python examples/bayes_svm.py [N_TRIALS] && hpotrack show bayes_svm --top 5

``method="bayes"`` fits a Gaussian process (Matern 5/2, one length scale per parameter) to
the trials so far, in the log-scaled unit square here, and runs next where the log expected
improvement is highest; the first few trials are a Sobol design. It suits small continuous
spaces and costly trials: the script prints how the best accuracy improved, which after the
start-up design usually takes only a handful of trials.

N_TRIALS (default 25) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.svm import SVC

import hpotrack as hp

X, y = load_digits(return_X_y=True)
X = X / 16.0  # pixels in [0, 1]
FOLDS = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

space = {"C": hp.Float(1e-2, 1e4, log=True), "gamma": hp.Float(1e-5, 1e1, log=True)}


@hp.tune(space, method="bayes", study="bayes_svm", objective="error", direction="minimize", seed=0)
def train(C: float, gamma: float) -> dict[str, float]:
    """3-fold cross-validated error rate of an RBF SVM."""
    scores = cross_val_score(SVC(C=C, gamma=gamma), X, y, cv=FOLDS)
    return {"error": float(1.0 - scores.mean()), "accuracy": float(scores.mean())}


STARTUP = hp.methods.Bayes().startup(hp.Space.from_user(space))  # Sobol trials: 5 here


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    best_so_far = float("inf")
    for t in study.trials:  # each new best, and where it came from
        if t.state == hp.TrialState.COMPLETE and t.value is not None and t.value < best_so_far:
            best_so_far = t.value
            source = "Sobol start-up" if t.number < STARTUP else "GP + log EI"
            print(f"  new best at trial {t.number:>3} ({source}): error {t.value:.4f}")
    best = study.best
    print(
        f"best error {best.value:.4f} (accuracy {best.metrics['accuracy']:.4f}) with "
        f"C={best.params['C']:.4g}, gamma={best.params['gamma']:.4g} (trial {best.number})"
    )
    print("look further: hpotrack show bayes_svm --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 25)
