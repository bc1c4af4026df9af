"""Read-only views of a study's trials, for :class:`hpotrack.study.Study`'s read
methods and the CLI: why there is no best trial yet, a trial's stored curve and
checkpoints, every trial as a pandas table, and reads that need not read the whole study
(the best trial, a few trials by number: DESIGN principle 3).

Each is a function of what it is given (the trials, the store and the study's id and
name): the study reads its trials first and passes them in, or the view reads only what
it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hpotrack import checkpoints, lineage
from hpotrack.budget import Budget
from hpotrack.errors import MissingDependency, NoCompleteTrial, TrialError
from hpotrack.methods.history import History
from hpotrack.records import TrialRecord, TrialState
from hpotrack.space import Space
from hpotrack.store import Store


def no_complete_trial(
    name: str, history: History, budget: Budget | None, needed: int | None = None
) -> NoCompleteTrial:
    """The error that study ``name`` has no best trial yet, saying what to do when a
    budget is the reason (``needed``: about how many trials its method runs before one
    may train to the budget's max, :meth:`Method.trials_to_complete`)."""
    message = f"study {name!r} has no complete trial yet"
    complete = history.count(TrialState.COMPLETE)
    if complete and history.objectives.constrained:
        return NoCompleteTrial(
            f"study {name!r} has no trial that meets its constraints yet "
            f"({history.objectives.describe_constraints()}): none of its "
            f"{complete} complete trials does; run more trials, or loosen the constraints "
            "in a new study (hpotrack show lists each trial's violation)"
        )
    pruned = history.count(TrialState.PRUNED)
    if pruned and budget is not None:
        more = (
            f"more trials (about {needed} before the first one does)" if needed else "more trials"
        )
        message += (
            f": {pruned} of its {len(history.trials)} trials were stopped below the "
            f"budget's max ({budget.max:g}); a trial completes once it trains that "
            "far (successive halving promotes one when enough trials reached its rung), "
            f"so run {more}"
        )
    return NoCompleteTrial(message)


def stored_best(store: Store, study_id: int, direction: str) -> TrialRecord | None:
    """The study's best complete trial, as :attr:`Study.best` of a study just loaded
    gives it, read with one query instead of every trial; None when that needs more: no
    trial is complete (the error says why, from the whole history), or the best one is
    a population segment (its best is that of what the members ended with,
    :func:`hpotrack.lineage.best_result`)."""
    found = store.best_complete(study_id, direction)
    if not found or lineage.segment_of(found[0]) is not None:
        return None
    return found[0]


class StoredTrials:
    """A study's trials by number, each read from the store when first asked for (with
    :meth:`read` for several at once) and kept: following one trial's lineage reads it
    and its ancestors, not the study (:class:`hpotrack.lineage.ByNumber`)."""

    def __init__(self, store: Store, study_id: int) -> None:
        self._store = store
        self._study_id = study_id
        self._read: dict[int, TrialRecord] = {}

    def __getitem__(self, number: int) -> TrialRecord:
        found = self.read([number])
        if not found:
            raise IndexError(f"no trial {number}")
        return found[0]

    def read(self, numbers: Iterable[int]) -> list[TrialRecord]:
        """The trials numbered ``numbers`` that exist, by number."""
        wanted = set(numbers)
        missing = sorted(wanted.difference(self._read))
        if missing:
            for record in self._store.trials_numbered(self._study_id, missing):
                self._read[record.number] = record
        return [self._read[n] for n in sorted(wanted) if n in self._read]


def stored_curve(store: Store, study_id: int, number: int) -> dict[str, list[tuple[int, float]]]:
    """Trial ``number``'s stored intermediate metrics: name -> [(step, value), ...]."""
    points: dict[str, list[tuple[int, float]]] = {}
    for name, step, value, _ in store.curve(study_id, number):
        points.setdefault(name, []).append((step, value))
    return points


def load_checkpoint(
    store: Store,
    study_id: int,
    name: str,
    trials: Sequence[TrialRecord],
    number: int,
    step: int | None,
) -> Any:
    """The object of trial ``number``'s latest checkpoint at or before ``step``, or of
    the one its line started from (see :meth:`hpotrack.study.Study.load_checkpoint`)."""
    found = checkpoints.stored_line_state(store, study_id, trials, number, step)
    if found is None and not checkpoints.any_saved(store, study_id):
        raise TrialError(
            f"study {name!r} has no checkpoints stored: its function saves them with "
            "trial.save_checkpoint(obj, step=...), and an imported study has none "
            "(exports leave checkpoint files out; load them from the study it was "
            "exported from)"
        )
    if found is None:
        at = "" if step is None else f" at or before step {step}"
        raise TrialError(
            f"trial {number} of study {name!r} has no checkpoint{at}: its "
            "function saves one with trial.save_checkpoint(obj, step=...), and a trial run "
            "with keep_checkpoints='needed' keeps only its latest, until a later trial "
            "went on from it (its model is then that trial's; see docs/lineage.md)"
        )
    return checkpoints.load(store, found)


def dataframe(records: Callable[[], list[dict[str, Any]]], space: Space) -> Any:
    """A pandas DataFrame of the trials ``records()`` gives (:meth:`TrialRecord.to_dict`,
    read once pandas is found), one row per trial, params flattened as ``param_<name>``
    and metrics as ``metric_<name>``; ``started`` and ``finished`` are UTC datetimes and
    ``duration`` a timedelta (not the stored seconds), as a DataFrame shows them well."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingDependency("to_dataframe() needs pandas: pip install pandas") from None
    rows = []
    for record in records():
        params = record.pop("params")
        metrics = record.pop("metrics")
        record.pop("parents")
        rows.append(
            {
                **record,
                # every parameter's column in the space's order: None (NaN) where inactive
                **{f"param_{name}": params.get(name) for name in space},
                **{f"metric_{k}": v for k, v in metrics.items()},
            }
        )
    if rows:
        frame = pd.DataFrame(rows)
    else:
        fields = TrialRecord(0, TrialState.QUEUED, {}).to_dict()  # a study without trials
        columns = [k for k in fields if k not in ("params", "metrics", "parents")]
        frame = pd.DataFrame(columns=[*columns, *(f"param_{name}" for name in space)])
    for column in ("started", "finished"):  # None (not started, not finished): NaT
        frame[column] = pd.to_datetime(frame[column].astype("float64"), unit="s", utc=True)
    frame["duration"] = pd.to_timedelta(frame["duration"].astype("float64"), unit="s")
    return frame


OPTUNA_NAMES = {  # what another library's study or results call what, and hpotrack's name
    "best_trial": "study.best",
    "best_params": "study.best.params",
    "best_value": "study.best.value",
    "study_name": "study.name",
    "get_trials": "study.trials",
    "trials_dataframe": "study.to_dataframe()",
    "enqueue_trial": "study.enqueue(params)",
    "optimize": "train.optimize(n_trials=...) on the function decorated with @hp.tune",
    "ask": "train.ask() on the function decorated with @hp.tune, then train.tell(trial, value)",
    "tell": "train.tell(trial, value) for the trial train.ask() returned",
    # Ray Tune's ResultGrid and Hyperopt's Trials
    "get_best_result": "study.best (.params, .value, .metrics)",
    "best_config": "study.best.params",
    "best_result": "study.best.metrics",
    "get_dataframe": "study.to_dataframe()",
    "results": "study.records(), or study.trials",
    "losses": "[t.value for t in study.trials]",
    "argmin": "study.best.params",
    "metric_names": "study.objectives",
}

OPTUNA_HABITS = {  # what an Optuna study does that hpotrack does otherwise, and how
    "user_attrs": (
        "hpotrack keeps no attributes beside the trials: every metric the function returns "
        "is stored with its trial (study.trials[n].metrics)"
    ),
    "set_metric_names": "objective= of @hp.tune names the objectives (study.objectives)",
}


def missing_attribute(name: str) -> AttributeError:
    """The error for ``study.<name>`` that does not exist, naming hpotrack's spelling when
    ``name`` is what an Optuna study calls it, or what hpotrack does instead."""
    hint = ""
    if name in OPTUNA_NAMES:
        hint = f"; hpotrack spells it {OPTUNA_NAMES[name]}"
    elif name in OPTUNA_HABITS:
        hint = f"; {OPTUNA_HABITS[name]}"
    return AttributeError(f"'Study' object has no attribute {name!r}{hint}")
