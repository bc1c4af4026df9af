"""Random search: a random forest on scikit-learn's breast cancer data.

    python examples/random_forest.py [N_TRIALS] && hpotrack show random_forest --top 5

Every trial draws each hyperparameter independently and uniformly (log-uniformly for
``log=True``), which is hard to beat when only a few of them matter and trials are cheap;
``method=hp.methods.Random(qmc=True)`` spreads the draws with a scrambled Sobol sequence
instead. Each trial reports its cross-validation folds as intermediate metrics and returns
two metrics, accuracy (the objective) and ROC AUC.

N_TRIALS (default 20) is the study's total in ./hpotrack.db (or $HPOTRACK_DB): run the
script again with a larger number to continue the same search.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

import hpotrack as hp

X, y = load_breast_cancer(return_X_y=True)
FOLDS = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y))

space = {
    "n_estimators": hp.Int(10, 100, log=True),
    "max_depth": hp.Int(2, 16),
    "max_features": hp.Float(0.05, 1.0),  # fraction of the 30 features tried at each split
    "min_samples_leaf": hp.Int(1, 20, log=True),
}


@hp.tune(
    space,
    method="random",
    study="random_forest",
    objective="accuracy",
    direction="maximize",
    seed=0,
)
def train(
    n_estimators: int,
    max_depth: int,
    max_features: float,
    min_samples_leaf: int,
    trial: hp.Trial,
) -> dict[str, float]:
    """3-fold cross-validated accuracy (and ROC AUC) of a random forest."""
    accuracy, auc = [], []
    for fold, (fit, val) in enumerate(FOLDS):
        model = RandomForestClassifier(
            n_estimators=n_estimators,
            max_depth=max_depth,
            max_features=max_features,
            min_samples_leaf=min_samples_leaf,
            random_state=0,
        ).fit(X[fit], y[fit])
        accuracy.append(model.score(X[val], y[val]))
        auc.append(roc_auc_score(y[val], model.predict_proba(X[val])[:, 1]))
        trial.report(float(np.mean(accuracy)), step=fold)  # running mean over the folds
    return {"accuracy": float(np.mean(accuracy)), "roc_auc": float(np.mean(auc))}


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    best = study.best
    print(
        f"best accuracy {best.value:.4f} (ROC AUC {best.metrics['roc_auc']:.4f}) "
        f"with {best.params} (trial {best.number})"
    )
    print("look further: hpotrack show random_forest --top 5")
    print(f"               hpotrack trial random_forest {best.number}  # its folds, provenance")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
