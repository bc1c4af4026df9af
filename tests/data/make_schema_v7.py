"""Writes tests/data/schema_v7.db with hpotrack at schema version 7 (commit 1bb1203),
when each trial kept its checks as one JSON column: a Hyperband study (rungs, brackets,
promotions, pruned trials) and a random search with the median pruner (a check at every
epoch), the latter left with a trial running (its checks so far) as a killed worker leaves it:

git worktree add /tmp/v7 1bb1203 && PYTHONPATH=/tmp/v7 python make_schema_v7.py schema_v7.db"""

import os
import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 7
db = sys.argv[1]
EPOCHS = hp.Budget(1, 9, name="epochs")


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="hyperband", study="v7-hyperband", db=db, seed=7,
         budget=EPOCHS)  # fmt: skip
def halving(x, trial):
    for epoch in trial.steps:
        trial.save_checkpoint({"x": x, "epoch": epoch}, step=epoch)
        trial.report((x - 0.3) ** 2 + 1 / epoch, step=epoch)
    return (x - 0.3) ** 2 + 1 / trial.budget


@hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.Random(pruner="median"),
         study="v7-median", db=db, seed=7, budget=EPOCHS)  # fmt: skip
def median(x, trial):
    for epoch in trial.steps:
        trial.report((x - 0.6) ** 2 + 1 / epoch, step=epoch)
    return (x - 0.6) ** 2 + 1 / trial.budget


@hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.Random(pruner="median"),
         study="v7-median", db=db, seed=7, budget=EPOCHS)  # fmt: skip
def killed(x, trial):
    for epoch in (1, 2, 3):
        trial.report(0.1 / epoch, step=epoch)  # better than every other: not pruned
    os._exit(0)  # a worker killed mid-trial: the trial stays running


halving.optimize(n_trials=20, progress=False)
median.optimize(n_trials=12, progress=False)
close_stores()
child = os.fork()
if child == 0:
    killed.optimize(n_trials=13, progress=False)
os.waitpid(child, 0)
conn = sqlite3.connect(db)
conn.execute("UPDATE trials SET pid = 999999999, host = 'gone' WHERE state = 'running'")
conn.commit()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
