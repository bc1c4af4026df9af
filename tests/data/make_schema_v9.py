"""Writes tests/data/schema_v9.db with hpotrack at schema version 9 (commit 96cf8b6),
before a study counted the requests to stop it: a study of 4 complete trials whose
target is 6, and a study with a trial left running by a worker that is gone (its pid
is set to one no process has):

git worktree add /tmp/v9 96cf8b6 && PYTHONPATH=/tmp/v9 python make_schema_v9.py schema_v9.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 9
db = sys.argv[1]
SPACE = {"x": hp.Float(0.0, 1.0)}


@hp.tune(SPACE, method="random", study="v9-short", db=db, seed=9)
def short(x):
    return x


@hp.tune(SPACE, method="random", study="v9-running", db=db, seed=9)
def running(x):
    return x


short.optimize(n_trials=6, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute(
    "DELETE FROM trials WHERE number >= 4 AND study_id = "
    "(SELECT id FROM studies WHERE name = 'v9-short')"
)
conn.commit()
conn.close()
running.optimize(n_trials=2, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute(
    "UPDATE trials SET state = 'running', value = NULL, finished = NULL, pid = 2147483646 "
    "WHERE number = 1 AND study_id = (SELECT id FROM studies WHERE name = 'v9-running')"
)
conn.commit()
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
