"""Evolution: a genetic algorithm tunes a small neural network on scikit-learn's digits.

    python examples/evolution_mlp.py [N_TRIALS] && hpotrack lineage evolution_mlp

``method=hp.methods.Evolution(population=10)`` starts with 10 random networks; after that
each new trial picks two parents by tournament among the best recent trials, crosses them
over (SBX) and mutates the child. Every child records its parents as lineage edges
(``crossover``, ``mutation``), so ``hpotrack lineage`` draws its family tree. A steady-state
GA costs the same per trial however long the study gets, and copes with any mix of
parameter types.

N_TRIALS (default 30) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys
import warnings
from collections import Counter

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import hpotrack as hp

threadpool_limits(1)  # small matrices: BLAS threads cost more than they save on a busy machine
warnings.filterwarnings("ignore", category=ConvergenceWarning)  # a short budget on purpose

X, y = load_digits(return_X_y=True)
X_train, X_val, y_train, y_val = train_test_split(
    X / 16.0, y, test_size=0.3, stratify=y, random_state=0
)

space = {
    "units": hp.Int(8, 128, log=True),
    "layers": hp.Int(1, 2),
    "activation": ["relu", "tanh"],
    "alpha": hp.Float(1e-6, 1e-1, log=True),  # L2 penalty
    "learning_rate_init": hp.Float(1e-4, 1e-1, log=True),
}


@hp.tune(
    space,
    method=hp.methods.Evolution(population=10),
    study="evolution_mlp",
    objective="error",
    direction="minimize",
    seed=0,
)
def train(
    units: int, layers: int, activation: str, alpha: float, learning_rate_init: float
) -> dict[str, float]:
    """Validation error of an MLP trained for at most 30 epochs of Adam."""
    model = MLPClassifier(
        hidden_layer_sizes=(units,) * layers,
        activation=activation,
        alpha=alpha,
        learning_rate_init=learning_rate_init,
        max_iter=30,
        random_state=0,
    ).fit(X_train, y_train)
    return {"error": float(1.0 - model.score(X_val, y_val)), "epochs": float(model.n_iter_)}


def main(n_trials: int) -> None:
    study = train.optimize(n_trials=n_trials)
    origins = Counter(t.origin for t in study.trials)
    print("trials by origin: " + ", ".join(f"{k} {v}" for k, v in origins.most_common()))
    best = study.best
    print(f"best error {best.value:.4f} with {best.params} (trial {best.number}, {best.origin})")
    children = [t for t in study.trials if t.parents and t.state == hp.TrialState.COMPLETE]
    if children:
        child = min(children, key=lambda t: t.value if t.value is not None else float("inf"))
        edges = ", ".join(f"{e.kind} of trial {e.parent}" for e in child.parents)
        print(f"best child: trial {child.number}, error {child.value:.4f} ({edges})")
    print("look further: hpotrack lineage evolution_mlp, hpotrack show evolution_mlp --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
