"""Ask and tell: TPE proposing for a pool of processes of your own.

    python examples/ask_tell_pool.py [N_TRIALS] && hpotrack show ask_tell_pool --top 5

When the training does not happen in one call of the tuned function (jobs on a cluster,
a pool you already have), the loop is yours: ``train.ask()`` claims the study's next
trial and ``train.tell(trial, result)`` stores its outcome. Here two pool processes each
cross-validate a gradient-boosting model while the main process keeps one trial in
flight per worker: TPE sees the trials in flight as pending, so they are different
proposals. The trials are stored as ``optimize()`` stores them (lineage, provenance),
and ``hpotrack resume ask_tell_pool`` would continue the study through ``train`` itself.

N_TRIALS (default 16) is the study's total in ./hpotrack.db (or $HPOTRACK_DB): run the
script again with a larger number to continue the same search.
"""

from __future__ import annotations

import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_score

import hpotrack as hp

WORKERS = 2
X, y = load_breast_cancer(return_X_y=True)

space = {
    "learning_rate": hp.Float(0.01, 0.5, log=True),
    "max_leaf_nodes": hp.Int(4, 64, log=True),
    "l2_regularization": hp.Float(1e-6, 1.0, log=True),
}


def accuracy(learning_rate: float, max_leaf_nodes: int, l2_regularization: float) -> float:
    """3-fold cross-validated accuracy: what a pool process computes for one trial."""
    model = HistGradientBoostingClassifier(
        learning_rate=learning_rate,
        max_leaf_nodes=max_leaf_nodes,
        l2_regularization=l2_regularization,
        max_iter=50,
        random_state=0,
    )
    return float(cross_val_score(model, X, y, cv=3).mean())


@hp.tune(space, method="tpe", study="ask_tell_pool", direction="maximize", seed=0)
def train(learning_rate: float, max_leaf_nodes: int, l2_regularization: float) -> float:
    """The same training in one call: what optimize() and `hpotrack resume` run."""
    return accuracy(learning_rate, max_leaf_nodes, l2_regularization)


def main(n_trials: int) -> None:
    started = len(train.study.trials)
    in_flight: dict[Future[float], hp.Trial] = {}
    with ProcessPoolExecutor(WORKERS) as pool:
        while started < n_trials or in_flight:
            while started < n_trials and len(in_flight) < WORKERS:
                trial = train.ask()
                in_flight[pool.submit(accuracy, **trial.params)] = trial
                started += 1
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for job in done:
                trial = in_flight.pop(job)
                error = job.exception()
                # what the pool returned or raised (a failure keeps the pool's traceback)
                record = (
                    train.tell(trial, job.result())
                    if error is None
                    else train.tell(trial, error=error)
                )
                if record.value is None:  # failed: the worker raised, or a NaN score
                    print(f"trial {record.number}: {record.state.value}")
                else:
                    print(f"trial {record.number}: accuracy {record.value:.4f}")
    best = train.study.best
    print(f"best accuracy {best.value:.4f} with {best.params} (trial {best.number})")
    print("look further: hpotrack show ask_tell_pool --top 5")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 16)
