"""What a study is declared as, and opening it: create it, or check that a stored study
was declared the same way (space, direction, objective, seed) before reusing it.
"""

from __future__ import annotations

import difflib
import logging
import random
import shlex
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path
from typing import Any

from hpotrack import checkpoints
from hpotrack.arguments import checked_arguments
from hpotrack.budget import Budget
from hpotrack.db_path import default_db_path
from hpotrack.errors import (
    DefinitionError,
    MethodChangeRefused,
    MethodError,
    StudyMismatchError,
    StudyNotFoundError,
)
from hpotrack.jsonable import dumps
from hpotrack.methods.base import Method
from hpotrack.methods.registry import resolve
from hpotrack.objectives import DEFAULT as DEFAULT_OBJECTIVE
from hpotrack.objectives import Objectives
from hpotrack.space import Space, is_utf8, param_from_json
from hpotrack.store import Store, StudyRow, open_store
from hpotrack.study import Study

SHOWN_NAMES = 10  # the studies an unknown name's message lists, when none is close
log = logging.getLogger("hpotrack")


@dataclass(frozen=True)
class StudyDefinition:
    """What ``@tune`` declares about a study; checked against the stored one on reopen."""

    name: str
    space: Space
    method: Method
    objectives: Objectives = DEFAULT_OBJECTIVE
    seed: int | None = None
    retries: int = 1
    budget: Budget | None = None

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise DefinitionError(problem)
        if not isinstance(self.objectives, Objectives):
            raise DefinitionError(f"objectives must be Objectives, but got {self.objectives!r}")
        check_seed(self.seed)
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise DefinitionError(f"`retries >= 0` must hold, but got retries={self.retries!r}")
        check_budget_given(self.budget)


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a new study, None when it can: it must be non-empty
    Unicode text without control characters (a tab or a newline would break every table
    and line that shows it, and `hpotrack show NAME` could not be typed)."""
    if not isinstance(name, str) or not name.strip() or not is_utf8(name):
        return f"a study needs a non-empty name of valid Unicode text, but got {name!r}"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return (
            f"a study name must not contain control characters (tabs, newlines), but got {name!r}"
        )
    return None


def check_budget_given(budget: object) -> None:
    """Refuse a ``budget=`` that is not an :class:`hp.Budget <hpotrack.Budget>` (a tuple,
    a number), said one way by ``@tune`` and by a definition read back."""
    if budget is not None and not isinstance(budget, Budget):
        raise DefinitionError(f"budget must be an hp.Budget(min, max), but got budget={budget!r}")


def check_seed(seed: object) -> None:
    """Validate ``@tune``'s ``seed=`` (called when decorating)."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= int(seed) < 2**63
    ):
        raise DefinitionError(
            f"`0 <= seed < 2**63` must hold for a whole number (or None), but got seed={seed!r}"
        )


def open_study(store: Store, definition: StudyDefinition, function: Mapping[str, Any]) -> Study:
    """Create the study, or reopen it after checking it was defined the same way."""
    definition.method.check_objectives(definition.objectives)
    definition.method.check(definition.space)
    definition.method.check_budget(definition.budget)
    with store.write():
        row = store.find_study(definition.name)
        if row is None:
            seed = definition.seed if definition.seed is not None else random.randrange(2**31)
            store.insert_study(
                name=definition.name,
                space=definition.space.to_json(),
                method=definition.method.to_json(),
                direction=definition.objectives.directions[0],
                objective=definition.objectives.metrics[0],
                seed=seed,
                function=function,
                retries=definition.retries,
                budget=None if definition.budget is None else definition.budget.to_json(),
                objectives=definition.objectives.stored_objectives(),
                constraints=definition.objectives.stored_constraints(),
            )
        else:
            differences = _differences(row, definition)
            if differences:
                raise StudyMismatchError(
                    f"study {definition.name!r} already exists in {store.path} with a "
                    f"different definition: {'; '.join(differences)}. Use another study "
                    f"name, or delete it with `hpotrack --db {shlex.quote(str(store.path))} "
                    f"delete {shlex.quote(definition.name)}`",
                    differences,
                )
            change = method_change(row.method, definition.method.to_json())
            if change:
                refused = _refused_change(store, row, definition.method)
                if refused is not None:
                    raise MethodChangeRefused(
                        f"study {definition.name!r} in {store.path} cannot go on with "
                        f"{refused}, or give the new options another study= name",
                        [refused],
                    )
                caveat = (
                    " (with keep_checkpoints='needed', those of its checkpoints the old "
                    "method had no more use for are gone: a trial the new one continues "
                    "from one of them trains from scratch)"
                    if checkpoints.any_saved(store, row.id)
                    else ""
                )
                log.info(
                    "study %r: method changed %s; the trials so far are kept%s",
                    definition.name,
                    change,
                    caveat,
                )
            store.update_study(
                row.id,
                method=definition.method.to_json(),
                function=_recorded_function(row.function, function),
                retries=definition.retries,
            )
        stored = store.find_study(definition.name)
    assert stored is not None
    return Study(store, stored)


@checked_arguments
def load_study(name: str, db: str | Path | None = None) -> Study:
    """Open an existing study by name; the database defaults to ``./hpotrack.db``."""
    if not isinstance(name, str):
        raise StudyNotFoundError(f"a study name is text, but got {name!r}")
    store = open_store(default_db_path(db), must_exist=True)
    with store.reading():  # not a study another thread is creating in a rolled-back write
        row = store.find_study(name) if is_utf8(name) else None  # no stored name can match
        if row is None:
            raise StudyNotFoundError(_not_found_message(store, name))
    return Study(store, row)


def _not_found_message(store: Store, name: str) -> str:
    names = [row.name for row in store.list_studies()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if not close:  # RICH_COPY for rich_copy
        lowered = {n.lower(): n for n in names}
        found = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)
        close = [lowered[n] for n in found]
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    known = ""
    if names and not close:  # quoted: a name may hold ", " or spaces
        more = f", and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
        known = f" (studies: {', '.join(map(repr, names[:SHOWN_NAMES]))}{more})"
    return f"no study named {name!r} in {store.path}{hint}{known}"


def _differences(row: StudyRow, definition: StudyDefinition) -> list[str]:
    found = []
    stored_space = row.space
    new_space = definition.space.to_json()
    for name in [*stored_space, *(n for n in new_space if n not in stored_space)]:
        if name not in new_space:
            found.append(f"parameter {name!r} was removed")
        elif name not in stored_space:
            found.append(f"parameter {name!r} was added")
        elif dumps(stored_space[name]) != dumps(new_space[name]):  # JSON tells 0 from False
            found.append(
                f"parameter {name!r} was {param_from_json(stored_space[name])!r}, "
                f"now {param_from_json(new_space[name])!r}"
            )
    stored = Objectives.from_columns(row.objective, row.direction, row.objectives, row.constraints)
    if stored.metrics != definition.objectives.metrics:
        found.append(
            f"objective was {_objective_text(stored.metrics)}, "
            f"now {_objective_text(definition.objectives.metrics)}"
        )
    elif stored.directions != definition.objectives.directions:
        found.append(
            f"direction was {_objective_text(stored.directions)}, "
            f"now {_objective_text(definition.objectives.directions)}"
        )
    if set(stored.constraints) != set(definition.objectives.constraints):  # in any order
        found.append(
            f"constraints were {stored.describe_constraints() or 'none'}, "
            f"now {definition.objectives.describe_constraints() or 'none'}"
        )
    budget = None if definition.budget is None else definition.budget.to_json()
    if dumps(row.budget) != dumps(budget):  # JSON tells 1 from 1.0, as for the space
        found.append(f"budget was {_budget_text(row.budget)}, now {_budget_text(budget)}")
    if definition.seed is not None and row.seed != definition.seed:
        found.append(  # the seed alone changes no trial: the study can go on
            f"seed was {row.seed}, now {definition.seed} (pass seed={row.seed}, or no "
            "seed, to continue it)"
        )
    return found


def _refused_change(store: Store, row: StudyRow, method: Method) -> str | None:
    """Why ``method`` cannot go on with the study's trials, run under the stored method
    (see :meth:`Method.continues`); None when it can. Reads the trials: only on a change
    of method or options."""
    study = Study(store, row)
    history = study.refresh()
    try:
        before: Method | None = study.method.deciding(history)
    except MethodError:  # a method its own code registers, not imported here
        before = None
    return method.continues(before, history)


def _recorded_function(stored: Mapping[str, Any], now: Mapping[str, Any]) -> Mapping[str, Any]:
    """Where the study's function lives once reopened from ``now``: there, unless ``now``
    has no file (typed in a notebook, IPython, ``python -c``) and the stored one has. A
    manual trial from a notebook must not leave ``hpotrack resume`` unable to import the
    script the study runs from."""
    return stored if stored.get("path") and not now.get("path") else now


def _objective_text(names: tuple[str, ...]) -> str:
    """``'error'`` for one, ``('error', 'latency')`` for several: as ``@tune`` takes them."""
    return repr(names[0]) if len(names) == 1 else repr(names)


def _budget_text(data: dict[str, Any] | None) -> str:
    return "none" if data is None else repr(Budget.from_json(data))


def method_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """How a stored method differs from the one now declared: another method, or which
    options changed (a change of ``eta`` alone must not read as "from sha to sha");
    "" when none did (an option stored before it existed reads as the value the study
    ran with, its ``stored_defaults``: ``brackets 'asynchronous'``, not ``None``)."""
    name = before.get("name")
    if name != after.get("name"):
        return f"from {name} to {after.get('name')}"
    try:
        stored = type(resolve(str(name))).stored_defaults
    except MethodError:  # a method its own code registers, not imported here
        stored = {}
    old, new = {**stored, **(before.get("options") or {})}, after.get("options") or {}
    changed = [
        f"{key} {old.get(key)!r} -> {new.get(key)!r}"
        for key in sorted({*old, *new})
        if dumps(old.get(key)) != dumps(new.get(key))
    ]
    return f"({after.get('name')}: {', '.join(changed)})" if changed else ""
