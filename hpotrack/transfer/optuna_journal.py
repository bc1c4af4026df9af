"""Reading a study of an Optuna journal file: the log to which
``JournalStorage(JournalFileBackend("journal.log"))`` appends one operation per line
(``JournalFileStorage`` from Optuna 3.1, renamed in 4.0), replayed as Optuna replays it
(what the study becomes: :mod:`hpotrack.transfer.optuna_study`).

The replay follows Optuna's (``JournalStorageReplayResult``): studies and trials are
numbered in the order they were created, an operation on a study deleted since or on a
trial already finished is skipped (a trial created in a deleted study takes no number),
a parameter whose distribution Optuna refuses after the study's earlier one is left out,
and of two workers that took the same waiting trial only the first ran it. A last line
cut short (a writer killed mid-line) is ignored, as Optuna ignores it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hpotrack.transfer.format import TransferError
from hpotrack.transfer.optuna_study import (
    METRIC_NAMES,
    Distribution,
    OptunaStudy,
    OptunaTrial,
    choose_study,
    distribution,
    timestamp,
    to_export,
)

# Optuna's JournalOperation codes
_CREATE_STUDY, _DELETE_STUDY, _SET_STUDY_SYSTEM_ATTR = 0, 1, 3
_CREATE_TRIAL, _SET_PARAM, _SET_STATE, _SET_INTERMEDIATE = 4, 5, 6, 7
_SET_USER_ATTR, _SET_SYSTEM_ATTR = 8, 9
_STATES = ["RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"]  # Optuna's TrialState values
_FINISHED = {"COMPLETE", "PRUNED", "FAIL"}


def is_optuna_journal(path: Path) -> bool:
    """Whether the first line of the file at ``path`` is an Optuna journal operation."""
    try:
        with path.open("rb") as file:
            first = json.loads(file.readline(1 << 20))
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and {"op_code", "worker_id"} <= first.keys()


def read_optuna_journal(path: Path, study: str | None = None) -> dict[str, Any]:
    """Optuna study ``study`` (None: the file's only one) of the journal at ``path``, as
    an hpotrack export."""
    replay = _Replay()
    try:
        for line, operation in _operations(path):
            try:
                replay.apply(operation)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise TransferError(
                    f"{path}, line {line}: not an Optuna journal operation ({exc!r})"
                ) from None
    except OSError as exc:
        raise TransferError(f"cannot read {path}: {exc.strerror or exc}") from None
    studies = replay.finish()
    name = choose_study(list(studies), study, path, "journal file")
    return to_export(studies[name])


def _operations(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, operation) of each line; a last line cut short is left out."""
    with path.open("rb") as file:
        lines = file.read().rstrip(b"\n").split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            operation = json.loads(line)
        except ValueError:
            if number == len(lines):  # the last one: a write that did not finish
                return
            raise TransferError(f"{path}, line {number}: not valid JSON") from None
        if not isinstance(operation, dict):
            raise TransferError(f"{path}, line {number}: not an Optuna journal operation")
        yield number, operation


class _Replay:
    """The studies a journal's operations make, as Optuna's replay makes them."""

    def __init__(self) -> None:
        self.studies: dict[str, OptunaStudy] = {}  # by name, in order of creation
        self._by_id: dict[int, OptunaStudy] = {}  # those not deleted
        self._next_study_id = 0
        self._trials: list[tuple[int, OptunaTrial]] = []  # (study id, trial) by trial id
        self._curves: list[dict[int, float | None]] = []  # step -> value, by trial id
        # (study, param) -> the distribution of the first trial that set it, which Optuna
        # checks a later one against (any accepted since is compatible with it alike)
        self._first: dict[tuple[int, str], Distribution] = {}

    def apply(self, operation: dict[str, Any]) -> None:
        code = operation["op_code"]
        if code == _CREATE_STUDY:
            self._create_study(operation)
        elif code == _DELETE_STUDY:
            deleted = self._by_id.pop(operation["study_id"], None)
            if deleted is not None:
                del self.studies[deleted.name]
        elif code == _SET_STUDY_SYSTEM_ATTR:
            study = self._by_id.get(operation["study_id"])
            names = operation["system_attr"].get(METRIC_NAMES)
            if study is not None and names is not None:
                study.metric_names = names
        elif code == _CREATE_TRIAL:
            self._create_trial(operation)
        elif code in (_SET_PARAM, _SET_STATE, _SET_INTERMEDIATE, _SET_USER_ATTR, _SET_SYSTEM_ATTR):
            self._update_trial(code, operation)

    def finish(self) -> dict[str, OptunaStudy]:
        """The studies, each trial's curve in step order."""
        for (_, trial), curve in zip(self._trials, self._curves, strict=True):
            trial.curve = [[step, curve[step], None] for step in sorted(curve)]
        return self.studies

    def _create_study(self, operation: dict[str, Any]) -> None:
        name = operation["study_name"]
        if name in self.studies:  # created by two workers at once: the first one's
            return
        directions = [["NOT_SET", "MINIMIZE", "MAXIMIZE"][d] for d in operation["directions"]]
        study = OptunaStudy(name, directions, None, [])
        self.studies[name] = self._by_id[self._next_study_id] = study
        self._next_study_id += 1

    def _create_trial(self, operation: dict[str, Any]) -> None:
        study_id = operation["study_id"]
        study = self._by_id.get(study_id)
        if study is None:  # deleted by another worker first: the trial takes no id
            return
        trial = OptunaTrial(
            len(study.trials),
            _STATES[operation.get("state", 0)],
            timestamp(operation.get("datetime_start")),
            timestamp(operation.get("datetime_complete")),
        )
        texts = operation.get("distributions", {})
        for param, internal in operation.get("params", {}).items():
            trial.params[param] = (internal, distribution(param, texts[param]))
            self._first.setdefault((study_id, param), trial.params[param][1])
        values = operation.get("values")
        if values:
            trial.values = dict(enumerate(values))
        elif operation.get("value") is not None:
            trial.values = {0: operation["value"]}
        trial.attributes = dict(operation.get("user_attrs", {}))
        trial.system = dict(operation.get("system_attrs", {}))
        steps = operation.get("intermediate_values", {}).items()
        self._curves.append({int(step): _finite(value) for step, value in steps})
        self._trials.append((study_id, trial))
        study.trials.append(trial)

    def _update_trial(self, code: int, operation: dict[str, Any]) -> None:
        trial_id = operation["trial_id"]
        if not 0 <= trial_id < len(self._trials):
            return
        study_id, trial = self._trials[trial_id]
        if study_id not in self._by_id or trial.state in _FINISHED:
            return
        if code == _SET_PARAM:
            self._set_param(study_id, trial, operation)
        elif code == _SET_STATE:
            state = _STATES[operation["state"]]
            if state == "RUNNING" == trial.state:  # a waiting trial another worker took first
                return
            if state == "RUNNING":
                trial.started = timestamp(operation.get("datetime_start"))
            if state in _FINISHED:
                trial.finished = timestamp(operation.get("datetime_complete"))
            trial.state = state
            if operation.get("values"):  # each objective's, in order
                trial.values = dict(enumerate(operation["values"]))
        elif code == _SET_INTERMEDIATE:
            value = _finite(operation["intermediate_value"])
            self._curves[trial_id][int(operation["step"])] = value
        elif code == _SET_USER_ATTR:
            trial.attributes.update(operation["user_attr"])
        else:
            trial.system.update(operation["system_attr"])

    def _set_param(self, study_id: int, trial: OptunaTrial, operation: dict[str, Any]) -> None:
        """A parameter's value, unless its distribution is not one Optuna lets follow the
        one the study's first trial with that parameter has: the worker that wrote it then
        failed its trial (a script changed from ``suggest_float("x", ...)`` to
        ``suggest_int("x", ...)``), and Optuna's replay leaves it out."""
        param = operation["param_name"]
        new = distribution(param, operation["distribution"])
        first = self._first.setdefault((study_id, param), new)  # compatible ones: alike
        if first.compatible(new):
            trial.params[param] = (operation["param_value_internal"], new)


def _finite(value: Any) -> float | None:
    """An intermediate value, None where it was not a finite number."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if number and math.isfinite(value) else None
