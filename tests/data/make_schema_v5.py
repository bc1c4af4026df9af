"""Writes tests/data/schema_v5.db with hpotrack at schema version 5 (commit 62f5959): two
studies with reports, before study and trial ids were AUTOINCREMENT (a deleted newest
study's ids went to the next one):

git worktree add /tmp/v5 62f5959 && PYTHONPATH=/tmp/v5 python make_schema_v5.py schema_v5.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 5
db = sys.argv[1]


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="v5-first", db=db, seed=5)
def first(x, trial):
    for step in (1, 2):
        trial.report(x + 1 / step, step=step)
    return x


@hp.tune({"y": hp.Int(1, 9)}, method="random", study="v5-newest", db=db, seed=5)
def newest(y):
    return float(y)


first.optimize(n_trials=4, progress=False)
newest.optimize(n_trials=3, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
