"""BOHB: Hyperband with a model, tuning a neural network epoch by epoch on digits.

    python examples/bohb_mlp.py [EPOCHS] && hpotrack show bohb_mlp --top 10

``method="bohb"`` runs Hyperband's brackets (stop most trials after 1, 3 or 9 of up to 27
epochs, keep the top third), but once enough trials have trained all 27 epochs it draws
new configurations from a Parzen (KDE) model of the good and bad ones instead of at
random (``hp.methods.BOHB(model_budget="largest")`` models the largest budget with enough
trials, as the paper does). Each trial trains an MLP one epoch at a time with
``partial_fit``, reports the validation error after each (``trial.report`` raises
``hp.Pruned`` when its bracket stops it) and saves a checkpoint, so a trial promoted later
continues where it stopped.

EPOCHS (default 540, what 20 trials trained fully would take) is the study's budget:
``optimize(max_budget=EPOCHS)`` starts trials until its trials in ./hpotrack.db (or
$HPOTRACK_DB) trained that many epochs together, however many trials that makes. Run
the script again with a larger EPOCHS to continue, or ``hpotrack resume bohb_mlp
--max-budget EPOCHS``: the study stores no target, so ``resume`` without it trains until
Ctrl-C.
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import hpotrack as hp

threadpool_limits(1)  # small matrices: BLAS threads cost more than they save on a busy machine

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    X / 16.0, y, test_size=0.3, stratify=y, random_state=0
)
CLASSES = np.unique(y)

space = {
    "units": hp.Int(16, 256, log=True),
    "activation": ["relu", "tanh"],
    "alpha": hp.Float(1e-6, 1e-1, log=True),  # L2 penalty
    "learning_rate_init": hp.Float(1e-4, 3e-2, log=True),
    "batch_size": [32, 64, 128, 256],
}


@hp.tune(
    space,
    method="bohb",
    study="bohb_mlp",
    objective="error",
    direction="minimize",
    budget=hp.Budget(1, 27, name="epochs"),
    seed=0,
)
def train(
    units: int,
    activation: str,
    alpha: float,
    learning_rate_init: float,
    batch_size: int,
    trial: hp.Trial,
) -> dict[str, float]:
    """Train one epoch of Adam at a time, report the validation error after each."""
    model = trial.load_checkpoint()  # a promoted trial continues where it was stopped
    if model is None:
        model = MLPClassifier(
            hidden_layer_sizes=(units,),
            activation=activation,
            alpha=alpha,
            learning_rate_init=learning_rate_init,
            batch_size=batch_size,
            random_state=0,
        )
    error = 1.0
    for epoch in trial.steps:  # 1..27, or after the checkpoint's epoch
        model.partial_fit(X_train, y_train, classes=CLASSES)
        error = float(1.0 - model.score(X_val, y_val))
        trial.save_checkpoint(model, step=epoch)
        trial.report(error, step=epoch)  # raises hp.Pruned when its bracket stops it
    return {"error": error}


def main(epochs: int) -> None:
    study = train.optimize(max_budget=epochs)
    trials = study.trials
    states = Counter(t.state.value for t in trials)
    trained = sum(t.trained or 0 for t in trials)
    promoted = sum(t.origin == "promoted" for t in trials)  # each continues a configuration
    configurations = len(trials) - promoted
    print(
        f"{len(trials)} trials: {states['complete']} complete, {states['pruned']} pruned, "
        f"{promoted} promoted; {trained} epochs trained, where training its "
        f"{configurations} configurations fully would take {27 * configurations}"
    )
    if not states["complete"]:  # each rung stops its first arrivals until enough came
        print("no trial has trained all 27 epochs yet: run more trials")
        return
    best = study.best
    print(f"best error {best.value:.4f} with {best.params} (trial {best.number})")
    print("look further: hpotrack show bohb_mlp --top 10")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 540)
