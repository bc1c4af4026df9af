"""Wrote tests/data/schema_v1.db with hpotrack at schema version 1 (commit 9ce63c4):

git worktree add /tmp/v1 9ce63c4 && PYTHONPATH=/tmp/v1 python make_schema_v1.py schema_v1.db
"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 1
db = sys.argv[1]


@hp.tune(
    {"x": hp.Float(-2.0, 2.0), "n": hp.Int(1, 5), "kind": ["a", "b"]},
    method="evolution",
    study="v1-study",
    db=db,
    seed=7,
    objective="loss",
    max_failures=100,
)
def train(x, n, kind, trial):
    for step in range(3):
        trial.report(x * x + step, step=step)
    if n == 5:
        raise RuntimeError("n=5 diverged")
    return {"loss": x * x + n, "kind": kind}


train.optimize(n_trials=30)
hp.load_study("v1-study", db=db).enqueue({"x": 0.5, "n": 2, "kind": "a"})
close_stores()
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
