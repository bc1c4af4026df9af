"""A user's script as a type checker sees it: ``tests/test_typing.py`` runs ``mypy --strict``
on it, which must pass. ``assert_type`` says what a user gets from each public name; a
``# type: ignore[code]`` marks a mistake the checker must catch (``--strict`` warns of an
ignore that no longer silences anything). Never run: it only has to type-check."""

from __future__ import annotations

import math
from typing import Any

from typing_extensions import assert_type

import hpotrack as hp

SPACE = {"lr": hp.Float(1e-4, 1e-1, log=True), "layers": hp.Int(1, 4), "bs": [32, 64]}
CONDITIONAL = hp.Space(  # `when` as users write it: one value, or a list of them
    {
        "kernel": hp.Choice(["linear", "rbf", "poly"]),
        "gamma": hp.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
        "degree": hp.Int(2, 5, when={"kernel": ["poly"]}),
        "shrink": hp.Choice([True, False], when={"kernel": ["rbf", "poly"]}),
    }
)


@hp.tune(SPACE, method="random", study="typed", objective="val_loss", seed=0)
def train(lr: float, layers: int, bs: int, trial: hp.Trial) -> dict[str, float]:
    """Takes the trial handle and returns a dict of metrics."""
    loss = 1.0
    for epoch in range(1, 4):
        loss = lr * layers + bs / 1000 + 1 / epoch
        trial.report(loss, step=epoch)
    return {"val_loss": loss, "train_time": 0.1}


@hp.tune({"x": hp.Float(-5.0, 5.0)}, method=hp.methods.TPE(pruner=hp.pruners.Median()))
def objective(x: float) -> float:
    """No trial handle; returns a number."""
    return (x - 1) ** 2


@hp.tune(
    {"lr": hp.Float(1e-4, 1e-1, log=True)},
    method=hp.methods.Hyperband(eta=3),
    budget=hp.Budget(1, 27, name="epochs"),
)
def budgeted(lr: float, trial: hp.Trial) -> float:
    """The checkpoint and budget API of a multi-fidelity method."""
    assert_type(trial.steps, range)
    assert_type(trial.params, dict[str, Any])
    state = trial.load_checkpoint() or {"w": 0.0}
    loss = 1.0
    for epoch in trial.steps:
        state["w"] += lr
        loss = abs(math.log10(lr) + 2) / epoch
        trial.save_checkpoint(state, step=epoch)
        trial.report(loss, step=epoch)
    for epoch in range(1, trial.budget + 1):  # the README's loop over a whole-number budget
        hp.report(loss, epoch, name="again")
    return loss


def use() -> None:
    """What the decorated functions and their studies give."""
    assert_type(train, hp.TunedFunction[dict[str, float]])
    assert_type(objective, hp.TunedFunction[float])
    assert_type(train(lr=0.01, layers=2, bs=64), dict[str, float])  # a manual trial
    assert_type(objective(x=1.0), float)
    bare: hp.TunedFunction = objective  # a bare annotation is valid under --strict
    assert_type(bare, hp.TunedFunction[Any])

    study = train.optimize(n_trials=3, timeout=60.0, n_jobs=2, progress=False)
    assert_type(study, hp.Study)
    stopped = train.optimize(n_trials=9, patience=3, good_enough=0.1, trial_timeout=30)
    assert_type(stopped, hp.Study)
    assert_type(train.study, hp.Study)
    assert_type(hp.load_study("typed", db="h.db"), hp.Study)

    best = study.best
    assert_type(best, hp.TrialRecord[float])
    assert_type(best.value, float)  # the best trial always has a value: no None check
    assert_type(best.params, dict[str, Any])  # each value of its parameter's type
    lr: float = best.params["lr"]
    print(f"{best.value:.4f} {lr:.3g}", best.value < 0.5, math.log10(lr))
    assert_type(best.metrics, dict[str, Any])
    assert_type(best.state, hp.TrialState)

    assert_type(study.trials, list[hp.TrialRecord[float | None]])
    assert_type(study.trials, list[hp.TrialRecord])  # the same: the default
    assert_type(study.trials[0].value, float | None)  # queued, running, failed: None
    value: float = study.trials[0].value  # type: ignore[assignment]
    assert_type(study.trial(0), hp.TrialRecord)
    assert_type(study.curve(best.number), dict[str, list[tuple[int, float]]])
    assert_type(study.enqueue({"lr": 0.01}), int)
    assert_type(study.records(), list[dict[str, Any]])
    assert_type(study.schedule(best.number), dict[str, list[tuple[int, Any]]])  # as params
    assert_type(study.seed, int)
    assert_type(study.target, int | None)
    train(**study.best.params)  # a best trial's parameters, run again by hand
    print(value)

    asked = objective.ask()  # a loop of your own
    assert_type(asked, hp.Trial)
    assert_type(objective.tell(asked, objective.fn(**asked.params)), hp.TrialRecord)
    assert_type(objective.tell(objective.ask(), error=ValueError("diverged")), hp.TrialRecord)
    assert_type(objective.tell(objective.ask(), error="node lost"), hp.TrialRecord)

    try:
        objective(x=0.0)
    except hp.Pruned as exc:
        assert_type(exc, hp.Pruned)
    except hp.TooManyFailures as exc:
        assert_type(exc, hp.TooManyFailures)
    except hp.HpotrackError as exc:
        assert_type(exc, hp.HpotrackError)


def mistakes(study: hp.Study) -> None:
    """Misspelt names, wrong arguments: each an error, not an Any that lets it pass."""
    hp.Flaot(0.0, 1.0)  # type: ignore[attr-defined]
    hp.load_sudy("typed")  # type: ignore[attr-defined]
    hp.methods.TEP()  # type: ignore[attr-defined]
    print(study.best_params)  # type: ignore[attr-defined]
    train(0.01, 2, 64)  # type: ignore[arg-type]  # a manual trial takes keywords only
    train.optimize(n_trial=10)  # type: ignore[call-arg]
    train.tell(train.ask(), 0.5, error=404)  # type: ignore[arg-type]
    study.ask()  # type: ignore[attr-defined]  # an Optuna habit: train.ask() asks
    hp.tune(SPACE, methd="tpe")  # type: ignore[call-arg]
    hp.methods.TPE(gama=0.2)  # type: ignore[call-arg]
