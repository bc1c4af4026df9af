"""Choose the model and tune it at once: conditional parameters on scikit-learn's digits.

    python examples/conditional_models.py [N_TRIALS]
    hpotrack show conditional_models --top 5

One search picks among an SVM, a random forest and a logistic regression and tunes each
one's own hyperparameters (the "combined algorithm selection and hyperparameter
optimization" of Auto-WEKA, Thornton et al. 2013). A parameter with ``when=`` exists only
while another has one of the given values: ``gamma`` only for the SVM's RBF kernel,
``max_depth`` only for the forest. A trial where a parameter is inactive neither draws nor
stores it, and the function gets its default instead; ``tpe`` fits each parameter's density
on the trials where it was active (what the "tree-structured" of its name is for), and
``hpotrack show`` leaves its cell empty.

N_TRIALS (default 30) is the study's total in ./hpotrack.db (or $HPOTRACK_DB).
"""

from __future__ import annotations

import sys

from sklearn.base import ClassifierMixin
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpotrack as hp

X, y = load_digits(return_X_y=True)
X, y = X[:900], y[:900]  # a few seconds for the whole search

space = {
    "model": ["svm", "forest", "logistic"],
    "C": hp.Float(1e-3, 1e3, log=True, when={"model": ["svm", "logistic"]}),
    "kernel": hp.Choice(["rbf", "linear"], when={"model": "svm"}),
    "gamma": hp.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
    "n_estimators": hp.Int(10, 200, log=True, when={"model": "forest"}),
    "max_depth": hp.Int(2, 32, log=True, when={"model": "forest"}),
}


@hp.tune(
    space,
    method="tpe",
    study="conditional_models",
    objective="accuracy",
    direction="maximize",
    seed=0,
)
def train(
    model: str,
    C: float = 1.0,
    kernel: str = "rbf",
    gamma: float | str = "scale",
    n_estimators: int = 100,
    max_depth: int | None = None,
) -> dict[str, float]:
    """3-fold cross-validated accuracy of the chosen model (defaults stand for the
    parameters the trial leaves inactive)."""
    classifier: ClassifierMixin
    if model == "svm":
        classifier = make_pipeline(StandardScaler(), SVC(C=C, kernel=kernel, gamma=gamma))
    elif model == "forest":
        classifier = RandomForestClassifier(
            n_estimators=n_estimators, max_depth=max_depth, random_state=0
        )
    else:
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    return {"accuracy": float(cross_val_score(classifier, X, y, cv=3).mean())}


if __name__ == "__main__":
    n_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    study = train.optimize(n_trials=n_trials)
    best = study.best
    print(f"best accuracy {best.value:.4f} with {best.params} (trial {best.number})")
    for name in ("svm", "forest", "logistic"):
        runs = [t for t in study.trials if t.params.get("model") == name]
        names = sorted({p for t in runs for p in t.params})
        print(f"{name}: {len(runs)} trials, parameters {names}")
