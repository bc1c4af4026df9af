"""A study's trials as this process last read them, kept equal to the database cheaply
(DESIGN principle 3): a read applies only the trials changed since the last one, and is
skipped when nothing was committed since; this process's own writes are applied directly
instead of read back.

:class:`hpotrack.study.Study` owns one and decides when it reads and what it applies:
inside each of its write transactions it reads others' changes first, applies its own
writes, and after the commit the cache is exactly the database.
"""

from __future__ import annotations

from collections.abc import Collection

from hpotrack.checkmap import with_checks
from hpotrack.errors import StudyDeleted
from hpotrack.methods.history import History
from hpotrack.records import TrialRecord
from hpotrack.store import Store, StudyRow


class TrialCache:
    """The history of study ``row`` in ``store`` (:attr:`history`, live: never replaced
    but by :meth:`forget`) and the row id of each of its trials (:attr:`ids`)."""

    def __init__(self, store: Store, row: StudyRow, history: History) -> None:
        self._store = store
        self._row = row
        self.history = history
        self.ids: list[int] = []  # by trial number
        self._seq = 0  # the latest change applied
        self._version: object = None  # Store.version() the cache is at (None: none)
        self.stop_requests = 0  # the study's, as of the last read (Store.request_stop)
        # whether a read has applied the stored trials: the first one loads the study's
        # past, which is no change another worker made since this process looked
        self.has_read = False

    def read_changes(self, snapshot: Store | None = None) -> int:
        """Apply the trials changed since the last read; returns how many there were.
        ``snapshot``: read them through that connection to the same file (one in a read
        transaction, whose state is no older than the last read's), not the store's."""
        store = self._store if snapshot is None else snapshot
        version = self._store.version()  # before the query: a commit in between re-reads
        if snapshot is None and version == self._version:
            return 0
        history = self.history
        known = len(history.trials)
        with store.reading():  # committed rows only: none another thread may roll back
            stop_requests = store.stop_requests(self._row.id)  # read with the trials: free
            if stop_requests is None:
                raise StudyDeleted.while_used(self._row.name, self._store.path)
            self.stop_requests = stop_requests
            changes = store.trials_since(self._row.id, self._seq, known)
        self._version = version if snapshot is None else None  # None: the next read looks
        self.has_read = True
        with history.batch():  # the first read applies every trial
            for trial_id, seq, record in changes:
                if record.number >= known:
                    self.apply(record, trial_id, seq)
                    continue
                cached = history.trials[record.number]  # the store read only what changed:
                new_checks = record.checks  # the checks written since, and no edges
                record = record.replace(
                    parents=cached.parents,
                    checks=with_checks(cached.checks, new_checks),
                )
                self.apply(record, trial_id, seq, checked=new_checks.keys())
        return len(changes)

    def apply(
        self,
        record: TrialRecord,
        trial_id: int,
        seq: int,
        checked: Collection[int] | None = None,
    ) -> None:
        """Put a trial into the cached history. A write of this process is applied
        directly (not read back) only right after a refresh inside the same write lock,
        when no change of anyone else can have a lower ``seq``. ``checked``: the steps
        whose checks changed, when the caller knows (see :meth:`History.update`)."""
        self.history.update(record, checked)
        if record.number == len(self.ids):
            self.ids.append(trial_id)
        self._seq = max(self._seq, seq)

    def committed(self) -> None:
        """After a commit of this process that applied every change it wrote (after
        reading others' inside the transaction): the cache is the database as of that
        commit, so the next read can be skipped unless someone else writes."""
        if self._version is not None:
            self._version = self._store.committed_version

    def stale(self) -> None:
        """Something was written and not applied: the next read must look."""
        self._version = None

    def forget(self) -> None:
        """Drop the cache (a write transaction failed): the next read starts from the
        first trial."""
        old = self.history
        self.history = History(old.space, old.direction, old.seed, old.budget, old.objectives)
        self.ids, self._seq, self._version = [], 0, None
        self.has_read = False
