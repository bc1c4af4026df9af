"""Writes tests/data/schema_v8.db with hpotrack at schema version 8 (commit bb026b7),
before each trial recorded the method that proposed it: an ``auto`` study (its choice
only in each trial's note), with an enqueued trial and a manual call, and a study run
with ``random`` and then reopened with ``tpe``:

git worktree add /tmp/v8 bb026b7 && PYTHONPATH=/tmp/v8 python make_schema_v8.py schema_v8.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 8
db = sys.argv[1]
SPACE = {"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}


@hp.tune(SPACE, method="auto", study="v8-auto", db=db, seed=8)
def auto(x, y):
    return (x - 0.3) ** 2 + (y - 0.6) ** 2


@hp.tune(SPACE, method="random", study="v8-switch", db=db, seed=8)
def first(x, y):
    return x + y


@hp.tune(SPACE, method="tpe", study="v8-switch", db=db, seed=8)
def then(x, y):
    return x + y


auto.optimize(n_trials=4, progress=False)
auto.study.enqueue({"x": 0.5, "y": 0.5})
auto.optimize(n_trials=6, progress=False)  # the enqueued trial, then one more of tpe's
auto(x=0.25, y=0.75)  # a manual call: trial 6
first.optimize(n_trials=3, progress=False)
then.optimize(n_trials=5, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
