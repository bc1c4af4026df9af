"""Population-based training on scikit-learn's digits, recorded in ./hpotrack.db.

    python examples/pbt_digits.py && hpotrack lineage pbt-digits

Eight linear SVMs (SGDClassifier: hinge loss, one sample per update, a *constant* learning
rate) train in segments of 4 epochs. After each segment a member in the bottom quarter of
the population takes the weights and hyperparameters of one in the top quarter
(``exploited``) and perturbs them (x0.8 or x1.2, or a fresh draw); the others go on as they
are (``continued``). Every segment may so run with another learning rate and regularisation:
what a member ends with is a schedule, not one value, and the script prints it. Epochs are
counted along a member's line: one that copies a member already further along goes on from
that member's epoch, and every member stops at segments x 4 epochs (so some need fewer
segments to get there).

The first argument is the number of segments per member (default 8); running the script
again with a larger number trains the same population further.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import hpotrack as hp

POPULATION, INTERVAL = 8, 4
GENERATIONS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 8

X, y = load_digits(return_X_y=True)
X_train, X_rest, y_train, y_rest = train_test_split(
    X, y, train_size=0.6, stratify=y, random_state=0
)
X_val, X_test, y_val, y_test = train_test_split(
    X_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_val, X_test = (scaler.transform(part) for part in (X_train, X_val, X_test))
CLASSES = np.arange(10)

space = {"eta0": hp.Float(1e-4, 1.0, log=True), "alpha": hp.Float(1e-6, 1e-1, log=True)}


@hp.tune(
    space,
    method=hp.methods.PBT(population=POPULATION, interval=INTERVAL, generations=GENERATIONS),
    study="pbt-digits",
    objective="error",
    seed=0,
)
def train(eta0: float, alpha: float, trial: hp.Trial) -> dict[str, float]:
    """One segment of one member: resume its model (or a better member's), train
    ``INTERVAL`` epochs with this segment's hyperparameters, save the model."""
    model = trial.load_checkpoint()  # None at a member's first segment
    if model is None:
        model = SGDClassifier(learning_rate="constant", eta0=eta0, alpha=alpha, random_state=0)
    model.set_params(eta0=eta0, alpha=alpha)  # partial_fit reads both at every call
    error = 1.0
    for step in trial.steps:  # global epoch numbers, continuing the checkpoint's
        model.partial_fit(X_train, y_train, classes=CLASSES)
        error = 1.0 - model.score(X_val, y_val)
        trial.report(error, step=step)
    trial.save_checkpoint(model)
    return {"error": error, "test_error": 1.0 - model.score(X_test, y_test)}


def final_members(study: hp.Study) -> list[hp.TrialRecord]:
    """Each member's latest complete segment (PBT claims are ``pbt:<member>:<segment>``)."""
    latest: dict[str, hp.TrialRecord] = {}
    for record in study.trials:
        claim = record.claim or ""
        if record.state == hp.TrialState.COMPLETE and claim.startswith("pbt:"):
            latest[claim.split(":")[1]] = record
    return list(latest.values())


def schedule_lines(schedule: dict[str, list[tuple[int, Any]]], last: int) -> list[str]:
    """One line per stretch of epochs over which no hyperparameter changed."""
    starts = sorted({step for points in schedule.values() for step, _ in points})
    lines = []
    for start, end in zip(starts, [*starts[1:], last + 1], strict=True):
        values = {
            name: next(v for s, v in reversed(points) if s <= start)
            for name, points in schedule.items()
        }
        text = ", ".join(f"{name}={value:.3g}" for name, value in values.items())
        lines.append(f"  epochs {start:>3}-{end - 1:<3} {text}")
    return lines


if __name__ == "__main__":
    study = train.optimize()  # until every member reached generations x interval epochs
    members = final_members(study)
    best = study.best  # for a population: the best of what the members ended with
    epochs = int(best.budget or 0)
    print(f"{len(study.trials)} segments of {INTERVAL} epochs trained, stored in {study.db_path}")
    print(
        "final members' validation errors: "
        + ", ".join(f"{m.value or 0.0:.4f}" for m in sorted(members, key=lambda m: m.value or 0.0))
    )
    print(
        f"best final member: trial {best.number}, validation error {best.value:.4f}, "
        f"test error {best.metrics['test_error']:.4f}, after {epochs} epochs"
    )
    print("its learned schedule:")
    print("\n".join(schedule_lines(study.schedule(best.number), epochs)))
    print("where every segment came from: hpotrack lineage pbt-digits")
