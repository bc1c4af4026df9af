"""TPE on a mixed space: histogram gradient boosting on scikit-learn's breast cancer data.

    python examples/tpe_gradient_boosting.py [N_TRIALS [PATIENCE]]
    hpotrack show tpe_gradient_boosting --top 5

``method="tpe"`` (a multivariate tree-structured Parzen estimator) splits the trials so far
into good and bad ones and proposes where the density of the good ones is high relative to
the bad ones. It models categorical, integer, log-scaled and continuous parameters alike
(the Gaussian process of ``bayes`` treats choices more coarsely), and its cost per trial
stays small, so it is the usual choice for mixed spaces like this one. The first 10
trials are random.

N_TRIALS (default 60) is the study's total in ./hpotrack.db (or $HPOTRACK_DB); the search
stops sooner once PATIENCE (default 20) complete trials in a row after the best did not
improve on it (``optimize(patience=...)``, counted over the whole study: running the
script again goes on only if a larger N_TRIALS or PATIENCE allows).
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from threadpoolctl import threadpool_limits

import hpotrack as hp

threadpool_limits(1)  # small data: OpenMP threads cost more than they save on a busy machine

X, y = load_breast_cancer(return_X_y=True)
FOLDS = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)

space = {
    "learning_rate": hp.Float(0.01, 0.5, log=True),
    "max_iter": hp.Int(10, 100, log=True),  # boosting rounds
    "max_leaf_nodes": hp.Int(4, 64, log=True),
    "max_depth": hp.Choice([None, 2, 4, 8]),  # None: limited by max_leaf_nodes only
    "l2_regularization": hp.Float(1e-4, 10.0, log=True),
    "max_features": hp.Float(0.2, 1.0),  # fraction of features tried at each split
}


@hp.tune(
    space,
    method="tpe",
    study="tpe_gradient_boosting",
    objective="log_loss",
    direction="minimize",
    seed=0,
)
def train(
    learning_rate: float,
    max_iter: int,
    max_leaf_nodes: int,
    max_depth: int | None,
    l2_regularization: float,
    max_features: float,
) -> dict[str, float]:
    """3-fold cross-validated log loss (the objective) and accuracy."""
    model = HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_iter=max_iter,
        max_leaf_nodes=max_leaf_nodes,
        max_depth=max_depth,
        l2_regularization=l2_regularization,
        max_features=max_features,
        early_stopping=False,
        random_state=0,
    )
    scores = cross_validate(model, X, y, cv=FOLDS, scoring=("neg_log_loss", "accuracy"))
    return {
        "log_loss": float(-scores["test_neg_log_loss"].mean()),
        "accuracy": float(scores["test_accuracy"].mean()),
    }


def main(n_trials: int = 60, patience: int = 20) -> None:
    study = train.optimize(n_trials=n_trials, patience=patience)
    best = study.best
    print(
        f"best log loss {best.value:.4f} (accuracy {best.metrics['accuracy']:.4f}) "
        f"with {best.params} (trial {best.number} of {len(study.trials)})"
    )
    print("look further: hpotrack show tpe_gradient_boosting --top 5")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
