"""Tuned functions that the process tests run in real OS processes.

Each process imports this file, so the functions live at module level; the database comes
from ``HPOTRACK_DB``, which every test sets to its own temporary file.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import hpotrack as hp


@hp.tune({"x": hp.Float(-1.0, 1.0), "y": hp.Float(-1.0, 1.0)}, study="shared", seed=0)
def quadratic(x: float, y: float, trial: hp.Trial) -> float:
    for step in range(3):
        trial.report(x * x + y * y + 1.0 / (step + 1), step=step)
    return x * x + y * y


@hp.tune({"a": ["p", "q", "r"], "b": hp.Int(1, 4), "c": [0, 1]}, method="grid", study="grid24")
def grid24(a: str, b: int, c: int) -> float:
    time.sleep(0.01)
    return b + c + ("pqr".index(a))


@hp.tune({"x": hp.Float(-1.0, 1.0)}, study="slow", seed=0)
def slow(x: float) -> float:
    wait_for_a_second_process("slow")
    time.sleep(0.03)
    return x * x


@hp.tune({"x": hp.Float(-1.0, 1.0)}, study="stopped", seed=0)
def stopped(x: float, trial: hp.Trial) -> float:
    """Trial 5 writes its process's pid to ``HPOTRACK_DB.inside`` and waits there (until
    the test stops that process); every other trial takes a moment."""
    if trial.number == 5:
        inside = os.environ["HPOTRACK_DB"] + ".inside"
        Path(f"{inside}.tmp").write_text(str(os.getpid()))
        os.replace(f"{inside}.tmp", inside)  # whole when it appears
        time.sleep(120)
    time.sleep(0.03)
    return x * x


@hp.tune({"x": hp.Float(0.0, 1.0)}, study="interrupting", seed=0)
def interrupting(x: float, trial: hp.Trial) -> float:
    """Trial 5 raises KeyboardInterrupt, as a function stopped from inside does; every
    other trial takes a moment."""
    if trial.number == 5:
        raise KeyboardInterrupt
    time.sleep(0.05)
    return x


@hp.tune({"x": hp.Float(-1.0, 1.0)}, study="sleepy", seed=0)
def sleepy(x: float, trial: hp.Trial) -> float:
    """Trial 2 hangs (until the test kills the process); every other trial is quick."""
    trial.report(x, step=0)
    if trial.number == 2:
        time.sleep(120)
    return x * x


@hp.tune(
    {"x": hp.Float(-1.0, 1.0)},
    method="random",
    study="sleepy-epochs",
    seed=0,
    budget=hp.Budget(1, 9, name="epochs"),
)
def sleepy_epochs(x: float, trial: hp.Trial) -> float:
    """Nine epochs each; trial 2 hangs after reporting epoch 4 (until the test kills it)."""
    for epoch in range(1, 10):
        trial.report(x * x + 1 / epoch, step=epoch)
        if trial.number == 2 and epoch == 4:
            time.sleep(120)
    return x * x + 1 / 9


@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="timed", seed=0)
def timed(x: float, trial: hp.Trial) -> float:
    """Trials with ``x`` above 0.5 sleep far past a ``trial_timeout`` of a second, after
    one report; the others return at once."""
    wait_for_a_second_process("timed")
    trial.report(x, step=1)
    time.sleep(60 if x > 0.5 else 0.01)
    return x


@hp.tune(
    {"x": hp.Float(0.0, 1.0)},
    method="sha",
    study="halving",
    seed=0,
    budget=hp.Budget(1, 9, name="epochs"),
)
def halving(x: float, trial: hp.Trial) -> float:
    """A curve that improves with epochs; ``x`` near 0.3 is best at every budget."""
    wait_for_a_second_process("halving")
    loss = 1.0
    for epoch in range(1, trial.budget + 1):
        time.sleep(0.002)
        loss = (x - 0.3) ** 2 + 1.0 / epoch
        trial.report(loss, step=epoch)
    return loss


@hp.tune(
    {"x": hp.Float(0.0, 1.0)},
    method="hyperband",
    study="brackets",
    seed=0,
    budget=hp.Budget(1, 9, name="epochs"),
)
def brackets(x: float, trial: hp.Trial) -> float:
    """``halving``'s curve under Hyperband's synchronous bracket runs; trials take
    different times, so runs fill out of order across processes."""
    loss = 1.0
    for epoch in trial.steps:
        time.sleep(0.002 + 0.004 * ((trial.number * 7) % 5))
        loss = (x - 0.3) ** 2 + 1.0 / epoch
        trial.report(loss, step=epoch)
    return loss


@hp.tune(
    {"lr": hp.Float(0.01, 1.0, log=True)},
    method=hp.methods.PBT(population=4, interval=2, generations=3),
    study="population",
    seed=0,
)
def population(lr: float, trial: hp.Trial) -> float:
    """A 'model' that is one number walking towards 1 at rate ``lr``; each step is slow
    enough that several processes overlap."""
    state = trial.load_checkpoint() or {"w": 0.0, "steps": []}
    for step in trial.steps:
        time.sleep(float(os.environ.get("HPOTRACK_TEST_STEP_S", "0.02")))
        state["w"] += lr * (1.0 - state["w"])
        state["steps"].append(step)
        trial.report(1.0 - state["w"], step=step)
    trial.save_checkpoint(state)
    return 1.0 - state["w"]


@hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, method="bayes", study="front",
         seed=0, objective=("f1", "f2"), direction=("minimize", "maximize"))  # fmt: skip
def front(x: float, y: float) -> dict[str, float]:
    """Two objectives in conflict (ZDT1, the second turned to be maximized)."""
    g = 1.0 + 9.0 * y
    return {"f1": x, "f2": -g * (1.0 - (x / g) ** 0.5)}


@hp.tune({"x": hp.Float(-2.0, 2.0), "y": hp.Float(-2.0, 2.0)}, method="tpe", study="feasible",
         seed=0, objective="loss", constraints=hp.Constraint("c", at_most=0.0))  # fmt: skip
def feasible(x: float, y: float) -> dict[str, float]:
    """The closest point to (1, 1) on the side x + y <= 1 of a line."""
    return {"loss": (x - 1) ** 2 + (y - 1) ** 2, "c": x + y - 1}


FUNCTIONS = {
    "quadratic": quadratic,
    "front": front,
    "feasible": feasible,
    "grid24": grid24,
    "slow": slow,
    "sleepy": sleepy,
    "sleepy-epochs": sleepy_epochs,
    "halving": halving,
    "brackets": brackets,
    "population": population,
}


def wait_for_go() -> None:
    """With HPOTRACK_TEST_GATE=DIR: say ready (DIR/ready-PID), then wait for DIR/go, so
    that every process of a test starts its trials at the same moment."""
    gate = os.environ.get("HPOTRACK_TEST_GATE")
    if not gate:
        return
    Path(gate, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not Path(gate, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def wait_for_a_second_process(study: str) -> None:
    """With HPOTRACK_TEST_PAIRED set: wait until two processes have started trials of
    ``study``, so that both workers of ``n_jobs=2`` run some however late one of them
    starts (on a loaded machine the other could run the whole study alone)."""
    if not os.environ.get("HPOTRACK_TEST_PAIRED"):
        return
    db = os.environ["HPOTRACK_DB"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len({t.pid for t in hp.load_study(study, db=db).trials}) >= 2:
            return
        time.sleep(0.01)


if __name__ == "__main__":
    wait_for_go()
    name = sys.argv[1]
    n_trials = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "none" else None
    FUNCTIONS[name].optimize(n_trials=n_trials, progress=False)


@hp.tune({"x": hp.Float(-1.0, 1.0)}, method="random", study="killed-once", seed=0)
def killed_once(x: float, trial: hp.Trial) -> float:
    """Trial 3 kills its own worker process (kill -9), the first time only."""
    marker = Path(os.environ["HPOTRACK_DB"] + ".killed")
    if trial.number == 3 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), 9)
    time.sleep(0.05)
    return x * x


class KillsItsProcess:
    """A checkpoint whose pickling kills its own process (kill -9): its worker dies in the
    middle of the save, leaving the temporary file half written."""

    def __reduce__(self) -> tuple[object, ...]:
        os.kill(os.getpid(), 9)
        return (int, (0,))  # never reached


@hp.tune({"x": hp.Float(-1.0, 1.0)}, method="random", study="killed-mid-save", seed=0)
def killed_mid_save(x: float, trial: hp.Trial) -> float:
    """Trial 3 kills its own worker process while it saves a checkpoint, the first time
    only; every trial saves a small one."""
    save_or_die_in_trial_3(trial)
    return x * x


@hp.tune({"x": hp.Float(-1.0, 1.0)}, method="random", study="killed-mid-save-last", seed=0,
         retries=0)  # fmt: skip
def killed_mid_save_last(x: float, trial: hp.Trial) -> float:
    """:func:`killed_mid_save` without retries: run for 4 trials, the one killed is the
    last, so the other worker has stopped and only the parent finds it lost."""
    save_or_die_in_trial_3(trial)
    return x * x


def save_or_die_in_trial_3(trial: hp.Trial) -> None:
    """Save a small checkpoint; trial 3 first kills its own process in the middle of
    saving one (the first time only: a marker file beside the database remembers)."""
    marker = Path(os.environ["HPOTRACK_DB"] + ".killed")
    if trial.number == 3 and not marker.exists():
        marker.touch()
        trial.save_checkpoint(KillsItsProcess(), step=1)
    time.sleep(0.05)
    trial.save_checkpoint(b"model", step=1)


def overfitting_population(db: Path, study: str) -> hp.Study:
    """A PBT study whose model overfits after step 2: the segments ending at step 2 hold
    the lowest values, but every member trained on from them, so the study's best is one
    of the members' final segments (at step 6)."""

    @hp.tune({"lr": hp.Float(0.01, 1.0, log=True)},
             method=hp.methods.PBT(population=4, interval=2, generations=3), study=study,
             db=db, seed=0)  # fmt: skip
    def train(lr: float, trial: hp.Trial) -> float:
        trial.load_checkpoint()
        for step in trial.steps:
            trial.report(lr + (step - 2) ** 2, step=step)
        trial.save_checkpoint({"step": trial.steps.stop - 1})
        return lr + (trial.steps.stop - 3) ** 2

    return train.optimize(progress=False)
