"""One seeded study per method, run in a real process by tests/test_reproducibility.py.

``python repro_workload.py DB STAGE`` takes every study in DB to its ``STAGE`` target
(``half`` or ``full``) and prints its trials as JSON: what a seed must repeat (parameters
in their order, budgets, lineage, prune and promote decisions), without what may differ
between runs (times, pids, hosts).

``REPRO_CRASH="grid:5:KILL tpe:3:INT"`` makes the process send itself that signal in
trial 5 of study ``grid`` (``kill -9``), then in trial 3 of ``tpe`` (Ctrl-C), each once:
run the stage again after each crash to resume.

``REPRO_STUDIES="pbt"`` runs only the studies it names (all of them when empty or unset).
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

import hpotrack as hp
from hpotrack.running_trial import current_trial

MIXED = {
    "lr": hp.Float(1e-4, 1e-1, log=True),
    "layers": hp.Int(1, 4),
    "opt": hp.Choice(["sgd", "adam", "rms"]),
    "drop": hp.Float(0.0, 0.5, step=0.05),
}
NUMERIC = {"x": hp.Float(-3.0, 3.0), "y": hp.Float(-3.0, 3.0)}
GRID = {"a": [1, 2, 3], "b": hp.Int(0, 3), "c": ["u", "v"]}
EPOCHS = hp.Budget(1, 9, name="epochs")


def crash_here() -> None:
    """Send this process the signal ``REPRO_CRASH`` names for the running trial,
    the first time it runs (a file beside the database remembers that it did)."""
    trial = current_trial()
    for entry in os.environ.get("REPRO_CRASH", "").split():
        study, number, name = entry.split(":")
        done = Path(f"{os.environ['REPRO_DB']}.{study}.crashed")
        if (study, int(number)) == (trial.study, trial.number) and not done.exists():
            done.touch()
            os.kill(os.getpid(), getattr(signal, f"SIG{name}"))


def loss(lr: float, layers: int, opt: str, drop: float) -> float:
    """A deterministic objective with a minimum inside the space."""
    penalty = {"sgd": 0.5, "adam": 0.0, "rms": 0.2}[opt]
    return (math.log10(lr) + 2.3) ** 2 + 0.3 * (layers - 2) ** 2 + penalty + (drop - 0.2) ** 2


def mixed(lr: float, layers: int, opt: str, drop: float) -> float:
    crash_here()
    return loss(lr, layers, opt, drop)


def epochs(lr: float, layers: int, opt: str, drop: float, trial: hp.Trial) -> float:
    crash_here()
    value = loss(lr, layers, opt, drop)
    for step in trial.steps:
        trial.report(value + 1.0 / step, step=step)  # may raise hp.Pruned at a check
    return value + 1.0 / trial.budget


def numeric(x: float, y: float) -> float:
    crash_here()
    return (x - 1) ** 2 + 3 * (y + 0.5) ** 2


def grid(a: int, b: int, c: str) -> float:
    crash_here()
    return a * 10 + b + (0.5 if c == "u" else 0.0)


def population(lr: float, trial: hp.Trial) -> float:
    crash_here()
    state = trial.load_checkpoint() or {"w": 0.0}
    value = 1.0
    for step in trial.steps:
        state["w"] += lr * (1.0 - state["w"])
        value = (1.0 - state["w"]) ** 2
        trial.report(value, step=step)
    trial.save_checkpoint(state, step=trial.budget)
    return value


PBT = hp.methods.PBT(population=4, interval=2, generations=3)
# study name: (method, space, function, budget, trials at the stage "half", at "full")
STUDIES: dict[str, tuple[Any, dict[str, Any], Any, hp.Budget | None, int, int]] = {
    "grid": ("grid", GRID, grid, None, 10, 24),
    "random": ("random", MIXED, mixed, None, 6, 12),
    "qmc": (hp.methods.Random(qmc=True), MIXED, mixed, None, 6, 12),
    "bayes": ("bayes", NUMERIC, numeric, None, 7, 10),
    "tpe": (hp.methods.TPE(n_startup=4), MIXED, mixed, None, 7, 14),
    "evolution": (hp.methods.Evolution(population=4), MIXED, mixed, None, 7, 14),
    "cma": (hp.methods.Evolution(strategy="cma"), NUMERIC, numeric, None, 7, 16),
    "sha": ("sha", MIXED, epochs, EPOCHS, 9, 20),
    "hyperband": ("hyperband", MIXED, epochs, EPOCHS, 13, 24),
    "bohb": (hp.methods.BOHB(model_budget="largest"), MIXED, epochs, EPOCHS, 13, 24),
    "pbt": (PBT, {"lr": hp.Float(1e-3, 1.0, log=True)}, population, None, 5, 12),
    "gradient": ("gradient", NUMERIC, numeric, None, 6, 12),
    "auto": ("auto", MIXED, mixed, None, 6, 12),
    "random-median": (hp.methods.Random(pruner="median"), MIXED, epochs, EPOCHS, 6, 12),
    "tpe-percentile": (hp.methods.TPE(pruner="percentile"), MIXED, epochs, EPOCHS, 6, 12),
}


def run(db: str, stage: str) -> dict[str, list[dict[str, Any]]]:
    """Every study of :data:`STUDIES` in ``db`` taken to its ``stage`` target, and what
    its trials are."""
    found = {}
    chosen = os.environ.get("REPRO_STUDIES", "").split() or list(STUDIES)
    for name in chosen:
        method, space, function, budget, half, full = STUDIES[name]
        tuned = hp.tune(space, method=method, study=name, seed=11, db=db, budget=budget)
        study = tuned(function).optimize(n_trials=half if stage == "half" else full)
        found[name] = [repeated(trial) for trial in study.trials]
    return found


def repeated(trial: hp.TrialRecord) -> dict[str, Any]:
    """What a seeded search repeats of ``trial``."""
    return {
        "number": trial.number,
        "state": str(trial.state),
        "params": list(trial.params.items()),  # a list: the order counts too
        "value": trial.value,
        "budget": trial.budget,
        "origin": trial.origin,
        "parents": [(edge.parent, edge.kind, edge.step) for edge in trial.parents],
        "claim": trial.claim,
        "rung": trial.rung,
        "bracket": trial.bracket,
        "checks": list(trial.checks.items()),
        "note": trial.note,
    }


if __name__ == "__main__":
    os.environ["REPRO_DB"] = sys.argv[1]
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
