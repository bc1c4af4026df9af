"""``@tune``: turn a training function into a tunable, recorded one.

The decorator validates everything it can at once (space, method, direction, and the
function's signature: :mod:`hpotrack.signature`), so mistakes show up at import time; the
database is only touched when the function is optimized or called.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import reprlib
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, cast

from hpotrack.arguments import checked_arguments
from hpotrack.ask_tell import AskedTrials, checked_error
from hpotrack.budget import Budget
from hpotrack.callbacks import TrialCallback, checked_callbacks
from hpotrack.constraints import Constraint
from hpotrack.db_path import default_db_path
from hpotrack.definition import (
    StudyDefinition,
    check_budget_given,
    check_seed,
    open_study,
)
from hpotrack.errors import (
    DefinitionError,
    HpotrackError,
    SpaceError,
    StorageError,
    TrialError,
)
from hpotrack.limits import NO_STOPS, Stops
from hpotrack.loader import refuse_while_imported
from hpotrack.methods.base import Method
from hpotrack.methods.registry import resolve
from hpotrack.objectives import Objectives
from hpotrack.provenance import (
    callable_name,
    default_study_name,
    function_reference,
    run_provenance,
)
from hpotrack.records import TrialRecord, TrialState
from hpotrack.run_checks import checked_run_options, checked_stops, say_before_run, whole_count
from hpotrack.runner import Ran, optimize_here, run_trial, terminated_as_interrupted
from hpotrack.signal_handlers import in_main_thread
from hpotrack.signature import check_signature
from hpotrack.space import Param, Space, Value
from hpotrack.store import open_store
from hpotrack.study import Outcome, Study, Worker
from hpotrack.text import PREFIX, plural
from hpotrack.time_limit import check_trial_timeout_can_run
from hpotrack.trial import Trial

log = logging.getLogger("hpotrack")

if sys.version_info >= (3, 11):
    from typing import Never
else:  # the same bottom type by its older name (typing.get_type_hints resolves either)
    from typing import NoReturn as Never

if TYPE_CHECKING:  # a default (PEP 696): a bare `hp.TunedFunction` stays valid in strict mypy
    from typing_extensions import TypeVar

    R = TypeVar("R", default=Any)
else:
    from typing import TypeVar

    R = TypeVar("R")


class TunedFunction(Generic[R]):
    """A training function plus its search definition. Call it with hyperparameters to
    record one manual trial; call :meth:`optimize` to search. ``R`` is what the function
    returns, and so what a manual call returns."""

    def __init__(
        self,
        fn: Callable[..., R],
        definition: StudyDefinition,
        *,
        db: str | Path | None,
        max_failures: int,
        keep_checkpoints: str = "needed",
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.definition = definition
        self.db = db
        self.max_failures = max_failures
        self.keep_checkpoints = keep_checkpoints
        # this process's run of each study, by database file and study name, with the
        # `started` its runs row was stored with (see _worker)
        self._runs: dict[tuple[Path, str], tuple[Worker, float]] = {}
        self._runs_lock = threading.Lock()  # threads calling at once each stored a run
        self._called = threading.local()  # .study: this thread's, for direct calls and .study
        self._asked = AskedTrials(collect_checkpoints=keep_checkpoints == "needed")
        check_signature(fn, definition.space)

    def __repr__(self) -> str:
        return f"<tuned function {self.definition.name} ({self.definition.method.name})>"

    @property
    def db_path(self) -> Path:
        """The database in use: ``db=``, else ``$HPOTRACK_DB``, else ``./hpotrack.db``."""
        return default_db_path(self.db)

    @property
    def study(self) -> Study:
        """The study in the database (created on first use): the handle direct calls use,
        kept (:meth:`_called_study`), so that ``train.study.enqueue(...)`` in a loop reads
        only the trials changed since the last call (opened afresh, each call read every
        trial: queueing 2,000 trials took 62 ms a call at the end)."""
        return self._called_study()

    def _open(self, db: str | Path | None = None, study: str | None = None) -> Study:
        store = open_store(default_db_path(db if db is not None else self.db))
        definition = self.definition
        if study is not None and study != definition.name:
            definition = dataclasses.replace(definition, name=study)
        return open_study(store, definition, function_reference(self.fn))

    def _called_study(self) -> Study:
        """The study direct calls record into, kept from one call to the next (per thread:
        a Study's cached trials are not shared between threads), so that a call reads only
        the trials changed since the last one (opened afresh, it read every trial, and a
        loop of calls slowed down as the study grew) and the process keeps one run of the
        study (each call registered another). Opened again when the file is another one,
        or the study was deleted, created anew or given another method."""
        study: Study | None = getattr(self._called, "study", None)
        store = open_store(self.db_path)
        if study is not None and study.store is store and study.is_current():
            return study
        study = self._called.study = self._open()
        return study

    def _worker(self, study: Study) -> Worker:
        """This process's run of ``study``: one ``runs`` row per process, file and study,
        with its ``keep_checkpoints`` (no run collects the checkpoints of this run's
        trials when it is ``"all"``). Stored again only when that row is not in the file
        the study has open: the file was deleted or replaced since, or the study deleted.
        Looked up in the file, not kept per connection object: the process's connection
        lives only while something uses it, so after a garbage collection the next call
        stored a second run; and a study deleted meanwhile left trials naming a run that
        no longer existed."""
        key = (study.db_path, study.name)
        with self._runs_lock:
            known = self._runs.get(key)
            if known is not None and study.has_run(*known):
                return known[0]
            row = {**run_provenance(self.fn), "keep_checkpoints": self.keep_checkpoints}
            worker = study.worker(row)
            self._runs[key] = (worker, row["started"])
            return worker

    def __call__(self, *args: Never, **params: Any) -> R:
        """Run and record one manual trial; returns what the function returns, or raises
        what it raised (:class:`Pruned` too, when its method stopped it) once stored.
        Hyperparameters by keyword only: ``args`` is there to say so (a TrialError), and
        typed ``Never`` so that type checkers flag ``train(0.01, 2)`` too."""
        label = callable_name(self.fn).rpartition(".")[2]
        call = f"{label}(...)"
        refuse_while_imported(f"{call} (a manual trial)")
        from hpotrack.workers import refuse_while_a_worker_imports

        refuse_while_a_worker_imports(call)
        if args:
            raise TrialError(
                f"call {label}() with keyword arguments only, e.g. "
                f"{label}({', '.join(f'{n}=...' for n in self.definition.space)})"
            )
        space = self.definition.space
        if set(params) <= set(space) and space.missing(params):  # some left out: say how
            given = space.validate(params, partial=True)  # a bad value first
            raise SpaceError(_missing_values_message(label, space, given, self.definition.method))
        values = space.validate(params)  # before anything is stored
        study = self._called_study()
        worker = self._worker(study)
        claimed = study.start_manual(worker, values)
        try:
            outcome, returned = run_trial(study, self.fn, claimed, manual=True)
        except StorageError as exc:  # a checkpoint could not be saved: the trial failed
            with contextlib.suppress(HpotrackError):  # unless nothing can be stored
                study.store_outcome(claimed, Outcome(TrialState.FAILED, None, {}, str(exc)))
            raise
        study.store_outcome(claimed, outcome)
        if outcome.raised is not None:  # what the function raised (its error, or Pruned),
            # as a plain call raises it
            where = f"trial {claimed.number} of study {study.name!r}"
            note = f"{PREFIX}stored as {outcome.state.value} {where}"
            if hasattr(outcome.raised, "add_note"):  # Python 3.11+
                outcome.raised.add_note(note)
            raise outcome.raised
        if outcome.state is TrialState.FAILED:  # what it returned is no objective
            raise TrialError(f"manual trial {claimed.number} failed: {outcome.error}")
        return cast(R, returned)

    def ask(self) -> Trial:
        """Claim the study's next trial for a loop of your own: its handle, with
        ``.params``, ``.budget``, ``.report()`` and checkpoints, as the function gets it.
        Train it however you like (a job on a cluster, several trials in flight), then
        :meth:`tell` its outcome from this process. Queued trials come first; methods that
        model the history see it as pending. Raises ``SearchExhausted`` when the method
        has nothing to propose (a grid done, gradient descent waiting for this trial)."""
        label = callable_name(self.fn).rpartition(".")[2]
        refuse_while_imported(f"{label}.ask()")
        from hpotrack.workers import refuse_while_a_worker_imports

        refuse_while_a_worker_imports(f"{label}.ask()")
        study = self._called_study()
        return self._asked.ask(study, self._worker(study))

    def tell(
        self, trial: Trial, result: object = None, *, error: BaseException | str | None = None
    ) -> TrialRecord:
        """Store how an asked trial ended, as if the function had returned ``result``
        (its objective, or a dict of metrics naming it) or raised ``error`` (an
        exception, or a message): complete, failed, or pruned when its method stopped it
        (``error=`` the :class:`Pruned` its report raised, or no result after
        ``should_prune()``); a ``KeyboardInterrupt`` runs it again first, as in
        :meth:`optimize`. A result or ``error=``, not both. Returns the stored record;
        a tell that stored nothing (an error of the file, a lock held too long; Ctrl-C)
        leaves the trial asked, to be told again."""
        label = callable_name(self.fn).rpartition(".")[2]
        return self._asked.tell(trial, label, self._called_study, result, checked_error(error))

    @checked_arguments
    def optimize(
        self,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        progress: bool | None = None,
        max_budget: float | None = None,
        patience: int | None = None,
        good_enough: float | None = None,
        trial_timeout: float | None = None,
        callbacks: Sequence[TrialCallback] | None = None,
    ) -> Study:
        """Search until the study has ``n_trials`` trials (shared by every process), the
        method is exhausted or ``timeout`` seconds pass; returns the study.

        ``n_jobs > 1`` starts that many worker processes (``-1``: one per core) that share
        the study through the database. ``max_budget``: also stop starting trials once the
        study's finished trials trained that many steps of its ``budget=`` in total (e.g.
        epochs, counted from their reports; trials already running finish).
        ``patience``: also stop starting trials once that many complete trials numbered
        after the study's best one have finished without improving on it (pruned and
        failed trials do not count; counted over the whole study, by every process); with
        several objectives, after the trial that last changed the Pareto front (one
        repeating the values of a trial on it changes nothing).
        ``good_enough``: also stop starting trials once a complete trial's objective is at
        least that good (at most it when minimizing, at least it when maximizing).
        ``trial_timeout``: stop a trial that runs longer than that many seconds; it is
        stored as failed, with its reports (see :mod:`hpotrack.time_limit`).
        ``callbacks``: functions called here as ``f(study, trial)`` with each trial of the
        study that finished while the run went on, once it is stored, the trials of the
        ``n_jobs`` workers too (see :mod:`hpotrack.callbacks`); an exception from one
        stops the run and is raised here.
        """
        try:
            return self.run_study(
                n_trials=n_trials,
                timeout=timeout,
                n_jobs=n_jobs,
                progress=progress,
                max_budget=max_budget,
                patience=patience,
                good_enough=good_enough,
                trial_timeout=trial_timeout,
                callbacks=callbacks,
            )
        except KeyboardInterrupt:  # Ctrl-C: the traceback ends in the user's code, so
            log.info(  # say what became of the study (`hpotrack resume` says its own)
                "study %r interrupted: optimize() again continues the study, first "
                "running again any trial the interruption stopped",
                self.definition.name,
            )
            raise

    def run_study(
        self,
        *,
        study: str | None = None,
        db: str | Path | None = None,
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        progress: bool | None = None,
        max_budget: float | None = None,
        patience: int | None = None,
        good_enough: float | None = None,
        trial_timeout: float | None = None,
        callbacks: Sequence[TrialCallback] | None = None,
    ) -> Study:
        """:meth:`optimize` on a given study and database (``hpotrack resume`` uses it)."""
        from hpotrack.workers import importable_reference, refuse_while_a_worker_imports

        refuse_while_a_worker_imports()
        refuse_while_imported("optimize()")
        n_trials, jobs = checked_run_options(n_trials, n_jobs, timeout, progress, OPTIMIZE_OPTIONS)
        told = checked_callbacks(callbacks)
        name = study or self.definition.name
        stops = checked_stops(
            max_budget, patience, good_enough, trial_timeout, name, self.definition
        )
        if jobs > 1:  # refused before the study or its target is stored
            importable_reference(self.fn)
        if trial_timeout is not None:  # with jobs > 1 the workers' main threads run trials
            check_trial_timeout_can_run(in_workers=jobs > 1)
        deadline = None if timeout is None else time.time() + timeout  # from this call on
        opened = self._open(db, study)
        stops = dataclasses.replace(stops, stop_requests=opened.stop_requests)  # from now on
        opened.remember_stops(stops)  # hpotrack resume goes on with them
        if n_trials is not None:
            opened.raise_target(n_trials)
        target = n_trials if n_trials is not None else opened.target
        say_before_run(opened, target, timeout is not None or stops.may_end_the_search)
        if jobs > 1 and target is not None:  # no worker without a trial to run
            jobs = min(jobs, target - opened.refresh().n_started)
            if jobs == 1 and trial_timeout is not None and not in_main_thread():
                jobs = 2  # the last trial still runs in a worker, whose main thread has SIGALRM
        if jobs <= 1:
            ran = self.optimize_in_process(opened.db_path, n_trials, deadline, progress,
                                           study=opened.name, stops=stops,
                                           callbacks=told)  # fmt: skip
        else:
            from hpotrack.workers import run_workers

            ran = run_workers(self, opened, jobs, n_trials=n_trials, deadline=deadline,
                              progress=progress, stops=stops, callbacks=told)  # fmt: skip
        if ran.timed_out:
            log.info("timeout of %ss reached in study %r after %s", timeout, opened.name,
                     plural(ran.trials, "trial"))  # fmt: skip
        return opened

    def optimize_in_process(
        self,
        db: str | Path,
        n_trials: int | None,
        deadline: float | None,
        progress: bool | None,
        *,
        study: str | None = None,
        stops: Stops = NO_STOPS,
        started_before: int | None = None,
        callbacks: Sequence[TrialCallback] = (),
    ) -> Ran:
        """The loop of one process (worker processes call this, naming the parent's
        database and study, and how many trials it had started: see
        :func:`optimize_here`) until ``deadline`` (a ``time.time()``) or another end."""
        opened = self._open(db, study)
        with terminated_as_interrupted():
            return optimize_here(
                opened,
                self.fn,
                self._worker(opened),
                n_trials=n_trials,
                deadline=deadline,
                max_failures=self.max_failures,
                progress=progress,
                collect_checkpoints=self.keep_checkpoints == "needed",
                stops=stops,
                started_before=started_before,
                callbacks=callbacks,
            )


@checked_arguments
def tune(
    space: Mapping[str, object] | Space,
    method: str | Method = "auto",
    *,
    study: str | None = None,
    objective: str | Sequence[str] = "value",
    direction: str | Sequence[str] = "minimize",
    constraints: Constraint | Sequence[Constraint] = (),
    db: str | Path | None = None,
    seed: int | None = None,
    max_failures: int = 5,
    retries: int = 1,
    budget: Budget | None = None,
    keep_checkpoints: str = "needed",
) -> Callable[[Callable[..., R]], TunedFunction[R]]:
    """Decorate a training function to tune it. See the README for a walk-through.

    The function gets the hyperparameters as keyword arguments (and the running
    :class:`Trial` if it declares a ``trial`` parameter) and returns a number or a dict
    of metrics, all stored. The decorated function runs the search with
    ``train.optimize(n_trials=...)``, which returns the :class:`Study`; a direct call
    ``train(lr=...)`` runs and records one manual trial.

    ``space``: name -> ``hp.Float``, ``hp.Int``, ``hp.Choice``, or a shorthand (a list
    is a Choice, a 2-tuple of numbers a Float or Int). ``method``: a name (``"tpe"``,
    ``"bohb"``, ...) or an instance such as ``hp.methods.TPE(gamma=0.2)``; ``"auto"``
    picks one. ``study``: the study's name (default: the function's ``module.qualname``).
    ``objective``: the metric to optimize, the key of the returned dict (a plain number
    is stored under it); ``direction``: ``"minimize"`` or ``"maximize"``. Several
    objectives at once: a tuple of metric names and one direction each
    (``objective=("error", "latency_ms"), direction=("minimize", "minimize")``); the
    study then finds their Pareto front (``study.best_trials``). ``constraints``:
    ``hp.Constraint(metric, at_most=..., at_least=...)`` values a trial's returned metrics
    must meet for it to be the study's best or on its front (docs/constraints.md). ``db``: the
    SQLite file (default ``$HPOTRACK_DB``, else ``./hpotrack.db``). ``seed``: the study
    seed (default: drawn when the study is created). ``max_failures``: ``optimize``
    stops with :class:`TooManyFailures` after that many failed trials in a row.
    ``retries``: how many times a trial whose worker was lost (killed, say) is queued
    again. ``budget``: ``hp.Budget(min, max)``, how far a trial may train
    (``trial.budget``), for multi-fidelity methods and ``max_budget``.

    ``keep_checkpoints="needed"`` deletes checkpoints as soon as no trial can start from
    them any more (kept: each trial's latest while its line has not gone on, those a
    running or queued trial starts from, and those a retry of a running trial would
    resume; see docs/lineage.md); ``"all"`` keeps every one. The setting is the run's
    (stored with it): no run deletes the checkpoints of trials that ran with ``"all"``."""
    if callable(space) and not isinstance(space, Mapping):  # a bare @hp.tune above a def
        raise DefinitionError(
            "@hp.tune needs the search space first: write @hp.tune(space, method=...) above "
            "the function, with space a dict such as {'lr': hp.Float(1e-5, 1e-1, log=True)}"
        )
    objectives = Objectives.from_user(objective, direction, constraints)
    check_seed(seed)
    seed = None if seed is None else int(seed)  # numpy's integers are plain ints from here
    search_space = Space.from_user(space)
    search_method = resolve(method)
    search_method.check_objectives(objectives)  # first: no other fix helps a method that ranks one
    search_method.check(search_space)
    check_budget_given(budget)
    search_method.check_budget(budget)
    max_failures = whole_count("max_failures", max_failures, minimum=1, error=DefinitionError)
    if keep_checkpoints not in ("needed", "all"):
        raise DefinitionError(
            "keep_checkpoints must be 'needed' or 'all', but got "
            f"keep_checkpoints={keep_checkpoints!r}"
        )

    def decorate(fn: Callable[..., R]) -> TunedFunction[R]:
        if not callable(fn):
            raise DefinitionError(
                f"@hp.tune(...) decorates the training function, but got "
                f"{reprlib.repr(fn)}, which is not callable: put it above a def"
            )
        name = study if study is not None else default_study_name(fn)
        definition = StudyDefinition(
            name=name,
            space=search_space,
            method=search_method,
            objectives=objectives,
            seed=seed,
            retries=retries,
            budget=budget,
        )
        return TunedFunction(
            fn, definition, db=db, max_failures=max_failures, keep_checkpoints=keep_checkpoints
        )

    return decorate


OPTIMIZE_OPTIONS = [p for p in inspect.signature(TunedFunction.optimize).parameters if p != "self"]


def tuned_function(found: object, study: str) -> TunedFunction[Any] | None:
    """The tuned function of study ``study`` that ``found`` (imported from the recorded
    module and name) is, or that wraps it: ``tpe = hp.tune(...)(objective)`` records
    ``objective``, which names the undecorated function, so the tuned one is the global of
    its module that wraps it (of study ``study`` when several do). None if none does."""
    if isinstance(found, TunedFunction):
        return found
    module = sys.modules.get(getattr(found, "__module__", None) or "")
    wrapping = [
        value
        for value in (vars(module).values() if module is not None else ())
        if isinstance(value, TunedFunction) and value.fn is found
    ]
    named = [tuned for tuned in wrapping if tuned.definition.name == study]
    if len(named) == 1:
        return named[0]
    return wrapping[0] if len(wrapping) == 1 else None


def _missing_values_message(
    label: str, space: Space, params: Mapping[str, Value], method: Method
) -> str:
    """What a manual call ``label(**params)`` that leaves hyperparameters out is told: a
    manual trial runs as called, so each needs a value (an example of each from the
    middle of its range), or the trial is queued, where the values left out are drawn
    (when ``method`` runs queued trials)."""
    missing = space.missing(params)
    middle = space.complete(params, [0.5] * len(space))  # what the given values keep active
    example = {
        name: params.get(name, _example(space[name], value)) for name, value in middle.items()
    }
    call = ", ".join(f"{name}={value!r}" for name, value in example.items())
    them = "it" if len(missing) == 1 else "them"
    message = (
        f"{label}() runs one manual trial with a value for every hyperparameter, but got "
        f"none for {', '.join(map(repr, missing))}: pass {them}{' too' if params else ''}, "
        f"e.g. {label}({call})"
    )
    if method.refuses_enqueued is not None:
        return message
    given = ", ".join(f"{name}={value!r}" for name, value in params.items()) or "{}"
    return (
        f"{message}; or queue the trial with the values left out drawn at random, "
        f"{label}.study.enqueue({given}), and {label}.optimize() runs it first"
    )


def _example(param: Param, value: Value) -> Value:
    """``value`` of ``param`` in 3 significant digits when that is a value of it too (an
    example a user types: 0.00316, not 0.0031622776601683794)."""
    if not isinstance(value, float):
        return value
    try:
        return param.validate(float(f"{value:.3g}"))
    except SpaceError:
        return value
