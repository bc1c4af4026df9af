"""Hyperband: a linear regression trained epoch by epoch on scikit-learn's diabetes data.

    python examples/hyperband_sgd.py [N_TRIALS] && hpotrack show hyperband_sgd --top 10

Successive halving must guess how early it is safe to judge a trial; Hyperband hedges
by running several brackets of it, one after the other: one judges 27 configurations
after 1 epoch, another 12 after 3, another 6 after 9, and one trains 4 to the full 27
epochs. Each trial reports its validation RMSE after every epoch (``trial.report``,
which raises ``hp.Pruned`` when its bracket stops it); once every configuration of a
bracket reached a rung, the best third of them go on, continued from their checkpoints.
The script prints how the brackets shared the trials.

N_TRIALS (default 69: one Hyperband iteration, 49 configurations and 20 promotions) is
the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import hpotrack as hp

X, y = load_diabetes(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)

space = {
    "loss": ["squared_error", "huber", "epsilon_insensitive"],
    "epsilon": hp.Float(1.0, 100.0, log=True),  # huber / epsilon-insensitive width (target units)
    "penalty": ["l2", "l1", "elasticnet"],
    "alpha": hp.Float(1e-6, 1.0, log=True),
    "eta0": hp.Float(1e-4, 0.3, log=True),
}


@hp.tune(
    space,
    method="hyperband",
    study="hyperband_sgd",
    objective="rmse",
    direction="minimize",
    budget=hp.Budget(1, 27, name="epochs"),
    seed=0,
)
def train(
    loss: str, epsilon: float, penalty: str, alpha: float, eta0: float, trial: hp.Trial
) -> dict[str, float]:
    """Train one epoch at a time, report the validation RMSE after each."""
    model = trial.load_checkpoint()  # a promoted trial continues where it was stopped
    if model is None:
        model = SGDRegressor(
            loss=loss,
            epsilon=epsilon,
            penalty=penalty,
            alpha=alpha,
            learning_rate="invscaling",
            eta0=eta0,
            random_state=0,
        )
    rmse = float("inf")
    for epoch in trial.steps:  # 1..27, or after the checkpoint's epoch
        model.partial_fit(X_train, y_train)
        rmse = float(np.sqrt(np.mean((model.predict(X_val) - y_val) ** 2)))
        trial.save_checkpoint(model, step=epoch)
        trial.report(rmse, step=epoch)  # raises hp.Pruned when its bracket stops it
    return {"rmse": rmse}


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    trials = study.trials
    for bracket, count in sorted(Counter(t.bracket for t in trials).items(), key=str):
        full = sum(t.bracket == bracket and t.state == hp.TrialState.COMPLETE for t in trials)
        epochs = 27 // 3**bracket if bracket else 0
        first = f"first check after {epochs} epoch{'s' * (epochs > 1)}" if epochs else "no checks"
        print(f"  bracket {bracket} ({first}): {count} trials, {full} trained to 27 epochs")
    if not any(t.state == hp.TrialState.COMPLETE for t in trials):  # rungs stop first arrivals
        print("no trial has trained all 27 epochs yet: run more trials")
        return
    best = study.best
    print(
        f"best RMSE {best.value:.2f} (target std {y_val.std():.2f}) "
        f"with {best.params} (trial {best.number})"
    )
    print("look further: hpotrack show hyperband_sgd --top 10")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 69)
