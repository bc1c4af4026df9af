"""Trials queued by hand (:meth:`hpotrack.study.Study.enqueue`): the two forms a call
gives the values in, the calls refused, and the queued trial's row, or the trial that
already has the values (``skip_if_exists``). The study decides under which lock; this
module what is checked and stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hpotrack.errors import CallError, MethodError
from hpotrack.methods.base import Method
from hpotrack.methods.history import History
from hpotrack.records import Origin, TrialState
from hpotrack.space import Space, Value
from hpotrack.store import Store


@dataclass(frozen=True)
class Enqueued:
    """What :meth:`Study.enqueue_once` did: queued trial ``number``, or found it (an
    existing trial with the values, ``skip_if_exists``)."""

    number: int
    queued: bool


def given_values(
    params: Mapping[str, object] | None, values: dict[str, object], example: str
) -> Mapping[str, object]:
    """What :meth:`Study.enqueue` was given to queue: the dict, or the keywords (one form
    per call: with both, which value wins would be a guess). ``example``: a parameter's
    name, for the message of a call that gave neither."""
    if params is not None and values:
        keywords = ", ".join(f"{name}={value!r}" for name, value in values.items())
        raise CallError(
            f"enqueue() takes the values as a dict or as keywords, not both, but got "
            f"{params!r} and {keywords}: put them all in one of the two"
        )
    if params is None and not values:
        raise CallError(
            f"enqueue() needs the values of the trial to queue, e.g. study.enqueue({example}=...) "
            f"or study.enqueue({{{example!r}: ...}}) (values left out are drawn at random; "
            "{} draws them all)"
        )
    return values if params is None else params


def check_call(method: Method, study: str, skip_if_exists: object) -> None:
    """Refuse to queue a trial in ``study`` when its ``method`` runs no queued trial, or
    when ``skip_if_exists`` is not a bool."""
    if method.refuses_enqueued is not None:
        raise MethodError(f"study {study!r} cannot queue trials: {method.refuses_enqueued}")
    if not isinstance(skip_if_exists, bool):  # 0.5 or "no" read as True
        raise CallError(
            f"`skip_if_exists` must be True or False, but got skip_if_exists={skip_if_exists!r}"
        )


def queue(
    store: Store,
    study_id: int,
    history: History,
    space: Space,
    given: Mapping[str, Value],
    *,
    skip_if_exists: bool,
) -> Enqueued:
    """Queue the next trial with the ``given`` values (valid, maybe partial: the others
    are drawn uniformly, as ``random`` draws that trial's), or, ``skip_if_exists``, find
    the first trial that has them. Inside a write transaction, on a fresh ``history``."""
    if skip_if_exists and given:
        existing = history.first_with(given)
        if existing is not None:
            return Enqueued(existing, queued=False)
    number = history.next_number
    store.insert_trial(
        study_id,
        number=number,
        state=TrialState.QUEUED,
        params=space.complete(given, history.uniform(number, len(space))),
        origin=Origin.ENQUEUED.value,
    )
    return Enqueued(number, queued=True)
