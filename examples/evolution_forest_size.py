"""Two objectives: a random forest's validation error and its size, traded off by NSGA-II.

    python examples/evolution_forest_size.py [N_TRIALS] && hpotrack best evolution_forest_size

A bigger forest is more accurate and slower to run and to ship. With
``objective=("error", "nodes")`` and a direction for each, no single trial is the best:
the answer is the Pareto front, the forests no other forest beats on both (as accurate and
smaller). ``method=hp.methods.Evolution(population=8)`` breeds children from parents
chosen by NSGA-II's non-domination rank and crowding distance, so the search moves
towards the front and spreads along it. ``study.best_trials`` is the front;
``hpotrack best`` lists it and ``hpotrack plot evolution_forest_size --kind pareto -o
front.png`` draws it.

N_TRIALS (default 40) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import hpotrack as hp

threadpool_limits(1)  # small models: BLAS threads cost more than they save on a busy machine

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)

space = {
    "n_estimators": hp.Int(2, 100, log=True),
    "max_depth": hp.Int(2, 20),
    "max_features": hp.Float(0.05, 1.0),
}


@hp.tune(
    space,
    method=hp.methods.Evolution(population=8),
    study="evolution_forest_size",
    objective=("error", "nodes"),
    direction=("minimize", "minimize"),
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
    front = sorted(study.best_trials, key=lambda t: study.values(t)[1])  # smallest first
    print(f"Pareto front: {len(front)} of {len(study.trials)} forests, smallest first")
    for trial in front:
        error, nodes = study.values(trial)
        print(
            f"  trial {trial.number:3d}: error {error:.4f} with {nodes:7.0f} nodes {trial.params}"
        )
    lowest = min(study.values(t)[0] for t in front)
    small = next(t for t in front if study.values(t)[0] <= lowest + 0.01)
    error, nodes = study.values(small)
    print(
        f"smallest forest within 1 point of the lowest error ({lowest:.4f}): trial "
        f"{small.number}, error {error:.4f} with {nodes:.0f} nodes"
    )
    print("look further: hpotrack best evolution_forest_size, hpotrack plot --kind pareto")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
