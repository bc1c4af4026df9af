"""Writes tests/data/schema_v4.db with hpotrack at schema version 4 (commit 33b1620): a
successive-halving study over epochs, some trials stopped at a rung, from before trials
recorded how many epochs they trained:

git worktree add /tmp/v4 33b1620 && PYTHONPATH=/tmp/v4 python make_schema_v4.py schema_v4.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 4
db = sys.argv[1]


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="v4-sha", db=db, seed=4,
         budget=hp.Budget(1, 9, name="epochs"))  # fmt: skip
def halving(x, trial):
    for epoch in range(1, trial.budget + 1):
        trial.report((x - 0.3) ** 2 + 1 / epoch, step=epoch)
    return (x - 0.3) ** 2 + 1 / trial.budget


halving.optimize(n_trials=12, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
