"""Successive halving (ASHA): linear models trained epoch by epoch on scikit-learn's digits.

    python examples/sha_sgd.py [N_TRIALS] && hpotrack show sha_sgd --top 10

With ``budget=hp.Budget(1, 27, name="epochs")`` every trial may train up to 27 epochs and
reports its validation error after each one. ``method="sha"`` checks it at the rungs 1, 3
and 9 epochs and lets it go on only if it is in the top third of the trials that reached
that rung; otherwise ``trial.report`` raises ``hp.Pruned`` and the trial is stored as
``pruned`` with its curve. A pruned trial that later ranks in the top third is *promoted*:
a new trial continues it from its checkpoint (``trial.steps`` starts after that epoch).
Most of the epochs so go to the promising configurations.

N_TRIALS (default 60) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import hpotrack as hp

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
CLASSES = np.unique(y)

space = {
    "loss": ["hinge", "log_loss", "modified_huber"],
    "alpha": hp.Float(1e-7, 1e-1, log=True),  # L2 penalty
    "learning_rate": ["constant", "invscaling", "optimal"],
    "eta0": hp.Float(1e-4, 1.0, log=True),  # initial step size (not used by "optimal")
}


@hp.tune(
    space,
    method="sha",
    study="sha_sgd",
    objective="error",
    direction="minimize",
    budget=hp.Budget(1, 27, name="epochs"),
    seed=0,
)
def train(
    loss: str, alpha: float, learning_rate: str, eta0: float, trial: hp.Trial
) -> dict[str, float]:
    """Train one epoch at a time, report the validation error after each."""
    model = trial.load_checkpoint()  # a promoted trial continues where it was stopped
    if model is None:
        model = SGDClassifier(
            loss=loss, alpha=alpha, learning_rate=learning_rate, eta0=eta0, random_state=0
        )
    error = 1.0
    for epoch in trial.steps:  # 1..27, or after the checkpoint's epoch
        model.partial_fit(X_train, y_train, classes=CLASSES)
        error = float(1.0 - model.score(X_val, y_val))
        trial.save_checkpoint(model, step=epoch)  # a few KB; only the needed ones are kept
        trial.report(error, step=epoch)  # raises hp.Pruned at a rung if not in the top third
    return {"error": error}


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    trials = study.trials
    states = Counter(t.state.value for t in trials)
    epochs = sum(len(study.curve(t.number).get("error", [])) for t in trials)  # trained
    promoted = sum(t.origin == "promoted" for t in trials)  # each continues a configuration
    configurations = len(trials) - promoted
    print(
        f"{len(trials)} trials: {states['complete']} complete, {states['pruned']} pruned, "
        f"{promoted} promoted; {epochs} epochs, where training its {configurations} "
        f"configurations fully would take {27 * configurations}"
    )
    if not states["complete"]:  # each rung stops its first arrivals until enough came
        print("no trial has trained all 27 epochs yet: run more trials")
        return
    best = study.best
    print(f"best error {best.value:.4f} with {best.params} (trial {best.number})")
    model = study.load_checkpoint(best.number)  # the model it ended with, ready to use
    accuracy = model.score(X_val, y_val)
    print(f"its model, loaded from its checkpoint: validation accuracy {accuracy:.4f}")
    print("look further: hpotrack show sha_sgd --top 10")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
