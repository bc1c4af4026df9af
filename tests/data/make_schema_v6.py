"""Writes tests/data/schema_v6.db (and its checkpoint folder, schema_v6.db.ckpt) with
hpotrack at schema version 6 (commit 6e19a8d), before runs recorded their
keep_checkpoints: a study whose run kept every checkpoint (keep_checkpoints="all"), three
per trial:

git worktree add /tmp/v6 6e19a8d && PYTHONPATH=/tmp/v6 python make_schema_v6.py schema_v6.db"""

import sqlite3
import sys

import hpotrack as hp
from hpotrack.schema import SCHEMA_VERSION
from hpotrack.store import close_stores

assert SCHEMA_VERSION == 6
db = sys.argv[1]


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="v6-all", db=db, seed=6,
         keep_checkpoints="all")  # fmt: skip
def every_step(x, trial):
    for step in (1, 2, 3):
        trial.save_checkpoint({"x": x, "step": step}, step=step)
    return x


every_step.optimize(n_trials=3, progress=False)
close_stores()
conn = sqlite3.connect(db)
conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
conn.execute("PRAGMA journal_mode=DELETE")
conn.close()
