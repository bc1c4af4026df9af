"""A pruned study that ``tests/test_pruning.py`` runs in several real OS processes.

Usage: ``python tests/pruning_workload.py N_TRIALS`` with ``HPOTRACK_DB`` set to the test's
database; with ``HPOTRACK_TEST_GATE=DIR`` it says ready (``DIR/ready-PID``) and waits for
``DIR/go`` so that every process starts its trials at the same moment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import hpotrack as hp


@hp.tune(
    {"x": hp.Float(0.0, 1.0)},
    method=hp.methods.Random(pruner=hp.pruners.Median(n_startup_trials=3)),
    budget=hp.Budget(1, 6, name="epochs"),
    study="pruned-shared",
    seed=0,
)
def train(x: float, trial: hp.Trial) -> float:
    loss = 0.0
    # Trial.budget is typed float | None; a whole Budget makes it an int
    for epoch in range(1, trial.budget + 1):  # type: ignore[operator, arg-type]
        time.sleep(0.003)
        loss = 10.0 * x + 1.0 / epoch  # curves never cross: a larger x is worse throughout
        trial.report(loss, step=epoch)
    return loss


def wait_for_go() -> None:
    gate = os.environ.get("HPOTRACK_TEST_GATE")
    if not gate:
        return
    Path(gate, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not Path(gate, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    wait_for_go()
    train.optimize(n_trials=int(sys.argv[1]), progress=False)
