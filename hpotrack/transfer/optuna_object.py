"""An ``optuna.Study`` object, read through Optuna's own API, as the storage readers read
its files (:mod:`hpotrack.transfer.optuna_db`, :mod:`hpotrack.transfer.optuna_journal`):
the same :class:`~hpotrack.transfer.optuna_study.OptunaStudy`, so the same export. A study
in memory (``optuna.create_study()`` without ``storage=``, the notebook habit), or in any
storage Optuna reaches (a server database, Redis), comes in as one in a file does.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from hpotrack.transfer.optuna_study import (
    METRIC_NAMES,
    OptunaStudy,
    OptunaTrial,
    distribution,
    to_export,
)


def is_optuna_study(source: object) -> bool:
    """Whether ``source`` is an ``optuna.Study`` (told without importing Optuna)."""
    kind = type(source)
    return kind.__name__ == "Study" and kind.__module__.startswith("optuna.")


def read_optuna_object(study: Any) -> dict[str, Any]:
    """The Optuna study object ``study`` as an hpotrack export."""
    from optuna.distributions import distribution_to_json

    names = _metric_names(study)
    trials = []
    for frozen in study.get_trials(deepcopy=False):
        trial = OptunaTrial(
            frozen.number, frozen.state.name, _seconds(frozen.datetime_start),
            _seconds(frozen.datetime_complete),
        )  # fmt: skip
        for name, value in frozen.params.items():
            shape = frozen.distributions[name]
            text = distribution_to_json(shape)
            trial.params[name] = (shape.to_internal_repr(value), distribution(name, text))
        trial.values = dict(enumerate(frozen.values or ()))
        trial.curve = [
            [step, value if math.isfinite(value) else None, None]
            for step, value in sorted(frozen.intermediate_values.items())
        ]
        trial.attributes = dict(frozen.user_attrs)
        trial.system = {key: _as_stored(value) for key, value in frozen.system_attrs.items()}
        trials.append(trial)
    directions = [direction.name for direction in study.directions]
    return to_export(OptunaStudy(study.study_name, directions, names, trials))


def _metric_names(study: Any) -> list[str] | None:
    """What ``study.set_metric_names`` set, None if it was not called: the property
    ``Study.metric_names`` where Optuna has it, else the study's system attribute that
    property reads, as Optuna 3.2 has only the attribute (the database and journal
    readers read it too)."""
    if hasattr(type(study), "metric_names"):
        names = study.metric_names
    else:
        names = study._storage.get_study_system_attrs(study._study_id).get(METRIC_NAMES)
    return None if names is None else list(names)


def _as_stored(value: object) -> object:
    """A system attribute as a storage gives it back, which is as JSON stores it: in
    memory, Optuna keeps ``constraints_func``'s values as the tuple it made of them
    (``optuna/samplers/_base.py``), which its database and journal read back as a list."""
    if isinstance(value, tuple | list):
        return [_as_stored(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _as_stored(item) for key, item in value.items()}
    return value


def _seconds(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
