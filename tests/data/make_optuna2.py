"""Writes tests/data/optuna2.db with Optuna 2.10.1, whose schema has no value types for
intermediate values and whose distributions have their old names (UniformDistribution,
LogUniformDistribution, DiscreteUniformDistribution, IntUniformDistribution): a
conditional space, pruned and failed trials, and an enqueued trial still waiting:

python -m venv /tmp/o2 && /tmp/o2/bin/pip install optuna==2.10.1 "sqlalchemy<1.5" "numpy<2" \
    && /tmp/o2/bin/python make_optuna2.py optuna2.db"""

import logging
import sys

import optuna

assert optuna.__version__ == "2.10.1"
optuna.logging.set_verbosity(logging.ERROR)
study = optuna.create_study(
    storage=f"sqlite:///{sys.argv[1]}",
    study_name="legacy",
    sampler=optuna.samplers.RandomSampler(seed=2),
    pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
)


def objective(trial: optuna.Trial) -> float:
    kind = trial.suggest_categorical("kind", ["linear", "tree"])
    if kind == "linear":
        loss = trial.suggest_uniform("l1", 0.0, 1.0) + trial.suggest_loguniform("lr", 1e-4, 1.0)
    else:
        depth = trial.suggest_int("depth", 1, 9)
        loss = depth / 9 + trial.suggest_discrete_uniform("q", 0, 1, 0.25)
    if trial.number == 4:
        raise ValueError("diverged")
    for step in range(4):
        trial.report(loss + 1 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return loss


study.optimize(objective, n_trials=10, catch=(ValueError,))
study.enqueue_trial({"kind": "linear", "l1": 0.5})
