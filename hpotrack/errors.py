"""Every error hpotrack raises on purpose derives from :class:`HpotrackError`.

The CLI turns these into one clear line (``click.ClickException``) at its edge; anything
else reaching the user is a bug in hpotrack, not a user mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hpotrack.notebook import rendered_traceback


class HpotrackError(Exception):
    """Base class of all hpotrack errors."""

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show for this error: the user's lines and the message,
        without hpotrack's own frames (:mod:`hpotrack.notebook`)."""
        return rendered_traceback(self)


class SpaceError(HpotrackError, ValueError):
    """A search space, a parameter definition or a parameter value is invalid."""


class MethodError(HpotrackError, ValueError):
    """A method name or its options are invalid, or the method cannot handle the space."""


class UnknownMethodError(MethodError):
    """No method is registered under a name: a misspelt one, or one that the user's code
    registers (``@hp.methods.register``) and this process has not imported."""


class StopSearch(HpotrackError):
    """Nothing more to run: the reason is the message (not a failure)."""


class SearchExhausted(StopSearch):
    """The method has nothing left to propose (e.g. every grid cell is claimed)."""


class TargetReached(StopSearch):
    """The study already has as many trials as asked for."""


class BudgetSpent(StopSearch):
    """The study's trials have trained as many budget steps as ``max_budget`` allows."""


class GoodEnough(StopSearch):
    """A complete trial of the study is at least as good as ``good_enough``."""


class PatienceSpent(StopSearch):
    """As many complete trials as ``patience`` allows finished after the study's best
    one without improving on it."""


class StopRequested(StopSearch):
    """The study was asked to stop (``hpotrack stop``, ``Study.stop()``) after the run
    began."""


class CallError(HpotrackError, TypeError):
    """A call of hpotrack with an argument it does not take (another library's habit:
    ``storage=``, ``callbacks=``), said with what hpotrack takes instead."""


class DefinitionError(HpotrackError, ValueError):
    """A study setting given to ``@tune`` is invalid (direction, objective, name, seed)."""


class OptionError(HpotrackError, ValueError):
    """An option of a run is invalid, or cannot work with the function it runs:
    ``optimize()``'s ``n_trials``, ``timeout``, ``n_jobs``, ``progress``, ``max_budget``,
    ``patience``, ``good_enough`` and ``trial_timeout`` (and ``hpotrack resume``'s
    flags, which are those)."""


class StudyMismatchError(HpotrackError):
    """An existing study was reopened with a different definition; ``differences`` says
    how, one phrase each."""

    def __init__(self, message: str, differences: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.differences = list(differences)


class MethodChangeRefused(StudyMismatchError):
    """A study was reopened with a method or options that would decide its trials so far
    by rules they did not run under (another ``eta``, other ``brackets``); the message
    says which option, why, and how to keep the stored one."""


class StudyNotFoundError(HpotrackError, LookupError):
    """No study of that name exists in the database."""


class StudyDeleted(StudyNotFoundError):
    """The study was deleted (``hpotrack delete``) while this process worked on it:
    nothing more can be stored for it, so the run stops (it is not a trial's failure)."""

    @classmethod
    def while_used(cls, name: str, db: Path) -> StudyDeleted:
        """The error for study ``name`` of database ``db``, found deleted by this process."""
        return cls(
            f"study {name!r} was deleted from {db} while this process was using it "
            "(hpotrack delete?): nothing more is stored for it"
        )


class StorageError(HpotrackError):
    """The database file cannot be used (not SQLite, a newer schema, unwritable...)."""


class TrialError(HpotrackError):
    """A trial could not be run or recorded as asked (bad manual parameters, bad report)."""


class TooManyFailures(HpotrackError):
    """``max_failures`` trials in a row failed; the study stops so the user can look."""


class NoCompleteTrial(HpotrackError, LookupError):
    """``study.best`` was asked for before any trial completed."""


class SeveralObjectives(HpotrackError, LookupError):
    """``study.best`` (or a stop by one best value) was asked of a study of several
    objectives, which has a Pareto front (``study.best_trials``) and no one best trial."""


class MissingDependency(HpotrackError, ImportError):
    """An optional library a feature needs is not installed (pandas, matplotlib); the
    message says what to install. An ``ImportError`` too, as user code expects."""


class PageError(HpotrackError, LookupError):
    """A dashboard address that names no page, study or trial, or has a bad query (the
    message says which, and ``status`` is the HTTP status to answer with)."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status
