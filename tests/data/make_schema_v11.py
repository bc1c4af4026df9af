"""Writes tests/data/schema_v11.db with hpotrack at schema version 11 (commit 69d02d2),
before a study could have constraints: a study of 4 complete trials of two objectives
("error", minimized, and "size", minimized) whose function also returns "latency", and
whose target is 6:

git worktree add /tmp/v11 69d02d2 && PYTHONPATH=/tmp/v11 python make_schema_v11.py schema_v11.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 11
db = sys.argv[1]


SPACE = {"x": hp.Float(0.0, 1.0)}


@hp.tune(SPACE, method="random", study="v11", db=db, seed=11, objective=("error", "size"),
         direction=("minimize", "minimize"))  # fmt: skip
def three_metrics(x):
    return {"error": (x - 0.3) ** 2, "size": x, "latency": 1.0 - x}


three_metrics.optimize(n_trials=6, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute("DELETE FROM trials WHERE number >= 4")
conn.commit()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
