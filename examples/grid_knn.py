"""Grid search: k-nearest neighbours on scikit-learn's wine data, every cell exactly once.

    python examples/grid_knn.py [N_TRIALS] && hpotrack show grid_knn --top 5

The grid is 15 neighbour counts x 2 weightings x 2 distances = 60 cells. N_TRIALS is the
study's total (default: all 60 cells): with a smaller one the search stops there, and
running the script again without it fills in the rest. The cells run in a seeded random
order, so a partial grid is a fair sample, and several processes started on the same study
never run the same cell twice.
"""

from __future__ import annotations

import sys

from sklearn.datasets import load_wine
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hpotrack as hp

X, y = load_wine(return_X_y=True)
FOLDS = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

space = {
    "n_neighbors": hp.Int(1, 29, step=2),  # odd counts: no ties between two classes
    "weights": ["uniform", "distance"],
    "p": hp.Choice([1, 2]),  # Manhattan or Euclidean distance
}


@hp.tune(space, method="grid", study="grid_knn", objective="accuracy", direction="maximize", seed=0)
def train(n_neighbors: int, weights: str, p: int) -> dict[str, float]:
    """5-fold cross-validated accuracy of k-NN on standardized features."""
    model = make_pipeline(
        StandardScaler(), KNeighborsClassifier(n_neighbors=n_neighbors, weights=weights, p=p)
    )
    scores = cross_val_score(model, X, y, cv=FOLDS)
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}


CELLS = hp.Space.from_user(space).grid_size()


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    best = study.best
    done = sum(t.state == hp.TrialState.COMPLETE for t in study.trials)
    print(f"{done} of {CELLS} grid cells done")
    print(f"best accuracy {best.value:.4f} with {best.params} (trial {best.number})")
    print("look further: hpotrack show grid_knn --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else CELLS)
