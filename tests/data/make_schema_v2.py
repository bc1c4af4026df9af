"""Writes tests/data/schema_v2.db with hpotrack at schema version 2 (multi-fidelity and
PBT studies: budgets, rungs, brackets, checks, promotions, checkpoint rows)."""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 2
db = sys.argv[1]


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="v2-hyperband", db=db, seed=3,
         budget=hp.Budget(1, 9, name="epochs"))  # fmt: skip
def halving(x, trial):
    for epoch in range(1, trial.budget + 1):
        trial.report((x - 0.3) ** 2 + 1 / epoch, step=epoch)
    return (x - 0.3) ** 2 + 1 / trial.budget


@hp.tune(
    {"lr": hp.Float(0.01, 1.0, log=True)},
    method=hp.methods.PBT(population=3, interval=2, generations=2),
    study="v2-pbt",
    db=db,
    seed=3,
)
def population(lr, trial):
    state = trial.load_checkpoint() or {"w": 0.0}
    for step in trial.steps:
        state["w"] += lr * (1 - state["w"])
        trial.report(1 - state["w"], step=step)
    trial.save_checkpoint(state)
    return 1 - state["w"]


halving.optimize(n_trials=25)
population.optimize()
close_stores()
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
