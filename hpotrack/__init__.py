"""hpotrack: hyperparameter optimization that records everything in one SQLite file.

Public names only; see README.md for a walk-through.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

from hpotrack import errors, methods, pruners
from hpotrack.budget import Budget
from hpotrack.constraints import Constraint
from hpotrack.definition import load_study
from hpotrack.errors import (
    HpotrackError,
    NoCompleteTrial,
    SpaceError,
    StudyMismatchError,
    StudyNotFoundError,
    TooManyFailures,
    TrialError,
)
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.running_trial import report
from hpotrack.space import Choice, Float, Int, Space
from hpotrack.study import Study
from hpotrack.transfer.sources import import_study
from hpotrack.trial import Pruned, Trial
from hpotrack.tune import TunedFunction, tune

if TYPE_CHECKING:
    from hpotrack import plots

__version__ = "0.1.0"

__all__ = [
    "Budget",
    "Choice",
    "Constraint",
    "Edge",
    "Float",
    "HpotrackError",
    "Int",
    "NoCompleteTrial",
    "Pruned",
    "Space",
    "SpaceError",
    "Study",
    "StudyMismatchError",
    "StudyNotFoundError",
    "TooManyFailures",
    "Trial",
    "TrialError",
    "TrialRecord",
    "TrialState",
    "TunedFunction",
    "errors",
    "import_study",
    "load_study",
    "methods",
    "plots",
    "pruners",
    "report",
    "tune",
]


_RUN = "decorate the function, @hp.tune(space, method='tpe'), and run train.optimize(n_trials=...)"
_BOUNDED = "hpotrack's spaces are bounded: hp.Float(low, high{}) over the range that matters"
_SCHEDULER = "method={!r} of @hp.tune, with budget=hp.Budget(min, max) (grace_period, max_t)"
_PACKAGES = "hp.methods has the methods and hp.pruners the pruners"
_STATUS = "return the objective (a number, or a dict with objective= naming the key); raise to fail"

PORTING = {
    # Hyperopt's hp.* and Ray Tune's tune.* space expressions
    "uniform": "hpotrack spells it hp.Float(low, high) in the space dict given to @hp.tune",
    "loguniform": (
        "hpotrack spells it hp.Float(low, high, log=True), with the bounds themselves "
        "(Hyperopt's hp.loguniform takes their logs: exp(low), exp(high) here)"
    ),
    "quniform": "hpotrack spells it hp.Float(low, high, step=q), or hp.Int(low, high, step=q)",
    "qloguniform": "hpotrack spells it hp.Int(low, high, log=True), or a list of the values",
    "uniformint": "hpotrack spells it hp.Int(low, high), both bounds included",
    "randint": (
        "hpotrack spells it hp.Int(low, high), both bounds included: Hyperopt's "
        "hp.randint(label, upper) is hp.Int(0, upper - 1), Ray Tune's "
        "tune.randint(lower, upper) hp.Int(lower, upper - 1)"
    ),
    "qrandint": "hpotrack spells it hp.Int(low, high, step=q)",
    "lograndint": "hpotrack spells it hp.Int(lower, upper - 1, log=True): hp.Int includes high",
    "choice": (
        "hpotrack spells it hp.Choice([...]) or a plain list; the function gets the "
        "option itself, not its index"
    ),
    "pchoice": "hpotrack has no weighted choice: hp.Choice([...]) draws options uniformly",
    "normal": _BOUNDED.format(""),
    "qnormal": _BOUNDED.format(", step=q"),
    "lognormal": _BOUNDED.format(", log=True"),
    "qlognormal": _BOUNDED.format(", log=True"),
    "randn": _BOUNDED.format(""),
    "grid_search": (
        "a plain list is a choice, and method='grid' runs every combination of the space once"
    ),
    "sample_from": "compute such a value in the function, from the hyperparameters it gets",
    "space_eval": "the function and study.best.params get values, not a choice's index",
    # running a search
    "fmin": _RUN,
    "run": _RUN,
    "Tuner": _RUN,
    "TuneConfig": (
        "@hp.tune takes objective= (metric), direction= (mode) and method= (search_alg, "
        "scheduler); train.optimize(n_trials=...) the number of trials (num_samples)"
    ),
    "RunConfig": "@hp.tune(db=..., study=...) says where the study is stored",
    "with_parameters": "load data at module level: the function gets hyperparameters and trial",
    "tpe": "method='tpe' of @hp.tune (hp.methods.TPE(...) for options)",
    "rand": "method='random' of @hp.tune",
    "atpe": "method='tpe' of @hp.tune",
    "anneal": "method='evolution' of @hp.tune searches around the best trials",
    "Trials": (
        "every trial is stored in the study's database (db= of @hp.tune): "
        "train.study.trials, or hp.load_study(name).trials"
    ),
    "SparkTrials": "train.optimize(n_jobs=N) runs N processes on this machine",
    "MongoTrials": "processes on one machine share a study through its db= file",
    "STATUS_OK": _STATUS,
    "STATUS_FAIL": _STATUS,
    # reporting and checkpoints
    "session": "hp.report(value, step, name=...) reports one metric per call",
    "train": "hp.report(value, step, name=...) reports one metric per call",
    "get_checkpoint": "trial.load_checkpoint() in a function that takes a `trial` parameter",
    "Checkpoint": "trial.save_checkpoint(obj, step=...) saves any picklable object",
    # Ray Tune's schedulers and searchers
    "ASHAScheduler": _SCHEDULER.format("sha"),
    "HyperBandScheduler": _SCHEDULER.format("hyperband"),
    "HyperBandForBOHB": _SCHEDULER.format("bohb") + ": the scheduler and the search in one",
    "TuneBOHB": _SCHEDULER.format("bohb") + ": the scheduler and the search in one",
    "MedianStoppingRule": "a pruner: method=hp.methods.TPE(pruner='median')",
    "PopulationBasedTraining": "method='pbt' of @hp.tune (hp.methods.PBT(...) for options)",
    "schedulers": _PACKAGES,
    "search": _PACKAGES,
    # Optuna's module-level names
    "TrialPruned": (
        "hpotrack spells it hp.Pruned: trial.report() raises it at a check, and "
        "raise hp.Pruned() in the function stops the trial as pruned"
    ),
    "create_study": (
        "@hp.tune(space, study=..., db=..., direction=..., method=...) declares the study "
        "and train.optimize(n_trials=...) runs it (or train.ask() and train.tell(trial, "
        "value), a loop of your own); hp.load_study(name) reads one back"
    ),
    "samplers": _PACKAGES,
    "visualization": (
        "hp.plots draws a study (hp.plots.history(study), hp.plots.slices(study), ...), "
        "or on the command line hpotrack plot STUDY -o FILE.png"
    ),
    "delete_study": "on the command line, hpotrack delete STUDY",
    "get_all_study_names": "on the command line, hpotrack show lists the studies",
}
"""What hpotrack does for a name Hyperopt's ``hp``, Ray's ``tune`` or ``optuna`` has: a
script ported by renaming the import (``import hpotrack as hp``) is told, not just
refused."""


if not TYPE_CHECKING:  # type checkers must still catch a misspelt hp.Flaot

    def __getattr__(name: str) -> Any:
        """``hp.plots`` without ``import hpotrack.plots``: imported on first use, so that
        ``import hpotrack`` stays light (its figures need matplotlib, the ``plots`` extra).
        Another library's name (:data:`PORTING`) is an error saying what hpotrack does."""
        if name == "plots":
            return importlib.import_module("hpotrack.plots")  # which sets hpotrack.plots
        hint = f"; {PORTING[name]}" if name in PORTING else ""
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}{hint}")


class _DefaultLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Prints hpotrack's messages on stderr until the application configures logging:
    once the root logger has a handler, they reach it by propagation (in the
    application's format), and once the ``hpotrack`` logger has one of the
    application's, it prints them; printing them here too would show each one twice.

    "stderr" is ``sys.stderr`` when a message is printed, not when hpotrack was
    imported (as for logging's own last resort), so that ``redirect_stderr`` and
    pytest's ``capsys`` see the messages."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)  # StreamHandler's would keep the stream of now

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    def stands_aside(self) -> bool:
        """Whether the application's handlers print the messages instead."""
        logger = logging.getLogger("hpotrack")
        if any(handler is not self for handler in logger.handlers):
            return True
        return logger.propagate and bool(logging.getLogger().handlers)

    def emit(self, record: logging.LogRecord) -> None:
        if not self.stands_aside():
            super().emit(record)


class _ClearProgressBar(logging.Filter):
    """Clears the line of a progress bar being drawn before a message is printed on its
    terminal, whichever handler prints it (this package's, or one the application set
    up, with ``logging.basicConfig`` say): the message would continue the bar's line.
    The bar is drawn again below the message."""

    def filter(self, record: logging.LogRecord) -> bool:
        from hpotrack.progress import clear_open_bars

        streams: list[object] = []
        logger: logging.Logger | None = logging.getLogger("hpotrack")
        while logger is not None:  # the handlers that print the record, as logging finds them
            streams += [
                getattr(handler, "stream", None)
                for handler in logger.handlers
                if record.levelno >= handler.level
                and not (isinstance(handler, _DefaultLogHandler) and handler.stands_aside())
            ]
            logger = logger.parent if logger.propagate else None
        clear_open_bars(streams)
        return True


def _default_log_handler() -> None:
    """Say what the library does (stop reasons, failures) on stderr unless the
    application configured logging for ``hpotrack`` itself. Quieter:
    ``logging.getLogger("hpotrack").setLevel(logging.WARNING)``."""
    from hpotrack.text import PREFIX

    logger = logging.getLogger("hpotrack")
    if not logger.handlers:
        handler = _DefaultLogHandler()
        handler.setFormatter(logging.Formatter(f"{PREFIX}%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    logger.addFilter(_ClearProgressBar())


_default_log_handler()
