"""method="auto" (the default): support vector regression on scikit-learn's diabetes data.

    python examples/auto_svr.py [N_TRIALS] && hpotrack show auto_svr --top 5

Leave ``method=`` out and hpotrack picks a method the way an expert would, from the
space, the presence of ``budget=`` and what the trials so far cost: hypergradients ->
``gradient``; a ``budget=`` -> ``bohb``; a small discrete space -> ``grid``; a huge space or
a long study -> ``evolution``; a few numeric parameters and slow trials -> ``bayes``;
otherwise ``tpe``. It decides again at every trial, and every trial keeps the choice and
the reason as its ``note`` (``hpotrack trial auto_svr 0`` shows it). This script prints
the choices it made and for which trials.

N_TRIALS (default 30) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_diabetes
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

import hpotrack as hp

X, y = load_diabetes(return_X_y=True)
FOLDS = KFold(n_splits=5, shuffle=True, random_state=0)

space = {
    "C": hp.Float(1e-1, 1e4, log=True),
    "epsilon": hp.Float(0.1, 50.0, log=True),  # in target units (the target spans 25-346)
    "gamma": hp.Float(1e-4, 1.0, log=True),
}


@hp.tune(space, study="auto_svr", objective="rmse", direction="minimize", seed=0)
def train(C: float, epsilon: float, gamma: float) -> dict[str, float]:
    """5-fold cross-validated RMSE of an RBF support vector regression."""
    model = make_pipeline(StandardScaler(), SVR(C=C, epsilon=epsilon, gamma=gamma))
    mse = -cross_val_score(model, X, y, cv=FOLDS, scoring="neg_mean_squared_error")
    return {"rmse": float(mse.mean() ** 0.5)}


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    runs: list[tuple[str, int, int, str]] = []  # (method, first trial, last trial, note)
    for t in study.trials:
        note = t.note or "(no note)"  # e.g. "auto chose tpe: 3 parameters, cheap trials ..."
        method = note.split(":")[0]
        if runs and runs[-1][0] == method:
            runs[-1] = (method, runs[-1][1], t.number, note)
        else:
            runs.append((method, t.number, t.number, note))
    for _, first, last, note in runs:
        print(f"  trials {first}-{last}: {note}")  # with the reason at the last of them
    best = study.best
    print(f"best RMSE {best.value:.2f} with {best.params} (trial {best.number})")
    print("look further: hpotrack show auto_svr --top 5, hpotrack trial auto_svr 0")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
