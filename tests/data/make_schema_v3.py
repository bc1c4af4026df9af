"""Writes tests/data/schema_v3.db with hpotrack at schema version 3 (commit 7514490): a
random study with reports, a queued (enqueued) trial and a trial left running by a worker
that is gone; at schema 3 both were found through an index on the state, which schema 4
drops."""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores
from hpotrack.study import Worker

assert SCHEMA_VERSION == 3
db = sys.argv[1]


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="v3-study", db=db, seed=5)
def train(x, trial):
    for step in range(3):
        trial.report(x + step, step=step)
    return x


train.optimize(n_trials=6)
study = train.study
study.enqueue({"x": 0.5})
gone = Worker(run_id=None, host="a-host-that-is-gone", pid=1)
(claimed,) = study.ask(gone, limit=8)  # the queued trial: left running, never finished
study.enqueue({"x": 0.25})
close_stores()
conn = sqlite3.connect(db)
conn.execute("UPDATE trials SET heartbeat = heartbeat - 3600 WHERE state = 'running'")
conn.commit()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
