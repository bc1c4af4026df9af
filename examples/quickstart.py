"""Quick start: tune an SVM on scikit-learn's digits, recorded in ./hpotrack.db.

    python examples/quickstart.py && hpotrack show quickstart

Each trial reports its cross-validation folds as intermediate metrics, returns several
metrics, and the study can be continued by running the script again with a larger target.
"""

from __future__ import annotations

import sys
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

import hpotrack as hp

X, y = load_digits(return_X_y=True)
X = X / 16.0

space = {
    "C": hp.Float(1e-2, 1e3, log=True),
    "gamma": hp.Float(1e-4, 1e1, log=True),
    "kernel": ["rbf", "poly", "sigmoid"],
}


@hp.tune(
    space, method="random", study="quickstart", objective="accuracy", direction="maximize", seed=0
)
def train(C: float, gamma: float, kernel: str, trial: hp.Trial) -> dict[str, float]:
    started = time.perf_counter()
    scores = []
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    for fold, (fit_idx, val_idx) in enumerate(folds.split(X, y)):
        model = SVC(C=C, gamma=gamma, kernel=kernel).fit(X[fit_idx], y[fit_idx])
        scores.append(model.score(X[val_idx], y[val_idx]))
        trial.report(sum(scores) / len(scores), step=fold)  # running mean accuracy
    return {"accuracy": sum(scores) / len(scores), "fit_seconds": time.perf_counter() - started}


if __name__ == "__main__":
    n_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    study = train.optimize(n_trials=n_trials)
    best = study.best
    print(f"best accuracy {best.value:.4f} with {best.params} (trial {best.number})")
    print(f"{len(study.trials)} trials stored in {study.db_path}")
    print("look further: hpotrack show quickstart --top 10")
