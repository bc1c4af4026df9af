"""The one interface every search method implements, and the history it reads.

A method is a pure function of the study's stored history, the study seed and the number of
the trial being asked for (DESIGN principle 1): it keeps no state between calls, imports no
store and does no I/O. The study loop hands it a :class:`History` and inserts the
:class:`Proposal` it returns, under the ask lock.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import math
import numbers
import random
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np

from hpotrack.budget import Budget
from hpotrack.errors import MethodError, SpaceError, UnknownMethodError
from hpotrack.options import friendly_init
from hpotrack.records import Edge, Origin, TrialRecord, TrialState, is_better, objective_sign
from hpotrack.space import Space, Value

WINDOW = 1000
"""How many of the most recent trials a model-based suggestion (``tpe``, ``bohb``) looks
at, plus the best one: its cost stays bounded however large the study grows."""

_LINE_EDGES = frozenset({Origin.PROMOTED.value, Origin.RETRIED.value})
"""Edges to a trial whose configuration the child trains on: they make one line."""

PROMOTE = "promote"
"""The claim of a promotion is ``promote:<number of the stopped trial>``: once per study."""


@dataclass(frozen=True)
class Proposal:
    """What a method wants run next: trial ``history.next_number``.

    ``params`` gives every parameter of the space a value in its range (the study loop
    refuses anything else with a :class:`MethodError`). ``origin`` says where they come
    from (a :class:`Origin` value: ``"sampled"``, ``"mutated"``, ``"promoted"``...) and
    ``parents`` the earlier trials they come from, as lineage edges. ``budget`` is what
    the trial trains to (None: the study budget's max). ``claim`` is a key unique within
    the study (e.g. ``"promote:17"``); a second trial with the same claim is refused, so
    two processes can never run the same grid cell. ``rung`` and ``bracket`` place the
    trial in successive halving.
    """

    params: dict[str, Value]
    origin: str = Origin.SAMPLED.value
    budget: float | None = None
    parents: tuple[Edge, ...] = ()
    claim: str | None = None
    rung: int | None = None
    bracket: int | None = None
    note: str | None = None  # why, in a few words (``auto`` says which method and why)


class History:
    """A read-only view of a study's trials for methods, with counts kept up to date.

    ``trials[n]`` is trial number ``n`` (numbers are dense from 0); ``next_number`` is
    the trial being asked for; ``space``, ``direction``, ``seed`` and ``budget`` are the
    study's; ``best``, :meth:`ranked`, :meth:`loss` and :meth:`is_pending` are what
    most methods read, and :meth:`rng` or :meth:`uniform` their randomness. The view is
    live: it is the study loop's cache, refreshed incrementally before every ask, never
    copied.

    Trials' checks (their objective at the steps where a method decided whether they go
    on) are also kept ranked, per bracket and step, so that pruning decisions cost a
    binary search, not a pass over the study; so are the trials stopped at each check and
    not promoted since, so that finding a promotion does not either.
    """

    def __init__(
        self, space: Space, direction: str, seed: int, budget: Budget | None = None
    ) -> None:
        self.space = space
        self.direction = direction
        self.seed = seed
        self.budget = budget
        self._sign = objective_sign(direction)
        self._reached: dict[tuple[int | None, int], list[tuple[float, int]]] = {}
        self._complete_at: dict[int, list[float]] = {}
        self._stopped: dict[tuple[int | None, int], list[tuple[float, int]]] = {}
        self._trials: list[TrialRecord] = []
        self._claims: dict[str, int] = {}  # claim: the trial that holds it
        self._claim_counts: dict[str, int] = {}
        # per set of names (None: all), Space.key -> the first trial with those values, and
        # how many trials are indexed: built when first asked, then extended (values of a
        # trial never change)
        self._first_with: dict[tuple[str, ...] | None, tuple[dict[str, int], int]] = {}
        self._superseded: set[int] = set()  # lost or interrupted trials that a retry replaced
        self._line_root: list[int] = []  # per trial: the first trial of its configuration's line
        self._lines: dict[int, list[int]] = {}  # first trial: the trials of its line, in order
        # finished trials (not queued or running) by whether they have a finite value:
        # numbers ascending, and (loss, number) best first for those with one
        self._valued: list[int] = []
        self._ranked: list[tuple[float, int]] = []
        self._valueless: list[int] = []
        self._counts = {state: 0 for state in TrialState}
        self._unfinished: dict[TrialState, set[int]] = {
            TrialState.QUEUED: set(),
            TrialState.RUNNING: set(),
        }
        self.best: TrialRecord | None = None
        # budget steps the finished trials trained in total (TrialRecord.trained): what
        # optimize(max_budget=...) compares with
        self.trained = 0
        self._replaced = 0
        # Derived data a method may keep between asks to bound its reading (e.g. where the
        # oldest undecided bracket run starts): only what it could recompute from the
        # trials, since a new process starts with it empty.
        self.cache: dict[str, Any] = {}

    @property
    def trials(self) -> Sequence[TrialRecord]:
        return _ReadOnlyList(self._trials)

    @property
    def next_number(self) -> int:
        """The number the next new trial will get."""
        return len(self._trials)

    @property
    def n_started(self) -> int:
        """Trials that count toward the target: all but queued ones and lost trials that a
        retry replaces (the retry counts once it starts)."""
        return len(self._trials) - self._counts[TrialState.QUEUED] - self._replaced

    @property
    def n_replaced(self) -> int:
        """Lost or interrupted trials that a retry replaced (they do not count)."""
        return self._replaced

    def count(self, *states: TrialState) -> int:
        """How many trials are in any of ``states`` (kept as counters: O(1))."""
        return sum(self._counts[s] for s in states)

    def unfinished(self, state: TrialState) -> list[int]:
        """Numbers of the trials that are ``queued`` or ``running`` (the one asked),
        lowest first; kept as sets, so the cost is that of the few there are."""
        return sorted(self._unfinished[state])

    def is_claimed(self, claim: str) -> bool:
        return claim in self._claims

    def claimant(self, claim: str) -> int | None:
        """The number of the trial holding ``claim`` (e.g. ``"config:7"``), if any."""
        return self._claims.get(claim)

    def line_root(self, number: int) -> int:
        """The first trial of trial ``number``'s configuration line: the line goes on
        through ``promoted`` and ``retried`` edges (the same configuration, trained on)."""
        return self._line_root[number]

    def line(self, root: int) -> Sequence[int]:
        """The trials of the line that trial ``root`` starts, in order."""
        return self._lines.get(root, ())

    def is_superseded(self, number: int) -> bool:
        """Whether trial ``number`` was lost or interrupted and a retry replaced it: its
        checks are the retry's to report (or, resumed, to carry), not a second entry."""
        return number in self._superseded

    def claim_count(self, prefix: str) -> int:
        """How many claims ``prefix:...`` exist (e.g. ``"grid"``)."""
        return self._claim_counts.get(prefix, 0)

    def has_configuration(self, params: dict[str, Value]) -> bool:
        """Whether a trial of any state and origin (queued, manual, an earlier grid) has
        these values (equal to 12 significant digits, :meth:`Space.key`). The index is
        built at the first call and then extended, so methods that never ask pay
        nothing and later calls pay only for the new trials."""
        return self._first(params, None) is not None

    def is_pending(self, params: Mapping[str, Value]) -> bool:
        """Whether a queued or running trial has these values (:meth:`Space.key`): what
        a model-based method must not propose again, even once every configuration of
        a small space has run. The cost is that of the few unfinished trials."""
        key = self.space.key(params)
        return any(
            self.space.key(self._trials[number].params) == key
            for waiting in self._unfinished.values()
            for number in waiting
        )

    def first_with(self, values: Mapping[str, Value]) -> int | None:
        """The lowest number of a trial of any state whose values of the names in
        ``values`` equal them (:meth:`Space.key`), if any; indexed as
        :meth:`has_configuration` is, per set of names."""
        return self._first(values, tuple(values))

    def _first(self, values: Mapping[str, Value], names: tuple[str, ...] | None) -> int | None:
        keys, indexed = self._first_with.get(names, ({}, 0))
        for trial in self._trials[indexed:]:
            keys.setdefault(self.space.key(trial.params, names), trial.number)
        self._first_with[names] = (keys, len(self._trials))
        return keys.get(self.space.key(values, names))

    def rng(self, number: int, stream: int = 0) -> np.random.Generator:
        """Randomness for trial ``number``: the same in every process and after resume."""
        return np.random.default_rng([self.seed, number, stream])

    def uniform(self, number: int, size: int, stream: int = 0) -> np.ndarray:
        """``size`` uniform draws in [0, 1) for trial ``number``, as reproducible as
        :meth:`rng` but about five times cheaper to set up (Python's Mersenne Twister
        seeded with the triple packed into one integer), for methods that need no more."""
        generator = random.Random(((self.seed % 2**64) << 80) | (stream << 64) | number)
        return np.array([generator.random() for _ in range(size)])

    def reached(self, step: int, bracket: int | None = None) -> Sequence[tuple[float, int]]:
        """(loss, number) of every trial of ``bracket`` with a check at ``step``, best
        first; loss is the objective turned so that lower is better."""
        return self._reached.get((bracket, step), [])

    def stopped(self, step: int, bracket: int | None = None) -> Sequence[tuple[float, int]]:
        """(loss, number) of the trials of ``bracket`` pruned at their check at ``step``,
        a rung's, whose configuration nobody promoted since (no trial claims ``promote:<number>``),
        best first: the candidates for a promotion from that rung."""
        return self._stopped.get((bracket, step), [])

    def valued(self) -> Sequence[int]:
        """Numbers of the finished trials (complete, pruned, failed) with a finite value,
        ascending, but those a retry replaced; kept sorted as trials change, so reading it
        costs no pass."""
        return self._valued

    def ranked(self) -> Sequence[tuple[float, int]]:
        """(loss, number) of the :meth:`valued` trials, best first, ties by number."""
        return self._ranked

    def valueless(self) -> Sequence[int]:
        """Numbers of the finished trials without a finite value (failed, or stopped after
        a NaN or infinite report), ascending; not those a retry replaced."""
        return self._valueless

    def complete_at(self, step: int) -> Sequence[float]:
        """Losses at ``step`` of the complete trials that have a check there, best first."""
        return self._complete_at.get(step, [])

    def loss(self, value: float) -> float:
        """``value`` turned so that lower is better, whatever the direction."""
        return self._sign * value

    def _supersede(self, number: int) -> None:
        """Take a lost or interrupted trial out of the rankings at its checks: its retry
        reports the same values again, and two entries of one configuration would push
        out another (or rank the retry below its own first attempt). It leaves
        :meth:`valueless` too: its retry's outcome stands for it (a model that took it
        as a failure put the worst loss where the retry found the best one)."""
        if number < len(self._trials) and number not in self._superseded:
            self._index_checks(self._trials[number], add=False)
            self._index_value(self._trials[number], add=False)
        self._superseded.add(number)

    def _index_checks(self, record: TrialRecord, add: bool) -> None:
        if record.number in self._superseded:
            return
        for step, value in record.checks.items():
            if value is None:  # not storable as JSON: never written since, kept readable
                continue
            entry = (self._sign * value, record.number)
            ranked = self._reached.setdefault((record.bracket, step), [])
            _sorted_change(ranked, entry, add)
            if record.state is TrialState.COMPLETE:
                _sorted_change(self._complete_at.setdefault(step, []), entry[0], add)

    def _index_stopped(self, record: TrialRecord, add: bool) -> None:
        """Keep ``record`` in (or take it out of) :meth:`stopped`, if it was pruned at a
        check, its last one, of a rung: one a pruner stopped (the study ran ``random``
        with ``pruner=`` before ``sha``) has neither rung nor bracket, and no rung may
        promote it."""
        if record.state is not TrialState.PRUNED or not record.checks:
            return
        if record.rung is None and record.bracket is None:
            return
        step = max(record.checks)
        value = record.checks[step]
        if value is None or (add and self.is_claimed(f"{PROMOTE}:{record.number}")):
            return
        _sorted_change(
            self._stopped.setdefault((record.bracket, step), []),
            (self._sign * value, record.number),
            add,
        )

    def _index_value(self, record: TrialRecord, add: bool) -> None:
        """Keep a finished ``record`` in (or take it out of) :meth:`valued` and
        :meth:`ranked`, or :meth:`valueless`; superseded trials are in none."""
        if record.state in self._unfinished or record.number in self._superseded:
            return
        if record.value is not None and math.isfinite(record.value):
            _sorted_change(self._valued, record.number, add)
            _sorted_change(self._ranked, (self._sign * record.value, record.number), add)
        else:
            _sorted_change(self._valueless, record.number, add)

    def update(self, record: TrialRecord) -> None:
        """Insert or replace a trial (called by the study loop only)."""
        if record.number < len(self._trials):
            old = self._trials[record.number]
            self._index_value(old, add=False)
            self._counts[old.state] -= 1
            if old.state in self._unfinished:
                self._unfinished[old.state].discard(old.number)
            if old.checks:
                self._index_checks(old, add=False)
                self._index_stopped(old, add=False)
            self.trained -= old.trained or 0
            self._trials[record.number] = record
        elif record.number == len(self._trials):
            self._trials.append(record)
            root = next(
                (self._line_root[e.parent] for e in record.parents if e.kind in _LINE_EDGES),
                record.number,
            )
            self._line_root.append(root)
            self._lines.setdefault(root, []).append(record.number)
            for edge in record.parents:
                if edge.kind == Origin.RETRIED.value:
                    self._replaced += 1
                    self._supersede(edge.parent)
        else:  # numbers are allocated densely under the write lock
            raise RuntimeError(f"trial {record.number} arrived before {len(self._trials)}")
        self._index_value(record, add=True)
        self._counts[record.state] += 1
        self.trained += record.trained or 0
        if record.state in self._unfinished:
            self._unfinished[record.state].add(record.number)
        if record.checks:
            self._index_checks(record, add=True)
            self._index_stopped(record, add=True)
        if record.state is TrialState.COMPLETE and self._beats_best(record):
            self.best = record
        if record.claim is not None and record.claim not in self._claims:
            self._claims[record.claim] = record.number
            prefix, _, rest = record.claim.partition(":")
            self._claim_counts[prefix] = self._claim_counts.get(prefix, 0) + 1
            if prefix == PROMOTE and rest.isdigit() and int(rest) < len(self._trials):
                self._index_stopped(self._trials[int(rest)], add=False)

    def _beats_best(self, record: TrialRecord) -> bool:
        """Whether complete ``record`` is the new best: a better value, or the same as
        the best's with a lower number (ties go to the earlier trial, in whatever order
        trials finish and are read, as a study loaded afresh has them)."""
        if record.value is None:
            return False
        best = self.best
        if best is not None and record.value == best.value:
            return record.number < best.number
        return is_better(record.value, None if best is None else best.value, self.direction)


def _sorted_change(items: list[Any], item: Any, add: bool) -> None:
    """Insert ``item`` into the sorted list, or remove one equal to it."""
    if add:
        bisect.insort(items, item)
        return
    index = bisect.bisect_left(items, item)
    if index < len(items) and items[index] == item:
        del items[index]


class _ReadOnlyList(Sequence[TrialRecord]):
    __slots__ = ("_items",)

    def __init__(self, items: list[TrialRecord]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]


class Method(ABC):
    """A search method. Subclasses are frozen dataclasses of their options, registered
    with :func:`register` under ``name``, the stable tag stored in the database and
    accepted by ``@tune(method=...)``; the study stores the options as JSON and rebuilds
    the method from them in every process.

    A subclass implements :meth:`ask`, a pure function of the history (no state kept on
    the method); the other methods are optional hooks with defaults. A ``pruner`` option
    (:func:`hpotrack.pruners.pruner_from`) makes the defaults of :meth:`next_check` and
    :meth:`on_report` stop trials. docs/methods.md, "Your own method", has an example.
    """

    name: ClassVar[str]
    retries_lost: ClassVar[bool] = True  # False: the method re-runs lost trials itself
    # Why the method cannot run an enqueued trial (None: it can; they run first).
    refuses_enqueued: ClassVar[str | None] = None
    # Why every trial must save a checkpoint (None: it need not): a complete trial that
    # saved none is a warning, once per study and process.
    needs_checkpoints: ClassVar[str | None] = None
    # Options added after studies were stored, with the value that does what the method
    # did before them: a stored study missing one resumes as it ran (see from_json).
    stored_defaults: ClassVar[dict[str, Any]] = {}

    def check(self, space: Space) -> None:  # noqa: B027 - optional hook
        """Raise :class:`MethodError` if this method cannot search ``space``."""

    def check_budget(self, budget: Budget | None) -> None:
        """Raise :class:`MethodError` if this method cannot work with ``budget`` (here:
        if its ``pruner=`` could check no trial of it)."""
        pruner = getattr(self, "pruner", None)
        if pruner is not None:
            pruner.check_budget(budget)

    def next_check(self, trial: TrialRecord, step: int, history: History) -> int | None:
        """The first step at or after ``step`` at which this method wants to decide
        whether ``trial`` goes on (its report there is a check); None: never again.
        Methods that prune (or take a ``pruner=``) override this and :meth:`on_report`."""
        pruner = getattr(self, "pruner", None)
        return None if pruner is None else pruner.next_check(trial, step, history)

    def resumable(self, history: History) -> Collection[int] | None:
        """Trials whose latest checkpoint a future proposal of this method may start
        from; None: any trial whose line has not gone on (see
        :func:`hpotrack.checkpoints.unneeded`). Lets old checkpoints be deleted."""
        return None

    def trials_to_complete(self, history: History) -> int | None:
        """About how many trials a study needs before one may train to its budget's max,
        for methods that stop trials at rungs first; None when any trial may."""
        return None

    def rung(self, trial: TrialRecord, step: int, history: History) -> int | None:
        """Which rung a check at ``step`` is (multi-fidelity methods); None elsewhere."""
        return None

    def on_report(self, trial: TrialRecord, step: int, history: History) -> bool:
        """Whether to prune ``trial`` now that it reported at its check ``step``
        (``trial.checks[step]`` holds the value, and ``history`` has it too)."""
        pruner = getattr(self, "pruner", None)
        return False if pruner is None else pruner.prune(trial, step, history)

    def deciding(self, history: History) -> Method:
        """The method that decides the study's next steps: itself (``auto``: the one it
        chooses from ``history``)."""
        return self

    def continues(self, before: Method | None, history: History) -> str | None:
        """Why this method cannot go on with the study's trials, run under ``before``
        (the stored method as it decides, None if unknown here), or None when it can.
        Here it always can: the trials so far are observations to it, and it stops no
        trial by rungs they ran at. Methods with rungs check that those are theirs."""
        return None

    def decides_once(self, trial: TrialRecord) -> bool:
        """Whether :meth:`on_report` at ``trial``'s checks answers the same whenever it is
        asked, so that asking again tells what was decided (a trial lost after its last
        check is then pruned there if that check stopped it). False here: the pruners,
        and ASHA's rungs, decide against the trials that reported so far, which later
        ones change; synchronous Hyperband runs rank each rung on its whole run."""
        return False

    @abstractmethod
    def ask(self, history: History) -> Proposal:
        """Propose trial ``history.next_number``; raise ``SearchExhausted`` when done."""

    def to_json(self) -> dict[str, Any]:
        options = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        for key, value in options.items():
            if hasattr(value, "to_json"):  # a pruner: stored by its stable tag
                options[key] = value.to_json()
            elif isinstance(value, tuple):  # as JSON gives it back
                options[key] = list(value)
        return {"name": self.name, "options": options}


def checked(method: Method, proposal: object, history: History) -> Proposal:
    """``proposal``, what ``method.ask(history)`` returned, with canonical values (those
    of :meth:`Space.validate`), or one :class:`MethodError` saying what is wrong with it:
    it is stored as trial ``history.next_number`` as it is, so a value outside the space,
    an edge to no trial or a claim another trial holds would corrupt the study."""
    number = history.next_number
    what = f"method {method.name!r} proposed trial {number}"
    if not isinstance(proposal, Proposal):
        raise MethodError(
            f"method {method.name!r}: ask() returned {proposal!r}, not a Proposal; return "
            "hp.methods.Proposal(params=...), or raise hp.errors.SearchExhausted when "
            "nothing is left to propose"
        )
    try:
        params = history.space.validate(proposal.params)
    except SpaceError as exc:
        raise MethodError(
            f"{what} with values outside the study's space ({exc}); propose values of "
            "history.space, e.g. history.space.decode(point) of a point in the unit cube"
        ) from None
    for edge in proposal.parents:
        if not isinstance(edge, Edge) or not 0 <= edge.parent < number:
            existing = f"0 to {number - 1}" if number else "none yet"
            raise MethodError(
                f"{what} with parent {edge!r}: parents must be hp.Edge(parent, kind) "
                f"of trials the study has ({existing})"
            )
    holder = None if proposal.claim is None else history.claimant(proposal.claim)
    if holder is not None:
        raise MethodError(
            f"{what} with claim {proposal.claim!r}, which trial {holder} holds: a claim "
            "is unique within a study, so check history.is_claimed(claim) before "
            "proposing it"
        )
    top = math.inf if history.budget is None else history.budget.max
    if proposal.budget is not None and not (
        isinstance(proposal.budget, numbers.Real)
        and not isinstance(proposal.budget, bool)
        and 0 < proposal.budget <= top
    ):
        rule = "0 < budget" if history.budget is None else f"0 < budget <= {top!r}"
        raise MethodError(
            f"`{rule}` must hold, but {what} with budget={proposal.budget!r}"
            + ("" if history.budget is None else " (the max of the study's budget)")
        )
    return dataclasses.replace(proposal, params=params)


_REGISTRY: dict[str, type[Method]] = {}


_M = TypeVar("_M", bound=type[Method])


def register(cls: _M) -> _M:
    """Class decorator: make a method available by its ``name``, with one clear error for
    a misspelt option (``TPE(gama=0.2)``: did you mean 'gamma'?). It returns the class
    itself, so that type checkers still see its options (``hp.methods.TPE(gamma=0.2)``).

    A study stores its method by name and options and rebuilds it from them, so a class
    without a name of its own, with another method's name, or that is not a frozen
    dataclass of its options is refused (:class:`MethodError`). Registering a class of
    the same name again (a notebook cell run twice) replaces it."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise MethodError(
            f"method class {cls.__name__} needs a name, the tag a study stores it by: "
            f"add name = {cls.__name__.lower()!r} to its class body"
        )
    params = getattr(cls, "__dataclass_params__", None)
    if not dataclasses.is_dataclass(cls) or not getattr(params, "frozen", False):
        raise MethodError(
            f"method class {cls.__name__} must be a frozen dataclass of its options (a "
            "study stores them and rebuilds the method from them): decorate it with "
            "@dataclasses.dataclass(frozen=True) under @hp.methods.register"
        )
    taken = _REGISTRY.get(name)
    if taken is not None and (_builtin(taken) or taken.__qualname__ != cls.__qualname__):
        owner = "a method of hpotrack" if _builtin(taken) else f"class {_path(taken)}"
        raise MethodError(
            f"method name {name!r} is taken by {owner}: give class {_path(cls)} a name of "
            "its own (name = '...')"
        )
    _REGISTRY[name] = friendly_init(MethodError)(cls)
    return cls


def _builtin(cls: type) -> bool:
    return cls.__module__.startswith("hpotrack.")


def _path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def known_methods() -> list[str]:
    """The names ``method=`` accepts, sorted."""
    return sorted(_REGISTRY)


def resolve(method: str | Method) -> Method:
    """A method instance from a name (with default options) or an instance. An instance
    must be of the class registered under its name: a study stores its method by name and
    rebuilds it from there, so an unregistered subclass would silently run as its parent."""
    if isinstance(method, Method):
        if _REGISTRY.get(method.name) is not type(method):
            raise MethodError(
                f"method class {type(method).__name__} is not registered under its name "
                f"{method.name!r}: a study stores its method by name, so give the class a "
                "name of its own (name = '...') and decorate it with @hp.methods.register"
            )
        _check_storable(method)
        return method
    if isinstance(method, str) and method in _REGISTRY:
        return _REGISTRY[method]()
    raise UnknownMethodError(f"unknown method {method!r}{_suggestion(method)} (known "
                             f"methods: {', '.join(known_methods())})")  # fmt: skip


def _check_storable(method: Method) -> None:
    """Refuse an option a study cannot store and give back as it was: the method is
    rebuilt from its stored options (in workers, on resume), and an object JSON does not
    hold would come back as its repr, a different method."""
    for key, value in method.to_json()["options"].items():
        if not _is_json(value):
            raise MethodError(
                f"option {key}={value!r} of method {method.name!r} cannot be stored: a "
                "study stores its method's options as JSON and rebuilds the method from "
                "them, so give finite numbers, strings, booleans, None, or lists and "
                "dicts (with string keys) of them, e.g. a name that selects the object"
            )


def _is_json(value: object) -> bool:
    """Whether ``value`` is plain JSON data (numpy numbers count as numbers)."""
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, numbers.Real):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


ALIASES = {  # names users of other libraries try, and what hpotrack calls them
    "bayesian": "bayes", "gp": "bayes", "asha": "sha", "halving": "sha", "genetic": "evolution",
    "cmaes": "evolution", "nsga2": "evolution", "nsgaii": "evolution",
    "successivehalving": "sha", "smac": "bayes",
    "tpesampler": "tpe", "randomsampler": "random", "gridsampler": "grid",
    "gpsampler": "bayes", "cmaessampler": "evolution", "nsgaiisampler": "evolution",
    "tpesuggest": "tpe", "atpesuggest": "tpe", "randsuggest": "random", "rand": "random",
    "annealsuggest": "evolution", "anneal": "evolution", "hyperopt": "tpe",
    "hyperoptsearch": "tpe", "optunasearch": "tpe", "bayesoptsearch": "bayes",
    "basicvariantgenerator": "random", "gridsearch": "grid", "ashascheduler": "sha",
    "hyperbandscheduler": "hyperband", "hyperbandforbohb": "bohb", "tunebohb": "bohb",
    "hpbandster": "bohb", "populationbasedtraining": "pbt", "pb2": "pbt",
}  # fmt: skip

OPTIONS = {  # names of what is an option of one of hpotrack's methods
    "qmc": "hp.methods.Random(qmc=True)", "sobol": "hp.methods.Random(qmc=True)",
    "qmcsampler": "hp.methods.Random(qmc=True)",
    "median": "hp.methods.TPE(pruner='median')",
    "medianstoppingrule": "hp.methods.TPE(pruner='median')",
}  # fmt: skip


def _suggestion(method: object) -> str:
    """What the user likely meant by an unknown ``method``: a registered class given
    instead of an instance, a name in another case or spelling, or another library's
    name for one of ours; empty when nothing is close."""
    if isinstance(method, type) and issubclass(method, Method):
        return f": pass an instance, method=hp.methods.{method.__name__}(), or its name"
    if not isinstance(method, str):
        return ""
    lowered = method.lower()
    bare = "".join(c for c in lowered if c.isalnum())  # Optuna's class names, snake case
    if bare in OPTIONS:
        return f"; did you mean method={OPTIONS[bare]}?"
    if lowered in _REGISTRY:
        return f"; did you mean {lowered!r}?"
    if bare in ALIASES:
        return f"; did you mean {ALIASES[bare]!r}?"
    close = difflib.get_close_matches(lowered, known_methods(), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def from_json(data: dict[str, Any]) -> Method:
    """Rebuild a stored method; options unknown to this version are an error, options
    newer than the study take their ``stored_defaults``."""
    cls = resolve(str(data.get("name"))).__class__
    try:
        return cls(**{**cls.stored_defaults, **data.get("options", {})})
    except (TypeError, MethodError) as exc:
        raise MethodError(f"stored options of method {cls.name!r} are invalid: {exc}") from None
