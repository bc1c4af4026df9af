"""A constraint: the most accurate random forest that fits a size cap, found by TPE.

    python examples/tpe_forest_size_cap.py [N_TRIALS] && hpotrack show tpe_forest_size_cap --top 5

A forest to ship may hold at most so many tree nodes (memory, latency). The function
returns its validation error (the objective) and its node count, and
``constraints=[hp.Constraint("nodes", at_most=2000)]`` makes only forests within the cap
count: ``study.best`` is the best *feasible* trial, and TPE ranks the trials that break
the cap after every one that keeps it, the least oversized first, so the search moves to
the largest forests that still fit. ``hpotrack show`` lists each trial's ``feasible`` and
``violation`` (how many nodes over the cap).

N_TRIALS (default 30) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import hpotrack as hp

threadpool_limits(1)  # small models: BLAS threads cost more than they save on a busy machine

NODE_CAP = 2000

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

space = {
    "n_estimators": hp.Int(2, 100, log=True),
    "max_depth": hp.Int(2, 20),
    "max_features": hp.Float(0.05, 1.0),
}


@hp.tune(
    space,
    method=hp.methods.TPE(n_startup=8),
    study="tpe_forest_size_cap",
    objective="error",
    constraints=[hp.Constraint("nodes", at_most=NODE_CAP)],
    seed=0,
)
def train(n_estimators: int, max_depth: int, max_features: float) -> dict[str, float]:
    """Validation error of a random forest, and its number of tree nodes (its size)."""
    forest = RandomForestClassifier(
        n_estimators=n_estimators, max_depth=max_depth, max_features=max_features, random_state=0
    ).fit(X_train, y_train)
    nodes = sum(tree.tree_.node_count for tree in forest.estimators_)
    return {"error": float(1.0 - forest.score(X_val, y_val)), "nodes": float(nodes)}


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    complete = [t for t in study.trials if t.state is hp.TrialState.COMPLETE]
    feasible = [t for t in complete if study.is_feasible(t)]
    print(f"{len(feasible)} of {len(complete)} forests fit the cap of {NODE_CAP} nodes")
    best = study.best
    print(
        f"best within the cap: trial {best.number}, error {best.value:.4f} with "
        f"{best.metrics['nodes']:.0f} nodes {best.params}"
    )
    unconstrained = min(complete, key=lambda t: (t.value, t.number))
    if unconstrained.number != best.number:
        print(
            f"best of all: trial {unconstrained.number}, error {unconstrained.value:.4f} with "
            f"{unconstrained.metrics['nodes']:.0f} nodes, over the cap by "
            f"{study.violation(unconstrained):.0f}"
        )
    print("look further: hpotrack show tpe_forest_size_cap --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
