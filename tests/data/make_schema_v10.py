"""Writes tests/data/schema_v10.db with hpotrack at schema version 10 (commit 473bdd8),
before a study could optimize several objectives: a study of 4 complete trials whose
function returns a dict of two metrics ("error", the objective, and "latency"), and
whose target is 6:

git worktree add /tmp/v10 473bdd8 && PYTHONPATH=/tmp/v10 python make_schema_v10.py schema_v10.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 10
db = sys.argv[1]


SPACE = {"x": hp.Float(0.0, 1.0)}


@hp.tune(SPACE, method="random", study="v10", db=db, seed=10, objective="error")
def two_metrics(x):
    return {"error": (x - 0.3) ** 2, "latency": 1.0 - x}


two_metrics.optimize(n_trials=6, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute("DELETE FROM trials WHERE number >= 4")
conn.commit()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
