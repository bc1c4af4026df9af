"""scikit-learn's search estimator, run by TPE: a scaler + SVM pipeline on digits.

    python examples/searchcv_pipeline.py [N_TRIALS] && hpotrack show searchcv_pipeline --top 5

``SearchCV`` is used as ``GridSearchCV`` is (``fit``, ``best_params_``,
``best_estimator_``, ``cv_results_``), but its candidates come from TPE, one trial at a
time, and every trial is stored in ./hpotrack.db. Each trial reports the running mean of
its fold scores after each fold; the median pruner stops a configuration whose first
folds score below the median of the complete trials there, so poor ones cost one or two
fits instead of five.

N_TRIALS (default 30) is the study's total in ./hpotrack.db (or $HPOTRACK_DB): run the
script again with a larger number to continue the same search.
"""

from __future__ import annotations

import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpotrack as hp
from hpotrack.sklearn import SearchCV

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

space = {
    "svc__C": hp.Float(1e-2, 1e3, log=True),  # a pipeline step's parameter: step__name
    "svc__gamma": hp.Float(1e-5, 1e0, log=True),
    "svc__kernel": ["rbf", "sigmoid"],
}


def main(n_trials: int) -> None:
    search = SearchCV(
        make_pipeline(StandardScaler(), SVC()),
        space,
        method=hp.methods.TPE(pruner=hp.pruners.Median(n_startup_trials=5)),
        n_trials=n_trials,
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        study="searchcv_pipeline",
        random_state=0,
    )
    search.fit(X_train, y_train)
    results = search.cv_results_
    states = results["state"]
    study = search.study_
    fits = sum(len(study.curve(int(n)).get("mean_test_score", [])) for n in results["trial_number"])
    print(f"best cross-validated accuracy {search.best_score_:.4f} (trial {study.best.number})")
    print(f"held-out accuracy of the refit pipeline: {search.score(X_test, y_test):.4f}")
    print(
        f"{len(states)} trials: {np.sum(states == 'complete')} complete, "
        f"{np.sum(states == 'pruned')} pruned; {fits} fold fits of {5 * len(states)}"
    )
    print(f"stored in {study.db_path}: hpotrack show searchcv_pipeline --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
