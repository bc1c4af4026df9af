"""A study as its users read it: its definition, trials, best trial, curves and
checkpoints (what :func:`hpotrack.load_study` gives).

:class:`StudyReader` keeps the study's cached trials (:mod:`hpotrack.cache`) and reads
what changed since the last read; a script that asks for one trial, or the best, of a
study it just loaded reads those alone (DESIGN principle 3). The run loop's ask and tell
are :class:`hpotrack.study.Study`'s, which extends it; the read-only views it returns
are in :mod:`hpotrack.views`.

Every read here is made under the store's read lock (:meth:`Store.reading`): a thread
monitoring a study shares the process's connection with the threads that run it, and a
read inside one's write transaction would show rows its rollback then takes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, suppress
from functools import cached_property
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from hpotrack import lineage, lost, views
from hpotrack.budget import Budget
from hpotrack.cache import TrialCache
from hpotrack.constraints import Constraint
from hpotrack.errors import NoCompleteTrial, SeveralObjectives, TrialError, UnknownMethodError
from hpotrack.limits import NO_STOPS, Stops, from_stored
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.methods.registry import from_json as method_from_json
from hpotrack.objectives import Objectives
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.store import Store, StudyRow

__all__ = ["StudyReader"]


class StudyReader:
    """One study in a database file, as a live view of its stored trials."""

    def __init__(self, store: Store, row: StudyRow) -> None:
        self._store = store
        self._row = row
        self.space = Space.from_json(row.space)
        self.budget = None if row.budget is None else Budget.from_json(row.budget)
        self.optimizing = Objectives.from_columns(
            row.objective, row.direction, row.objectives, row.constraints
        )
        self._cache = TrialCache(
            store,
            row,
            History(self.space, row.direction, row.seed, self.budget, self.optimizing),
        )
        # one thread at a time reads into the cache or writes through it: the threads of
        # a trial report and check, and asked trials are told, while others ask. Taken
        # before the store's own thread lock (reading or writing), never after it: a
        # thread holding one while waiting for the other would wait for ever
        self._using = threading.RLock()

    def __reduce__(self) -> tuple[Callable[..., StudyReader], tuple[str, str]]:
        """Pickle as where the study is, its name and file, so that another process
        (multiprocessing, joblib) opens it there: a database connection does not pickle."""
        from hpotrack.definition import load_study

        return load_study, (self.name, str(self.db_path))

    def __repr__(self) -> str:
        with self._store.reading():  # not every trial read
            count = sum(self._store.summary(self.id).counts.values())
        return f"Study(name={self.name!r}, method={self.method_name!r}, trials={count})"

    # -- definition -------------------------------------------------------------------

    @cached_property
    def method(self) -> Method:
        """The study's method, rebuilt from the stored one when first needed: reading a
        study never needs it, so a study run with a method its own code registers
        (``@hp.methods.register``) reads where that code is not imported (``hpotrack``).
        What needs the method there raises :class:`UnknownMethodError` saying so."""
        try:
            return method_from_json(self._row.method)
        except UnknownMethodError:
            where = self._row.function.get("path") or self._row.function.get("module")
            raise UnknownMethodError(
                f"unknown method {self.method_name!r}: study {self.name!r} runs a method "
                "that code registers with @hp.methods.register (its own script, or a newer "
                "hpotrack) and this process has not imported; import the code that "
                f"registers it first{f' (the study runs {where})' if where else ''}"
            ) from None

    @property
    def method_name(self) -> str:
        """The name the study's method is stored under (known without its class)."""
        return str(self._row.method.get("name"))

    @property
    def id(self) -> int:
        """The study's row id in its database file."""
        return self._row.id

    @property
    def name(self) -> str:
        """The study's name (``study=`` of ``@hp.tune``)."""
        return self._row.name

    @property
    def direction(self) -> str:
        """``"minimize"`` or ``"maximize"``: which way the objective is better (the first
        objective's, with several)."""
        return self._row.direction

    @property
    def objective(self) -> str:
        """The name of the metric the study optimizes (``objective=`` of ``@hp.tune``; the
        first, whose value each trial stores as its ``value``, with several)."""
        return self._row.objective

    @property
    def objectives(self) -> tuple[str, ...]:
        """The names of every metric the study optimizes, one for most studies."""
        return self.optimizing.metrics

    @property
    def directions(self) -> tuple[str, ...]:
        """Per objective (:attr:`objectives`), ``"minimize"`` or ``"maximize"``."""
        return self.optimizing.directions

    def values(self, trial: TrialRecord) -> tuple[float, ...]:
        """``trial``'s value of each objective, in the order of :attr:`objectives`
        (Optuna's ``trial.values``); a :class:`TrialError` if it has not all of them
        (it failed, or is still running)."""
        if self.optimizing.is_multi:
            found = self.optimizing.values(trial.metrics)
        else:
            found = None if trial.value is None else (trial.value,)
        if found is None:
            raise TrialError(
                f"trial {trial.number} of study {self.name!r} has no value of every "
                f"objective ({', '.join(self.objectives)}): it is {trial.state}"
            )
        return found

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """What a trial's metrics must meet to count (``constraints=`` of ``@hp.tune``)."""
        return self.optimizing.constraints

    def violation(self, trial: TrialRecord) -> float:
        """How far complete ``trial`` misses the study's constraints, summed over them
        (0.0: it meets them all, or the study has none; 0.0 too for a trial that did not
        complete, whose constraint metrics are not known)."""
        return self.refresh().violation(trial)

    def is_feasible(self, trial: TrialRecord) -> bool:
        """Whether ``trial`` completed and meets every constraint: only such a trial can
        be :attr:`best` or in :attr:`best_trials`."""
        return self.refresh().is_feasible(trial)

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The complete trials no other complete trial beats on every objective (their
        Pareto front), by number; with one objective, :attr:`best` alone. Only trials that
        meet the study's constraints count. Empty before a trial completes."""
        if not self.optimizing.is_multi:
            try:
                return [self.best]
            except NoCompleteTrial:
                return []
        history = self.refresh()
        return [_as_given(history.trials[n]) for n in history.front()]

    @property
    def seed(self) -> int:
        """The study seed: the methods' draws are a function of it and the trial number."""
        return self._row.seed

    @property
    def target(self) -> int | None:
        """The study-wide number of trials asked for so far (None: no target)."""
        with self._store.reading():
            row = self._store.find_study(self.name)
        return None if row is None else row.target

    @property
    def last_stops(self) -> Stops:
        """The stops of the study's last run (``max_budget``, ``patience``,
        ``good_enough``, ``trial_timeout``; none given, or none known: no stops), which
        ``hpotrack resume`` continues with unless told otherwise."""
        with self._store.reading():
            row = self._store.find_study(self.name)
        return NO_STOPS if row is None else from_stored(row.last_stops)

    @property
    def db_path(self) -> Path:
        """The SQLite file the study is stored in."""
        return self._store.path

    @property
    def function(self) -> dict[str, Any]:
        """Module, qualified name and file of the tuned function (for resume)."""
        return dict(self._row.function)

    def is_current(self) -> bool:
        """Whether the study stored under this name is still the one this object opened
        (not deleted, nor deleted and created anew, and with the same method), so that
        it may be used again without reopening it."""
        with self._store.reading():
            found = self._store.study_identity(self.name)
        opened = self._row
        return found == (opened.id, opened.created, opened.method)

    def is_stored(self) -> bool:
        """Whether the study this object opened is still in its file, whatever its
        method now: the file not deleted or replaced, the study not deleted (nor
        deleted and created anew under its name)."""
        if self._store.replaced():
            return False
        with self._store.reading():
            found = self._store.study_identity(self.name)
        return found is not None and found[:2] == (self._row.id, self._row.created)

    def opens_the_same_study(self, other: StudyReader) -> bool:
        """Whether ``other`` opened this study, in this process's connection to its file."""
        return self._store is other._store and (self._row.id, self._row.created) == (
            other._row.id,
            other._row.created,
        )

    def in_use(self) -> AbstractContextManager[Any]:
        """The study's thread lock (see ``__init__``), for code elsewhere that reads its
        cached trials from another thread (a trial's checks), or takes the store's lock
        and then reads through the study (an export of a replaced file): taken first."""
        return self._using

    # -- reading ----------------------------------------------------------------------

    def refresh(self) -> History:
        """Read the trials changed since the last call; returns the live history."""
        with self._using:
            self._cache.read_changes()
            return self._cache.history

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, ordered by number."""
        return [_as_given(trial) for trial in self.refresh().trials]

    def snapshot_trials(self, snapshot: Store) -> list[TrialRecord]:
        """Every trial, ordered by number, as ``snapshot`` sees them: a connection to the
        study's file in a read transaction begun after this study's last read (an
        export's), through which the changes since that read are read."""
        with self._using:
            self._cache.read_changes(snapshot)
            return [_as_given(trial) for trial in self._cache.history.trials]

    @property
    def best(self) -> TrialRecord[float]:
        """The best complete trial (for a population, PBT, the best of what its members
        ended with: :func:`hpotrack.lineage.best_result`); :class:`NoCompleteTrial` before
        there is one; :class:`SeveralObjectives` for a study of several objectives, whose
        answer is :attr:`best_trials`."""
        if self.optimizing.is_multi:
            raise SeveralObjectives(
                f"study {self.name!r} optimizes {self.optimizing.count} objectives "
                f"({self.optimizing.describe()}), so no one trial is best: "
                "study.best_trials gives their Pareto front"
            )
        if not self._cache.history.trials and not self.optimizing.constrained:
            # nothing read yet: one query may answer (a constrained study's best is the
            # best feasible trial, which the query does not know)
            with self._store.reading():
                found = views.stored_best(self._store, self._row.id, self.direction)
            if found is not None:
                return _valued(found)
        history = self.refresh()
        best = lineage.best_result(history.trials, history.best, self.direction)
        if best is None:
            needed = None
            if self.budget is not None:
                with suppress(UnknownMethodError):  # how many is a hint, not the answer
                    needed = self.method.trials_to_complete(history)
            raise views.no_complete_trial(self.name, history, self.budget, needed)
        return _valued(best)

    def schedule(self, number: int) -> dict[str, list[tuple[int, Any]]]:
        """Trial ``number``'s hyperparameter schedule: for each hyperparameter, (first
        step, value) along the chain of segments it continues (PBT: the member's own
        segments and the members it exploited). A trial that continues nothing has one
        entry per hyperparameter, at step 1. Each value is of its parameter's type
        (``Any``, as :attr:`TrialRecord.params`)."""
        number = self.trial(number).number
        return lineage.schedule(self.refresh().trials, number)

    def best_final(self) -> TrialRecord[float]:
        """The best trial the study ended with, :attr:`best` (the name is older than
        :attr:`best` naming a population's best final member)."""
        return self.best

    def best_schedule(self) -> dict[str, list[tuple[int, Any]]]:
        """The hyperparameter schedule of :meth:`best_final` (see :meth:`schedule`): what
        population-based training learned, step by step."""
        return self.schedule(self.best_final().number)

    if not TYPE_CHECKING:  # mypy must still catch a misspelt attribute

        def __getattr__(self, name: str) -> Any:
            """Only for names a Study lacks: Optuna's (``best_params``) name hpotrack's."""
            raise views.missing_attribute(name)

    def records(self) -> list[dict[str, Any]]:
        """Every trial as a plain JSON-ready dict; with constraints, also ``feasible`` and
        ``violation`` (:meth:`violation`; both None for a trial that did not complete,
        which is not judged), so that ``to_dataframe()`` has them as columns."""
        trials = self.trials
        if not self.optimizing.constrained:
            return [trial.to_dict() for trial in trials]
        history = self._cache.history
        found = []
        for trial in trials:
            judged = trial.state is TrialState.COMPLETE
            missed = history.violation(trial) if judged else None
            feasible = None if missed is None else missed == 0.0
            found.append({**trial.to_dict(), "feasible": feasible, "violation": missed})
        return found

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per trial, params flattened as ``param_<name>``."""
        return views.dataframe(self.records, self.space)

    def trial(self, number: int) -> TrialRecord:
        """Trial ``number``; a :class:`TrialError` naming the numbers that exist."""
        if isinstance(number, bool) or not isinstance(number, Integral):
            raise TrialError(f"a trial number is a whole number, but got {number!r}")
        number = int(number)  # numpy's too (np.argmin of the values, a DataFrame's idxmin)
        if not self._cache.history.trials:  # nothing read yet: read that one trial
            with self._store.reading():
                found = views.StoredTrials(self._store, self._row.id).read([number])
            if found:
                return _as_given(found[0])
        trials = self.refresh().trials
        if not 0 <= number < len(trials):
            have = f"trials 0-{len(trials) - 1}" if trials else "no trials yet"
            raise TrialError(f"study {self.name!r} has no trial {number} (it has {have})")
        return _as_given(trials[number])

    def workers_gone(self, numbers: Sequence[int]) -> dict[int, str]:
        """Of the trials ``numbers``, the running ones whose worker is gone, with why. It
        only reads: the study's next run marks them lost (and retries them)."""
        with self._store.reading():
            found = lost.find(self._store, self._row.id, numbers)
        return {r.number: reason for r, reason in found}

    def curve(self, number: int, whole: bool = False) -> dict[str, list[tuple[int, float]]]:
        """Intermediate metrics of trial ``number``: metric name -> [(step, value), ...].
        ``whole``: with those of the trials it continues in front (a promotion's parent up
        to the rung, a PBT member's earlier segments), the curve of its configuration
        from step 1 (:func:`hpotrack.lineage.whole_curve`)."""
        number = self.trial(number).number
        if whole:
            return lineage.whole_curve(self.refresh().trials, number, self._curve)
        return self._curve(number)

    def _curve(self, number: int) -> dict[str, list[tuple[int, float]]]:
        with self._store.reading():
            return views.stored_curve(self._store, self._row.id, number)

    def load_checkpoint(self, number: int, step: int | None = None) -> Any:
        """The object trial ``number`` saved with ``trial.save_checkpoint``: its latest at
        or before ``step`` (default: its latest), e.g. the best trial's trained model
        (``study.load_checkpoint(study.best.number)``). A trial that saved none by then
        was still where it started: the checkpoint it continued (a promotion's parent,
        say) is returned. A :class:`TrialError` says when there is none."""
        number = self.trial(number).number
        if step is not None and (isinstance(step, bool) or not isinstance(step, Integral)):
            raise TrialError(f"a checkpoint's step is a whole number, but got step={step!r}")
        step = None if step is None else int(step)
        return views.load_checkpoint(
            self._store, self._row.id, self.name, self.trials, number, step
        )

    @property
    def store(self) -> Store:
        """The database connection the study reads and writes through."""
        return self._store


def _as_given(record: TrialRecord) -> TrialRecord:
    """``record`` as users get it, its checks a plain dict (what ``json.dumps`` and
    ``.copy()`` expect): the history's grow without copies (:mod:`hpotrack.checkmap`)."""
    checks = record.checks
    return record if type(checks) is dict else record.replace(checks=dict(checks))


def _valued(best: TrialRecord) -> TrialRecord[float]:
    """:func:`_as_given` for :attr:`StudyReader.best`, typed as having a value: each
    way to it (the store's best, the history's, :func:`lineage.best_final`) picks
    only a trial with one, so users need no ``is not None`` check."""
    return cast("TrialRecord[float]", _as_given(best))
